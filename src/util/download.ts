/**
 * Downloads, for datasets (`seg dataset download`) and pretrained weights (`seg pretrained
 * download`); archive.ts unpacks what they fetch.
 *
 * `downloadFile(url, dest, opts)`:
 *  - http://, https:// and file:// URLs; with `httpsOnly`, only https:// (plain http:// only to the
 *    loopback interface: tests, local mirrors), checked for the URL and every redirect target.
 *  - Up to 5 redirects, which keep the request's Range header.
 *  - The file is written to `<dest>.part` and renamed to `dest` once complete and verified. A
 *    `.part` left by an interrupted download (connection lost, Ctrl-C, a killed process) is resumed
 *    with an HTTP Range request; a server that ignores Range (200 instead of 206) restarts the file
 *    from zero. Lost connections are retried (`attempts`, default 5), each resuming.
 *  - No byte for `idleTimeoutMs` (default 60 s) counts as a lost connection.
 *  - The MD5 and SHA-256 of the file are returned, and checked when expected values are given.
 *
 * Errors: an unreachable host, an HTTP error or a download cut short is a runtime error (exit 1); a
 * checksum mismatch is a data error (exit 3); an abort (Ctrl-C) is `interrupted` (130); a URL that
 * is refused before any request is a usage error (2).
 *
 * A leaf module (node built-ins, tar and yauzl): src/data, which never imports tfjs, uses it.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as path from 'node:path';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import type { ProgressBar, RunContext } from './context.js';
import { makeDirs } from './atomic.js';
import { dataError, runtimeError, SegError, usageError } from './errors.js';

export interface DownloadOptions extends Partial<RunContext> {
  /** Expected MD5 (hex); the file is rejected and removed when it differs. */
  md5?: string | null | undefined;
  /** Expected SHA-256 (hex); the file is rejected and removed when it differs. */
  sha256?: string | null | undefined;
  /** Name of the download in messages and on the progress bar (default: the file name of `dest`). */
  label?: string | undefined;
  /** Only https:// URLs (plain http:// only to the loopback interface), redirects included. */
  httpsOnly?: boolean | undefined;
  /** Attempts before giving up (default 5); each one resumes what the previous ones received. */
  attempts?: number | undefined;
  /** Give up an attempt when no byte arrives for this long (default 60 s). */
  idleTimeoutMs?: number | undefined;
  /**
   * Keep `<dest>.part` when the download fails or is interrupted, so that the next call resumes it
   * (default true); false removes it.
   */
  keepPartial?: boolean | undefined;
}

export interface DownloadResult {
  bytes: number;
  /** MD5 of the file, hex. */
  md5: string;
  /** SHA-256 of the file, hex. */
  sha256: string;
  /** Bytes that were already there (a `.part` of an earlier call) and not downloaded again. */
  resumedFrom: number;
  attempts: number;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);
const MAX_REDIRECTS = 5;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * Parse `url` and check that it may be downloaded: http:, https: or file:, or with `httpsOnly`
 * https: only (plain http: only to the loopback interface). Throws a usage error for a refused URL.
 */
function checkUrl(url: string, httpsOnly: boolean): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw usageError(`not a URL: ${url}`, { hint: 'give a full https:// URL' });
  }
  if (u.protocol === 'https:') return u;
  if (httpsOnly) {
    if (u.protocol === 'http:' && LOOPBACK.has(u.hostname)) return u;
    throw usageError(`refusing to download ${url}: only https:// URLs are allowed (plain http only to 127.0.0.1)`, { hint: 'use the https:// address of the mirror' });
  }
  if (u.protocol === 'http:' || u.protocol === 'file:') return u;
  throw runtimeError(`cannot download ${url}: unsupported protocol ${u.protocol}`, { hint: 'use an https://, http:// or file:// address' });
}

/** MD5 and SHA-256 of a file, hex, in one read. */
export async function fileDigests(file: string): Promise<{ md5: string; sha256: string }> {
  const md5 = createHash('md5');
  const sha256 = createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) {
    md5.update(chunk as Buffer);
    sha256.update(chunk as Buffer);
  }
  return { md5: md5.digest('hex'), sha256: sha256.digest('hex') };
}

const MB = 1e6;
/** Bytes as megabytes, one decimal (progress bars). */
export const mb = (b: number): number => Math.round((b / MB) * 10) / 10;
const sizeOf = (file: string): number => (fs.existsSync(file) ? fs.statSync(file).size : 0);
const errorText = (e: unknown): string => (e instanceof Error ? e.message : e === undefined ? 'unknown error' : String(e));

function get(url: URL, headers: Record<string, string>, signal: AbortSignal | undefined, idleTimeoutMs: number): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const lib = url.protocol === 'https:' ? https : http;
    let response: http.IncomingMessage | undefined;
    const req = lib.get(url, { headers: { 'user-agent': 'seg', ...headers }, ...(signal ? { signal } : {}) }, (res) => {
      response = res;
      resolve(res);
    });
    req.on('error', reject);
    // The socket's idle timeout, while waiting for the response and while reading its body.
    req.setTimeout(idleTimeoutMs, () => {
      const err = new Error(`no data for ${idleTimeoutMs / 1000} s`);
      response?.destroy(err);
      req.destroy(err);
    });
  });
}

/** GET `url`, following up to MAX_REDIRECTS redirects (each target checked like the URL). */
async function request(url: URL, headers: Record<string, string>, opts: DownloadOptions): Promise<http.IncomingMessage> {
  let cur = url;
  for (let i = 0; ; i++) {
    const res = await get(cur, headers, opts.signal, opts.idleTimeoutMs ?? 60_000);
    const location = res.headers.location;
    if (!REDIRECTS.has(res.statusCode ?? 0) || !location) return res;
    res.resume();
    if (i >= MAX_REDIRECTS) throw runtimeError(`cannot download ${url.href}: more than ${MAX_REDIRECTS} redirects`);
    const next = checkUrl(new URL(location, cur).href, opts.httpsOnly ?? false);
    if (next.protocol === 'file:') throw runtimeError(`cannot download ${url.href}: the server redirects to a local file (${next.href})`);
    cur = next;
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
  });
}

/**
 * Write a response body to `file`. When the body fails (connection lost, timeout, abort), every
 * byte received before is still written, so that the next attempt resumes after it.
 */
async function saveBody(body: http.IncomingMessage, file: string, flags: 'w' | 'a', onChunk: (bytes: number) => void): Promise<void> {
  const out = fs.createWriteStream(file, { flags });
  let bodyError: unknown;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      if (out.errored) throw out.errored;
      onChunk(chunk.length);
      if (!out.write(chunk)) await once(out, 'drain');
    }
  } catch (e) {
    bodyError = e;
  }
  out.end();
  await finished(out);
  if (bodyError !== undefined) throw bodyError;
}

/** Download an http(s) URL into `part`, resuming and retrying (see the module comment). */
async function fetchHttp(url: URL, part: string, label: string, opts: DownloadOptions): Promise<{ resumedFrom: number; attempts: number }> {
  const maxAttempts = opts.attempts ?? 5;
  const log = opts.log;
  const aborted = (): boolean => opts.signal?.aborted === true;
  let resumedFrom = -1;
  let total: number | undefined;
  let bar: ProgressBar | undefined;
  let attempt = 0;
  let lastError: unknown;
  try {
    while (attempt < maxAttempts) {
      attempt++;
      if (aborted()) break;
      const have = sizeOf(part);
      if (resumedFrom < 0) resumedFrom = have;
      if (total !== undefined && have === total) break;
      let res: http.IncomingMessage;
      try {
        res = await request(url, have > 0 ? { range: `bytes=${have}-` } : {}, opts);
      } catch (e) {
        if (aborted()) break;
        if (e instanceof SegError) throw e;
        lastError = e;
        log?.warn(`download of ${label} failed (${errorText(e)}); retrying (${attempt}/${maxAttempts})`);
        if (attempt < maxAttempts) await sleep(500 * attempt, opts.signal);
        continue;
      }
      const status = res.statusCode ?? 0;
      let start: number;
      if (status === 206) {
        const m = /bytes (\d+)-(\d+)\/(\d+|\*)/.exec(res.headers['content-range'] ?? '');
        start = m ? Number(m[1]) : have;
        if (m && m[3] !== '*') total = Number(m[3]);
        if (start !== have) {
          res.resume();
          fs.rmSync(part, { force: true });
          continue;
        }
        if (have > 0) log?.info(`resuming ${label} at ${mb(have)} MB`);
      } else if (status === 200) {
        start = 0;
        const len = Number(res.headers['content-length']);
        total = Number.isFinite(len) && len > 0 ? len : undefined;
        if (have > 0) log?.info(`the server does not resume downloads; restarting ${label}`);
      } else if (status === 416) {
        res.resume();
        const m = /bytes \*\/(\d+)/.exec(res.headers['content-range'] ?? '');
        if (m && Number(m[1]) === have) {
          total = have;
          break;
        }
        fs.rmSync(part, { force: true });
        continue;
      } else {
        res.resume();
        throw runtimeError(`cannot download ${url.href}: HTTP ${status} ${res.statusMessage ?? ''}`.trim(), {
          hint: status === 404 ? 'the file is not (or no longer) at this address; pass another with --url' : 'try again later, or pass --url of a mirror',
        });
      }
      bar ??= opts.progress?.(`downloading ${label} (MB)`, total !== undefined ? mb(total) : 0);
      let got = start;
      bar?.update(mb(got));
      const onChunk = (n: number): void => {
        got += n;
        bar?.update(mb(got));
      };
      try {
        await saveBody(res, part, start === 0 ? 'w' : 'a', onChunk);
        if (total !== undefined && got < total) throw new Error(`connection closed after ${got} of ${total} bytes`);
        if (total === undefined) total = got;
        break;
      } catch (e) {
        if (aborted()) break;
        lastError = e;
        log?.warn(`download of ${label} interrupted at ${mb(got)} MB (${errorText(e)}); resuming (${attempt}/${maxAttempts})`);
      }
    }
  } finally {
    bar?.stop();
  }
  const keep = opts.keepPartial ?? true;
  const size = sizeOf(part);
  if (aborted()) {
    throw new SegError('interrupted', `download of ${label} interrupted; ${keep && size > 0 ? `${mb(size)} MB kept in ${part}` : 'nothing kept'}`, {
      hint: keep && size > 0 ? 'run the same command again to resume' : 'run the same command again',
    });
  }
  if (total === undefined || size !== total) {
    const elsewhere = opts.httpsOnly ? 'pass --url of a mirror' : 'fetch the file by hand and pass --url file:///path/to/it';
    const hint = keep && size > 0 ? `run the command again to resume from ${part}` : `check the network connection (or a proxy) and try again, or ${elsewhere}`;
    if (total === undefined && size === 0) {
      throw runtimeError(`cannot download ${url.href}: ${errorText(lastError)} (${attempt} attempt(s))`, { hint, cause: lastError });
    }
    throw runtimeError(`download of ${url.href} was cut off after ${size}${total !== undefined ? ` of ${total}` : ''} bytes (${attempt} attempt(s); ${errorText(lastError)})`, { hint, cause: lastError });
  }
  return { resumedFrom: Math.max(0, resumedFrom), attempts: attempt };
}

/** "Download" a file:// URL: copy the file to `part`. */
async function copyLocal(url: URL, part: string, label: string, signal: AbortSignal | undefined): Promise<{ resumedFrom: number; attempts: number }> {
  if (signal?.aborted) throw new SegError('interrupted', `download of ${label} interrupted; nothing kept`, { hint: 'run the same command again' });
  try {
    await fs.promises.copyFile(fileURLToPath(url), part);
  } catch (e) {
    throw runtimeError(`cannot download ${url.href}: ${(e as NodeJS.ErrnoException).code ?? errorText(e)}`, { hint: 'check the path of the file:// address', cause: e });
  }
  return { resumedFrom: 0, attempts: 1 };
}

/**
 * Download `url` to `dest` (see the module comment): `dest` only appears when the download is
 * complete and its checksums (when given) match.
 */
export async function downloadFile(url: string, dest: string, opts: DownloadOptions = {}): Promise<DownloadResult> {
  const src = checkUrl(url, opts.httpsOnly ?? false);
  const label = opts.label ?? path.basename(dest);
  const part = `${dest}.part`;
  makeDirs(path.dirname(dest));
  let got: { resumedFrom: number; attempts: number };
  try {
    got = src.protocol === 'file:' ? await copyLocal(src, part, label, opts.signal) : await fetchHttp(src, part, label, opts);
  } catch (e) {
    if (!(opts.keepPartial ?? true)) fs.rmSync(part, { force: true });
    throw e;
  }
  const bytes = fs.statSync(part).size;
  const digests = await fileDigests(part);
  const checks: Array<[string, string, string | null | undefined, string]> = [
    ['MD5', digests.md5, opts.md5, '--md5'],
    ['SHA-256', digests.sha256, opts.sha256, '--sha256'],
  ];
  for (const [algo, actual, expected, flag] of checks) {
    if (expected && actual !== expected.toLowerCase()) {
      fs.rmSync(part, { force: true });
      throw dataError(`checksum mismatch for ${url}: ${algo} ${actual}, expected ${expected.toLowerCase()}; the download was removed`, {
        file: dest,
        hint: `run the command again; if it keeps failing the file on the server changed (pass ${flag} with the checksum of the new file if you trust it)`,
      });
    }
  }
  fs.renameSync(part, dest);
  return { bytes, ...digests, ...got };
}

/**
 * A file name for what `url` downloads, safe to join to a folder: the last segment of the URL's
 * path, percent-decoded, reduced to its own base name and to the characters [A-Za-z0-9._-]
 * (`fallback` when nothing is left, or only dots).
 */
export function urlFileName(url: string, fallback: string): string {
  let last = path.posix.basename(new URL(url).pathname);
  try {
    last = decodeURIComponent(last);
  } catch {
    // Not valid percent-encoding: keep the raw segment, the character filter below applies.
  }
  const base = last.replace(/\\/g, '/').split('/').pop() ?? '';
  const clean = base.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 200);
  return /^\.*$/.test(clean) ? fallback : clean;
}
