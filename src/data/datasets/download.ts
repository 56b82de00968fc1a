/**
 * Resumable HTTPS downloads with a progress bar and MD5 verification, and archive unpacking (zip
 * with CRC-32 checks, tar with header checksums), both safe against paths that escape the target.
 *
 *  - The file is written to `<dest>.part`; an interrupted download (connection lost, Ctrl-C, a
 *    killed process) resumes from the bytes already there with an HTTP Range request. A server that
 *    ignores Range (200 instead of 206) restarts the file from zero.
 *  - Lost connections are retried (up to 5 attempts, each resuming).
 *  - Only https:// URLs, except plain http:// to the loopback interface (tests, local mirrors).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import * as zlib from 'node:zlib';
import * as tar from 'tar';
import yauzl from 'yauzl';
import type { RunContext } from '../../util/context.js';
import { dataError, runtimeError, SegError, usageError } from '../../util/errors.js';

export interface DownloadOptions {
  url: string;
  /** Final path of the downloaded file. */
  dest: string;
  /** Expected MD5 (hex); the file is rejected and removed when it differs. */
  md5?: string | undefined;
  /** Label of the progress bar. */
  label: string;
  /** Attempts before giving up (default 5). */
  attempts?: number;
}

export interface DownloadResult {
  bytes: number;
  md5: string;
  /** Bytes that were already there and not downloaded again. */
  resumedFrom: number;
  attempts: number;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

/** Reject URLs that are neither https nor http to the loopback interface. */
export function checkUrl(url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw usageError(`not a URL: ${url}`, { hint: 'give a full https:// URL' });
  }
  if (u.protocol === 'https:') return u;
  if (u.protocol === 'http:' && LOOPBACK.has(u.hostname)) return u;
  throw usageError(`refusing to download ${url}: only https:// URLs are allowed (plain http only to 127.0.0.1)`, { hint: 'use the https:// address of the mirror' });
}

/** MD5 of a file, hex. */
export async function md5File(file: string): Promise<string> {
  const h = createHash('md5');
  await pipeline(fs.createReadStream(file), h);
  return h.digest('hex');
}

interface Response {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: http.IncomingMessage;
}

function get(url: URL, headers: Record<string, string>, signal: AbortSignal): Promise<Response> {
  return new Promise((resolve, reject) => {
    const mod = url.protocol === 'https:' ? https : http;
    const req = mod.get(url, { headers: { 'user-agent': 'seg-dataset-download', ...headers }, signal }, (res) => {
      resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res });
    });
    req.on('error', reject);
    req.setTimeout(60_000, () => req.destroy(new Error('no response for 60 s')));
  });
}

/** Follow up to 5 redirects (each target must pass checkUrl too). */
async function request(url: URL, headers: Record<string, string>, signal: AbortSignal): Promise<{ res: Response; url: URL }> {
  let cur = url;
  for (let i = 0; i < 6; i++) {
    const res = await get(cur, headers, signal);
    if ([301, 302, 303, 307, 308].includes(res.status) && res.headers.location) {
      res.body.resume();
      cur = checkUrl(new URL(res.headers.location, cur).toString());
      continue;
    }
    return { res, url: cur };
  }
  throw runtimeError(`too many redirects from ${url.toString()}`);
}

const MB = 1e6;
const mb = (b: number): number => Math.round((b / MB) * 10) / 10;

/** Download `opts.url` to `opts.dest`, resuming `<dest>.part` (see the module comment). */
export async function downloadFile(opts: DownloadOptions, ctx: RunContext): Promise<DownloadResult> {
  const url = checkUrl(opts.url);
  const part = `${opts.dest}.part`;
  fs.mkdirSync(path.dirname(opts.dest), { recursive: true });
  const maxAttempts = opts.attempts ?? 5;
  let resumedFrom = -1;
  let total: number | undefined;
  let bar: ReturnType<RunContext['progress']> | undefined;
  let attempt = 0;
  let lastError: unknown;
  try {
    while (attempt < maxAttempts) {
      attempt++;
      if (ctx.signal.aborted) break;
      const have = fs.existsSync(part) ? fs.statSync(part).size : 0;
      if (resumedFrom < 0) resumedFrom = have;
      if (total !== undefined && have === total) break;
      let res: Response;
      try {
        ({ res } = await request(url, have > 0 ? { range: `bytes=${have}-` } : {}, ctx.signal));
      } catch (e) {
        if (ctx.signal.aborted) break;
        lastError = e;
        ctx.log.warn(`download of ${opts.label} failed (${(e as Error).message}); retrying (${attempt}/${maxAttempts})`);
        await new Promise((r) => setTimeout(r, 500 * attempt));
        continue;
      }
      let start: number;
      if (res.status === 206) {
        const m = /bytes (\d+)-(\d+)\/(\d+|\*)/.exec(res.headers['content-range'] ?? '');
        start = m ? Number(m[1]) : have;
        if (m && m[3] !== '*') total = Number(m[3]);
        if (start !== have) {
          res.body.resume();
          fs.rmSync(part, { force: true });
          continue;
        }
        if (have > 0) ctx.log.info(`resuming ${opts.label} at ${mb(have)} MB`);
      } else if (res.status === 200) {
        start = 0;
        const len = Number(res.headers['content-length']);
        total = Number.isFinite(len) && len > 0 ? len : undefined;
        if (have > 0) ctx.log.info(`the server does not resume downloads; restarting ${opts.label}`);
      } else if (res.status === 416) {
        res.body.resume();
        const m = /bytes \*\/(\d+)/.exec(res.headers['content-range'] ?? '');
        if (m && Number(m[1]) === have) {
          total = have;
          break;
        }
        fs.rmSync(part, { force: true });
        continue;
      } else {
        res.body.resume();
        throw runtimeError(`download of ${opts.url} failed: HTTP ${res.status}`, { hint: res.status === 404 ? 'the file moved: pass the new address with --url' : 'try again later, or download the archive by hand and pass --url of a mirror' });
      }
      if (!bar) bar = ctx.progress(`downloading ${opts.label} (MB)`, total !== undefined ? mb(total) : 0);
      let got = start;
      bar.update(mb(got));
      const counter = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          got += chunk.length;
          bar?.update(mb(got));
          cb(null, chunk);
        },
      });
      try {
        await pipeline(res.body, counter, fs.createWriteStream(part, { flags: start === 0 ? 'w' : 'a' }));
        if (total !== undefined && got < total) throw new Error(`connection closed after ${got} of ${total} bytes`);
        if (total === undefined) total = got;
        break;
      } catch (e) {
        if (ctx.signal.aborted) break;
        lastError = e;
        ctx.log.warn(`download of ${opts.label} interrupted at ${mb(got)} MB (${(e as Error).message}); resuming (${attempt}/${maxAttempts})`);
      }
    }
  } finally {
    bar?.stop();
  }
  if (ctx.signal.aborted) {
    throw new SegError('interrupted', `download of ${opts.label} interrupted; ${fs.existsSync(part) ? `${mb(fs.statSync(part).size)} MB kept in ${part}` : 'nothing kept'}`, {
      hint: 'run the same command again to resume',
    });
  }
  const size = fs.existsSync(part) ? fs.statSync(part).size : 0;
  if (total === undefined || size !== total) {
    throw runtimeError(`download of ${opts.url} did not complete after ${attempt} attempt(s) (${size}${total !== undefined ? ` of ${total}` : ''} bytes): ${lastError instanceof Error ? lastError.message : 'unknown error'}`, {
      hint: `run the command again to resume from ${part}`,
      cause: lastError,
    });
  }
  const md5 = await md5File(part);
  if (opts.md5 && md5 !== opts.md5.toLowerCase()) {
    fs.rmSync(part, { force: true });
    throw dataError(`checksum mismatch for ${opts.url}: MD5 ${md5}, expected ${opts.md5}; the download was removed`, {
      file: opts.dest,
      hint: 'run the command again; if it keeps failing the file on the server changed (pass --md5 to accept another)',
    });
  }
  fs.renameSync(part, opts.dest);
  return { bytes: size, md5, resumedFrom: Math.max(0, resumedFrom), attempts: attempt };
}

/** Whether an archive member path stays inside the target (no absolute paths, no `..`). */
function safeMember(name: string): string | undefined {
  const norm = path.posix.normalize(name.replace(/\\/g, '/'));
  if (norm.startsWith('/') || norm === '..' || norm.startsWith('../') || /^[a-zA-Z]:/.test(norm)) return undefined;
  return norm;
}

/** Unpack a zip into `dir`, verifying every member's CRC-32. */
export async function unzip(file: string, dir: string, ctx: RunContext): Promise<number> {
  let zip: yauzl.ZipFile;
  try {
    zip = await yauzl.openPromise(file, { lazyEntries: true, validateEntrySizes: true, strictFileNames: false });
  } catch (e) {
    throw dataError(`cannot open zip archive ${file}: ${(e as Error).message}`, { file, hint: 'the download is damaged: delete it and download again', cause: e });
  }
  const bar = ctx.progress('unpacking', zip.entryCount);
  let files = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      zip.on('error', reject);
      zip.on('end', () => resolve());
      zip.on('entry', (entry: yauzl.Entry) => {
        void (async () => {
          const rel = safeMember(entry.fileName);
          if (rel === undefined) throw dataError(`zip member ${entry.fileName} would be written outside ${dir}`, { file, hint: 'the archive is not trustworthy' });
          const out = path.join(dir, rel);
          if (entry.fileName.endsWith('/')) {
            fs.mkdirSync(out, { recursive: true });
          } else {
            fs.mkdirSync(path.dirname(out), { recursive: true });
            const stream = await zip.openReadStreamPromise(entry);
            let crc = 0;
            const check = new Transform({
              transform(chunk: Buffer, _e, cb) {
                crc = zlib.crc32(chunk, crc);
                cb(null, chunk);
              },
            });
            await pipeline(stream, check, fs.createWriteStream(out));
            if (crc >>> 0 !== entry.crc32 >>> 0) throw dataError(`zip member ${entry.fileName}: CRC-32 mismatch`, { file, hint: 'the download is damaged: delete it and download again' });
            files++;
          }
          bar.increment();
          if (ctx.signal.aborted) throw new SegError('interrupted', 'unpacking interrupted', { hint: 'run the command again' });
          zip.readEntry();
        })().catch(reject);
      });
      zip.readEntry();
    });
  } catch (e) {
    if (e instanceof SegError) throw e;
    throw dataError(`cannot unpack ${file}: ${(e as Error).message}`, { file, hint: 'the download is damaged: delete it and download again', cause: e });
  } finally {
    zip.close();
    bar.stop();
  }
  return files;
}

/** Unpack a tar (optionally gzipped) into `dir`; tar checks header checksums and strips unsafe paths. */
export async function untar(file: string, dir: string, ctx: RunContext): Promise<number> {
  let files = 0;
  const size = fs.statSync(file).size;
  const bar = ctx.progress('unpacking (MB)', mb(size));
  let read = 0;
  try {
    const problems: string[] = [];
    await pipeline(
      fs.createReadStream(file),
      new Transform({
        transform(chunk: Buffer, _e, cb) {
          read += chunk.length;
          bar.update(mb(read));
          cb(null, chunk);
        },
      }),
      tar.x({
        cwd: dir,
        strict: true,
        onReadEntry: () => {
          files++;
        },
        onwarn: (_code: string, message: string | Error) => problems.push(typeof message === 'string' ? message : message.message),
      }),
    );
    if (problems.length > 0) throw new Error(problems[0]);
  } catch (e) {
    throw dataError(`cannot unpack ${file}: ${(e as Error).message}`, { file, hint: 'the download is damaged: delete it and download again', cause: e });
  } finally {
    bar.stop();
  }
  return files;
}
