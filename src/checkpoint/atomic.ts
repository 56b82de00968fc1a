/**
 * Atomic replacement of a directory.
 *
 *   1. write everything into a sibling `<name>.seg-tmp-<pid>-<random>/` (files fsynced);
 *   2. if `<name>/` exists, rename it to `<name>.seg-old/`;
 *   3. rename the temporary directory to `<name>/`;
 *   4. remove `<name>.seg-old/`.
 * A process killed at any point leaves either the previous `<name>/`, or (killed between 2 and 3)
 * the previous content intact under `<name>.seg-old/`, which `resolveDir` finds, or the new
 * `<name>/`. Leftover temporary directories are removed by the next save.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';

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

/**
 * Replace directory `dir` by what `fill(tmpDir)` writes. `fill` must write complete, fsynced files.
 * `isComplete(d)` tells whether a directory holds a complete previous version (used to decide
 * which of `dir` and `dir.seg-old` to keep after an earlier crash).
 */
export function replaceDirAtomic(dir: string, fill: (tmp: string) => void, isComplete: (d: string) => boolean, onStage?: (stage: SaveStage) => void): void {
  const target = path.resolve(dir);
  const parent = path.dirname(target);
  const base = path.basename(target);
  fs.mkdirSync(parent, { recursive: true });
  // Leftovers of killed saves.
  for (const entry of fs.readdirSync(parent)) {
    if (entry.startsWith(base + TMP_MARK)) fs.rmSync(path.join(parent, entry), { recursive: true, force: true });
  }
  const old = target + OLD_SUFFIX;
  if (fs.existsSync(old) && fs.existsSync(target) && isComplete(target)) fs.rmSync(old, { recursive: true, force: true });

  const tmp = path.join(parent, `${base}${TMP_MARK}${process.pid}-${randomBytes(4).toString('hex')}`);
  fs.mkdirSync(tmp);
  try {
    onStage?.('temp-created');
    fill(tmp);
    fsyncDir(tmp);
    onStage?.('files-written');
    if (fs.existsSync(target)) {
      // A crash earlier may have left `old` holding the only complete version while `target` is
      // partial; never throw the complete one away.
      if (fs.existsSync(old)) {
        if (isComplete(target)) fs.rmSync(old, { recursive: true, force: true });
        else fs.rmSync(target, { recursive: true, force: true });
      }
      if (fs.existsSync(target)) fs.renameSync(target, old);
      fsyncDir(parent);
      onStage?.('old-moved-aside');
    }
    fs.renameSync(tmp, target);
    fsyncDir(parent);
    onStage?.('renamed');
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  fs.rmSync(old, { recursive: true, force: true });
  onStage?.('done');
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
