/**
 * Atomic writes: every file and folder seg produces appears complete or not at all.
 *
 * Files (`writeFileAtomic`, `writeFileAtomicSync`): write a temporary sibling, then rename it over
 * the target.
 *
 * Directories (`replaceDirAtomic`, `replaceDirAtomicAsync`):
 *   1. write everything into a sibling `<name>.seg-tmp-<pid>-<random>/` (files fsynced by `fill`);
 *   2. if `<name>/` exists, rename it to `<name>.seg-old/`;
 *   3. rename the temporary directory to `<name>/`;
 *   4. remove `<name>.seg-old/`.
 * A process killed at any point leaves either the previous `<name>/`, or (killed between 2 and 3)
 * the previous content intact under `<name>.seg-old/`, which `resolveDir` finds, or the new
 * `<name>/`. Leftover temporary directories are removed by the next save.
 *
 * Only node built-ins (and util/errors): `src/data` (which runs in worker threads) uses this module too.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { withPath } from './errors.js';

let counter = 0;

/** Whether path `child` is `parent` or lies below it (both resolved). */
export function isInside(child: string, parent: string): boolean {
  const rel = path.relative(path.resolve(parent), path.resolve(child));
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/**
 * `mkdir -p`. Node's recursive mkdir reports ENOENT where the real cause is a read-only or
 * unwritable parent; on ENOENT this creates the missing levels one by one to throw the real error.
 */
export function makeDirs(dir: string): void {
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    const parent = path.dirname(dir);
    if (parent !== dir) makeDirs(parent);
    if (!fs.existsSync(dir)) fs.mkdirSync(dir);
  }
}

/** A temporary path next to `file` (same directory, so that rename is atomic). */
export function tempSibling(file: string): string {
  counter = (counter + 1) % 1_000_000;
  return path.join(path.dirname(file), `.${path.basename(file)}.tmp-${process.pid}-${Date.now().toString(36)}-${counter}`);
}

/** Write `data` to `file` atomically (the directory must exist, or `mkdir` creates it). */
export async function writeFileAtomic(file: string, data: string | Uint8Array, opts: { mkdir?: boolean } = {}): Promise<void> {
  if (opts.mkdir) makeDirs(path.dirname(file));
  const tmp = tempSibling(file);
  try {
    await fs.promises.writeFile(tmp, data);
    await fs.promises.rename(tmp, file);
  } catch (e) {
    await fs.promises.rm(tmp, { force: true });
    throw atTarget(e, tmp, file);
  }
}

/** Synchronous variant of writeFileAtomic. */
export function writeFileAtomicSync(file: string, data: string | Uint8Array, opts: { mkdir?: boolean } = {}): void {
  if (opts.mkdir) makeDirs(path.dirname(file));
  const tmp = tempSibling(file);
  try {
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw atTarget(e, tmp, file);
  }
}

/** Suffix of the previous content while it is being replaced. */
export const OLD_SUFFIX = '.seg-old';
const TMP_MARK = '.seg-tmp-';

/** Stages of a save, reported to `onStage` (used by tests that kill a saving process at each one). */
export type SaveStage = 'temp-created' | 'file-written' | 'files-written' | 'old-moved-aside' | 'renamed' | 'done';

function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // Some file systems do not support fsync on directories; the renames are still atomic.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

interface Replacement {
  target: string;
  parent: string;
  old: string;
  tmp: string;
}

/** Steps before `fill`: clear leftovers of killed saves and create the temporary directory. */
function beginReplace(dir: string, isComplete: (d: string) => boolean): Replacement {
  const target = path.resolve(dir);
  const parent = path.dirname(target);
  const base = path.basename(target);
  makeDirs(parent);
  for (const entry of fs.readdirSync(parent)) {
    if (entry.startsWith(base + TMP_MARK)) fs.rmSync(path.join(parent, entry), { recursive: true, force: true });
  }
  const old = target + OLD_SUFFIX;
  if (fs.existsSync(old) && fs.existsSync(target) && isComplete(target)) fs.rmSync(old, { recursive: true, force: true });
  const tmp = path.join(parent, `${base}${TMP_MARK}${process.pid}-${randomBytes(4).toString('hex')}`);
  fs.mkdirSync(tmp);
  return { target, parent, old, tmp };
}

/** Steps after `fill` (2 and 3 of the module comment): move the previous version aside, rename in. */
function publish(r: Replacement, isComplete: (d: string) => boolean, onStage: ((stage: SaveStage) => void) | undefined): void {
  fsyncDir(r.tmp);
  onStage?.('files-written');
  if (fs.existsSync(r.target)) {
    // A crash earlier may have left `old` holding the only complete version while `target` is
    // partial; never throw the complete one away.
    if (fs.existsSync(r.old)) {
      if (isComplete(r.target)) fs.rmSync(r.old, { recursive: true, force: true });
      else fs.rmSync(r.target, { recursive: true, force: true });
    }
    if (fs.existsSync(r.target)) fs.renameSync(r.target, r.old);
    fsyncDir(r.parent);
    onStage?.('old-moved-aside');
  }
  fs.renameSync(r.tmp, r.target);
  fsyncDir(r.parent);
  onStage?.('renamed');
}

/** A failure on a temporary path (or on a descriptor, without a path) reported at the path the user asked for. */
function atTarget(e: unknown, tmp: string, target: string): unknown {
  const err = withPath(e, tmp) as NodeJS.ErrnoException;
  if (typeof err?.path === 'string' && err.path.startsWith(tmp)) err.path = target + err.path.slice(tmp.length);
  return e;
}

/** Step 4: the previous version is no longer needed. */
function finish(r: Replacement, onStage: ((stage: SaveStage) => void) | undefined): void {
  fs.rmSync(r.old, { recursive: true, force: true });
  onStage?.('done');
}

/**
 * Replace directory `dir` by what `fill(tmpDir)` writes. `fill` must write complete, fsynced files.
 * `isComplete(d)` tells whether a directory holds a complete previous version (used to decide
 * which of `dir` and `dir.seg-old` to keep after an earlier crash).
 */
export function replaceDirAtomic(dir: string, fill: (tmp: string) => void, isComplete: (d: string) => boolean, onStage?: (stage: SaveStage) => void): void {
  const r = beginReplace(dir, isComplete);
  try {
    onStage?.('temp-created');
    fill(r.tmp);
    publish(r, isComplete, onStage);
  } catch (e) {
    fs.rmSync(r.tmp, { recursive: true, force: true });
    throw atTarget(e, r.tmp, r.target);
  }
  finish(r, onStage);
}

/**
 * `replaceDirAtomic` for a `fill` that is asynchronous (downloads, for instance); resolves to what
 * `fill` resolves to, once the new directory is in place.
 */
export async function replaceDirAtomicAsync<T>(dir: string, fill: (tmp: string) => Promise<T>, isComplete: (d: string) => boolean, onStage?: (stage: SaveStage) => void): Promise<T> {
  const r = beginReplace(dir, isComplete);
  let result: T;
  try {
    onStage?.('temp-created');
    result = await fill(r.tmp);
    publish(r, isComplete, onStage);
  } catch (e) {
    fs.rmSync(r.tmp, { recursive: true, force: true });
    throw atTarget(e, r.tmp, r.target);
  }
  finish(r, onStage);
  return result;
}

/**
 * The directory to read `dir` from: `dir` itself when it is complete, else its `.seg-old`
 * sibling when a save was killed between moving the previous version aside and renaming the new
 * one in, else undefined.
 */
export function resolveDir(dir: string, isComplete: (d: string) => boolean): string | undefined {
  const target = path.resolve(dir);
  if (fs.existsSync(target) && isComplete(target)) return target;
  const old = target + OLD_SUFFIX;
  if (fs.existsSync(old) && isComplete(old)) return old;
  return undefined;
}
