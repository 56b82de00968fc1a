/**
 * Unpacking what download.ts fetched: `extractArchive(file, dir, opts)` reads zip (every member's
 * CRC-32 checked) and tar (header checksums), optionally gzipped (.tar.gz, .tgz); members that
 * would be written outside `dir` (absolute paths, `..`) are refused. A corrupt or unsafe archive is
 * a data error (exit 3), an abort (Ctrl-C) `interrupted` (130).
 *
 * A leaf module (node built-ins, tar and yauzl): src/data, which never imports tfjs, uses it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as zlib from 'node:zlib';
import * as tar from 'tar';
import yauzl from 'yauzl';
import type { RunContext } from './context.js';
import { makeDirs } from './atomic.js';
import { dataError, SegError } from './errors.js';
import { mb } from './download.js';

/** The archive formats `extractArchive` reads. `tar` includes gzipped tars (.tar.gz, .tgz). */
export type ArchiveFormat = 'zip' | 'tar';

export interface ExtractOptions extends Partial<Pick<RunContext, 'progress' | 'signal'>> {
  /** Default: from the file name (.zip, .tar, .tar.gz, .tgz), else from the file's first bytes. */
  format?: ArchiveFormat | undefined;
}

/**
 * A member path of an archive made relative and normalised, or undefined when it would be written
 * outside the extraction folder (absolute, a drive letter, or `..` above the top).
 */
export function safeEntryPath(name: string): string | undefined {
  const n = name.replace(/\\/g, '/');
  if (n.startsWith('/') || /^[A-Za-z]:/.test(n)) return undefined;
  const norm = path.posix.normalize(n);
  if (norm === '..' || norm.startsWith('../')) return undefined;
  return norm;
}

const DAMAGED = 'the archive is damaged: delete it and download it again';
const unsafeMember = (file: string, name: string, dir: string): SegError =>
  dataError(`archive ${file}: member ${name} would be written outside ${dir}`, { file, hint: 'the archive is corrupt or not trustworthy' });
const interrupted = (): SegError => new SegError('interrupted', 'unpacking interrupted', { hint: 'run the command again' });

function detectFormat(file: string): ArchiveFormat | undefined {
  const lower = file.toLowerCase();
  if (lower.endsWith('.zip')) return 'zip';
  if (lower.endsWith('.tar') || lower.endsWith('.tar.gz') || lower.endsWith('.tgz')) return 'tar';
  const head = Buffer.alloc(512);
  const fd = fs.openSync(file, 'r');
  let n: number;
  try {
    n = fs.readSync(fd, head, 0, head.length, 0);
  } finally {
    fs.closeSync(fd);
  }
  const magic = n >= 4 ? head.readUInt32LE(0) : 0;
  if (magic === 0x04034b50 || magic === 0x06054b50) return 'zip';
  if (head[0] === 0x1f && head[1] === 0x8b) return 'tar';
  if (n >= 262 && head.toString('latin1', 257, 262) === 'ustar') return 'tar';
  return undefined;
}

/** Unpack a zip into `dir`, verifying every member's CRC-32; returns the number of files. */
async function unzip(file: string, dir: string, opts: ExtractOptions): Promise<number> {
  let zip: yauzl.ZipFile;
  try {
    zip = await yauzl.openPromise(file, { lazyEntries: true, validateEntrySizes: true, strictFileNames: false });
  } catch (e) {
    throw dataError(`cannot open zip archive ${file}: ${(e as Error).message}`, { file, hint: DAMAGED, cause: e });
  }
  const bar = opts.progress?.('unpacking', zip.entryCount);
  let files = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      zip.on('error', reject);
      zip.on('end', () => resolve());
      zip.on('entry', (entry: yauzl.Entry) => {
        void (async () => {
          const rel = safeEntryPath(entry.fileName);
          if (rel === undefined) throw unsafeMember(file, entry.fileName, dir);
          const out = path.join(dir, rel);
          if (entry.fileName.endsWith('/')) {
            makeDirs(out);
          } else {
            makeDirs(path.dirname(out));
            const stream = await zip.openReadStreamPromise(entry);
            let crc = 0;
            const check = new Transform({
              transform(chunk: Buffer, _e, cb) {
                crc = zlib.crc32(chunk, crc);
                cb(null, chunk);
              },
            });
            await pipeline(stream, check, fs.createWriteStream(out));
            if (crc >>> 0 !== entry.crc32 >>> 0) throw dataError(`zip member ${entry.fileName}: CRC-32 mismatch`, { file, hint: DAMAGED });
            files++;
          }
          bar?.increment();
          if (opts.signal?.aborted) throw interrupted();
          zip.readEntry();
        })().catch(reject);
      });
      zip.readEntry();
    });
  } finally {
    zip.close();
    bar?.stop();
  }
  return files;
}

/** Unpack a tar (gzipped or not) into `dir`; tar checks header checksums. Returns the number of files. */
async function untar(file: string, dir: string, opts: ExtractOptions): Promise<number> {
  let files = 0;
  const bar = opts.progress?.('unpacking (MB)', mb(fs.statSync(file).size));
  let read = 0;
  const unsafe: string[] = [];
  const problems: string[] = [];
  try {
    await pipeline(
      fs.createReadStream(file),
      new Transform({
        transform(chunk: Buffer, _e, cb) {
          if (opts.signal?.aborted) {
            cb(interrupted());
            return;
          }
          read += chunk.length;
          bar?.update(mb(read));
          cb(null, chunk);
        },
      }),
      tar.x({
        cwd: dir,
        strict: true,
        filter: (p: string) => {
          const ok = safeEntryPath(p) !== undefined;
          if (!ok) unsafe.push(p);
          return ok;
        },
        onReadEntry: (entry) => {
          if (entry.type !== 'Directory') files++;
        },
        onwarn: (_code: string, message: string | Error) => problems.push(typeof message === 'string' ? message : message.message),
      }),
    );
  } finally {
    bar?.stop();
  }
  if (unsafe[0] !== undefined) throw unsafeMember(file, `${unsafe[0]}${unsafe.length > 1 ? ` (and ${unsafe.length - 1} more)` : ''}`, dir);
  if (problems[0] !== undefined) throw new Error(problems[0]);
  return files;
}

/**
 * Unpack a zip, tar, tar.gz or tgz archive into `dir` (created when missing), with a progress bar
 * (`opts.progress`) and abortable (`opts.signal`). Returns the number of files written.
 */
export async function extractArchive(file: string, dir: string, opts: ExtractOptions = {}): Promise<number> {
  try {
    const format = opts.format ?? detectFormat(file);
    if (format === undefined) throw dataError(`cannot unpack ${file}: unknown archive type`, { file, hint: 'seg unpacks .zip, .tar, .tar.gz and .tgz archives' });
    makeDirs(dir);
    return format === 'zip' ? await unzip(file, dir, opts) : await untar(file, dir, opts);
  } catch (e) {
    if (e instanceof SegError) throw e;
    throw dataError(`cannot unpack ${file}: ${(e as Error).message}`, { file, hint: DAMAGED, cause: e });
  }
}
