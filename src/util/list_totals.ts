/** File-list line counts (DATASET.*_TOTAL_IMAGES), shared by config derivation and dataset generation. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { SegConfig } from '../config/schema.js';

/**
 * Set DATASET.*_TOTAL_IMAGES to the line counts of the file lists that exist (in place), except
 * for totals the user set explicitly. Also used once a dataset has been generated.
 */
export function setListTotals(cfg: SegConfig, cwd: string, explicit: ReadonlySet<string> = new Set()): void {
  const lists = [
    ['TRAIN_FILE_LIST', 'TRAIN_TOTAL_IMAGES'],
    ['VAL_FILE_LIST', 'VAL_TOTAL_IMAGES'],
    ['TEST_FILE_LIST', 'TEST_TOTAL_IMAGES'],
  ] as const;
  for (const [listKey, totalKey] of lists) {
    if (explicit.has(`DATASET.${totalKey}`)) continue;
    const n = countListLines(path.resolve(cwd, cfg.DATASET[listKey]));
    if (n !== undefined) cfg.DATASET[totalKey] = n;
  }
}

/** Number of non-empty lines of a file list, or undefined when it cannot be read. */
export function countListLines(file: string): number | undefined {
  try {
    const text = fs.readFileSync(file, 'utf8');
    return text.split(/\r?\n/).filter((l) => l.trim() !== '').length;
  } catch {
    return undefined;
  }
}

