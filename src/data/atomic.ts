/** Atomic file writes: write a temporary sibling, then rename it over the target. */
import * as fs from 'node:fs';
import * as path from 'node:path';

let counter = 0;

/** A temporary path next to `file` (same directory, so that rename is atomic). */
export function tempSibling(file: string): string {
  counter = (counter + 1) % 1_000_000;
  return path.join(path.dirname(file), `.${path.basename(file)}.tmp-${process.pid}-${Date.now().toString(36)}-${counter}`);
}

/** Write `data` to `file` atomically (the directory must exist, or `mkdir` creates it). */
export async function writeFileAtomic(file: string, data: string | Uint8Array, opts: { mkdir?: boolean } = {}): Promise<void> {
  if (opts.mkdir) await fs.promises.mkdir(path.dirname(file), { recursive: true });
  const tmp = tempSibling(file);
  try {
    await fs.promises.writeFile(tmp, data);
    await fs.promises.rename(tmp, file);
  } catch (e) {
    await fs.promises.rm(tmp, { force: true });
    throw e;
  }
}

/** Synchronous variant of writeFileAtomic. */
export function writeFileAtomicSync(file: string, data: string | Uint8Array, opts: { mkdir?: boolean } = {}): void {
  if (opts.mkdir) fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = tempSibling(file);
  try {
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}
