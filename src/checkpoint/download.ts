/**
 * Downloading and unpacking pretrained archives: HTTP(S) with redirects and a progress bar,
 * SHA-256 verification, and extraction of .tar.gz/.tgz/.tar and .zip archives with path checks.
 * Every file is written to a temporary name and renamed when complete.
 *
 * Errors: an unreachable host, an HTTP error or a download cut short is a runtime error (exit 1);
 * a checksum mismatch or an unreadable archive is a data error (exit 3).
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import * as tar from 'tar';
import yauzl from 'yauzl';
import type { ProgressFactory } from '../util/context.js';
import { dataError, runtimeError, SegError } from '../util/errors.js';

export interface DownloadOptions {
  /** Expected SHA-256 (hex) of the file; null/undefined: not checked. */
  sha256?: string | null;
  progress?: ProgressFactory;
  /** Label of the progress bar. */
  label?: string;
  signal?: AbortSignal;
  /** Give up when no byte arrives for this long (default 60 s). */
  idleTimeoutMs?: number;
}

export interface DownloadResult {
  bytes: number;
  sha256: string;
}

const MAX_REDIRECTS = 5;

function get(url: URL, signal: AbortSignal | undefined, idleTimeoutMs: number): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const lib = url.protocol === 'https:' ? https : http;
    const req = lib.get(url, { headers: { 'user-agent': 'seg (pretrained download)' }, ...(signal ? { signal } : {}) }, resolve);
    req.setTimeout(idleTimeoutMs, () => req.destroy(new Error(`no response for ${Math.round(idleTimeoutMs / 1000)} s`)));
    req.on('error', reject);
  });
}

function netError(url: string, e: unknown): SegError {
  if (e instanceof SegError) return e;
  const err = e as NodeJS.ErrnoException;
  if (err.name === 'AbortError') return new SegError('interrupted', `download of ${url} interrupted`);
  return runtimeError(`cannot download ${url}: ${err.code ?? err.message}`, {
    hint: 'check the network connection (or a proxy); the archive can also be fetched by hand and passed with --url file:///path/to/archive',
    cause: e,
  });
}

/**
 * Download `url` (http:, https: or file:) to `dest`, verifying the size announced by the server
 * and, when given, the SHA-256. `dest` only appears when the download is complete and verified.
 */
export async function downloadFile(url: string, dest: string, opts: DownloadOptions = {}): Promise<DownloadResult> {
  const part = `${dest}.part`;
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  const hash = createHash('sha256');
  let bytes = 0;
  try {
    let current = new URL(url);
    if (current.protocol === 'file:') {
      const src = fileURLToPath(current);
      const data = fs.readFileSync(src);
      hash.update(data);
      bytes = data.length;
      fs.writeFileSync(part, data);
    } else if (current.protocol === 'http:' || current.protocol === 'https:') {
      let res: http.IncomingMessage | undefined;
      for (let i = 0; ; i++) {
        res = await get(current, opts.signal, opts.idleTimeoutMs ?? 60_000);
        const status = res.statusCode ?? 0;
        if (status >= 300 && status < 400 && res.headers.location) {
          res.resume();
          if (i >= MAX_REDIRECTS) throw runtimeError(`cannot download ${url}: more than ${MAX_REDIRECTS} redirects`);
          current = new URL(res.headers.location, current);
          continue;
        }
        if (status !== 200) {
          res.resume();
          throw runtimeError(`cannot download ${url}: HTTP ${status} ${res.statusMessage ?? ''}`.trim(), { hint: status === 404 ? 'the file is not (or no longer) at this address; pass another with --url' : 'retry later' });
        }
        break;
      }
      const announced = Number(res.headers['content-length'] ?? NaN);
      const total = Number.isFinite(announced) ? announced : 0;
      const bar = opts.progress?.(opts.label ?? path.basename(dest), Math.max(1, Math.round(total / 1024)));
      const out = fs.createWriteStream(part);
      try {
        await new Promise<void>((resolve, reject) => {
          let lastKb = 0;
          res.on('data', (chunk: Buffer) => {
            hash.update(chunk);
            bytes += chunk.length;
            const kb = Math.floor(bytes / 1024);
            if (kb > lastKb) {
              bar?.increment(kb - lastKb, { MB: (bytes / 1048576).toFixed(1) });
              lastKb = kb;
            }
            if (!out.write(chunk)) {
              res.pause();
              out.once('drain', () => res.resume());
            }
          });
          res.on('aborted', () => reject(new Error('connection closed by the server')));
          res.on('error', reject);
          res.on('end', () => out.end());
          out.on('finish', resolve);
          out.on('error', reject);
        });
      } catch (e) {
        if (total > 0 && bytes < total) {
          throw runtimeError(`download of ${url} was cut off after ${bytes} of ${total} bytes`, { hint: 'retry; the partial file was discarded', cause: e });
        }
        throw e;
      } finally {
        bar?.stop();
        out.destroy();
      }
      if (total > 0 && bytes !== total) {
        throw runtimeError(`download of ${url} was cut off after ${bytes} of ${total} bytes`, { hint: 'retry; the partial file was discarded' });
      }
    } else {
      throw runtimeError(`cannot download ${url}: unsupported protocol ${current.protocol}`, { hint: 'use an https://, http:// or file:// address' });
    }
  } catch (e) {
    fs.rmSync(part, { force: true });
    throw netError(url, e);
  }
  const digest = hash.digest('hex');
  if (opts.sha256 && digest !== opts.sha256.toLowerCase()) {
    fs.rmSync(part, { force: true });
    throw dataError(`checksum mismatch for ${url}: SHA-256 ${digest}, expected ${opts.sha256.toLowerCase()}`, {
      hint: 'the download is corrupt or the file changed upstream; retry, or pass --sha256 with the checksum of the new file if you trust it',
    });
  }
  fs.renameSync(part, dest);
  return { bytes, sha256: digest };
}

/** A relative archive entry path that stays inside the extraction folder, or undefined. */
export function safeEntryPath(name: string): string | undefined {
  const n = name.replace(/\\/g, '/');
  if (n.startsWith('/') || /^[A-Za-z]:/.test(n)) return undefined;
  const norm = path.posix.normalize(n);
  if (norm === '..' || norm.startsWith('../') || norm.includes('/../')) return undefined;
  return norm;
}

async function unzip(file: string, dir: string): Promise<void> {
  const zip = await yauzl.openPromise(file, { lazyEntries: true, validateEntrySizes: true });
  try {
    await new Promise<void>((resolve, reject) => {
      zip.on('error', reject);
      zip.on('end', resolve);
      zip.on('entry', (entry: yauzl.Entry) => {
        const rel = safeEntryPath(entry.fileName);
        if (rel === undefined) {
          reject(dataError(`archive ${file} has an unsafe entry ${entry.fileName}`, { file, hint: 'the archive is corrupt or malicious; it was not extracted' }));
          return;
        }
        const target = path.join(dir, rel);
        if (entry.fileName.endsWith('/')) {
          fs.mkdirSync(target, { recursive: true });
          zip.readEntry();
          return;
        }
        fs.mkdirSync(path.dirname(target), { recursive: true });
        zip.openReadStream(entry, (err, stream) => {
          if (err || !stream) {
            reject(err ?? new Error('no stream'));
            return;
          }
          const out = fs.createWriteStream(target);
          stream.on('error', reject);
          out.on('error', reject);
          out.on('finish', () => zip.readEntry());
          stream.pipe(out);
        });
      });
      zip.readEntry();
    });
  } finally {
    zip.close();
  }
}

/** Extract a .zip, .tar.gz/.tgz or .tar archive into `dir` (which must exist). */
export async function extractArchive(file: string, dir: string): Promise<void> {
  const lower = file.toLowerCase();
  try {
    if (lower.endsWith('.zip')) {
      await unzip(file, dir);
    } else if (lower.endsWith('.tar.gz') || lower.endsWith('.tgz') || lower.endsWith('.tar')) {
      const unsafe: string[] = [];
      await tar.x({
        file,
        cwd: dir,
        strict: true,
        filter: (p: string) => {
          if (safeEntryPath(p) === undefined) unsafe.push(p);
          return safeEntryPath(p) !== undefined;
        },
      });
      if (unsafe.length > 0) throw dataError(`archive ${file} has unsafe entries (${unsafe.slice(0, 3).join(', ')})`, { file, hint: 'the archive is corrupt or malicious' });
    } else {
      throw dataError(`cannot unpack ${file}: unknown archive type`, { file, hint: 'seg unpacks .tar.gz, .tgz, .tar and .zip' });
    }
  } catch (e) {
    if (e instanceof SegError) throw e;
    throw dataError(`cannot unpack ${file}: ${(e as Error).message}`, { file, hint: 'the archive is corrupt or incomplete; download it again', cause: e });
  }
}
