/**
 * Pixel counts per class over (a sample of) a labelled list: the class prior the logit bias
 * starts from (models/logit_prior.ts). Labels are read and validated as the loader reads them.
 */
import type { ListEntry } from './file_list.js';
import { loadPair, type DataOptions } from './sample.js';

/** At most this many labels are read: enough for a prior to two digits, cheap on large sets. */
export const PRIOR_SAMPLE_IMAGES = 256;

export interface ClassCounts {
  /** Pixels of each class 0..numClasses-1 (IGNORE_INDEX excluded). */
  counts: number[];
  /** Labels read. */
  images: number;
}

/** Evenly spaced entries: all of them when there are at most `max`. */
export function evenSample<T>(items: readonly T[], max: number): T[] {
  if (items.length <= max) return [...items];
  return Array.from({ length: max }, (_, i) => items[Math.floor((i * items.length) / max)] as T);
}

/** Count the label pixels of up to `max` evenly spaced entries (8 decodes in flight). */
export async function countClassPixels(entries: readonly ListEntry[], opts: DataOptions, max = PRIOR_SAMPLE_IMAGES): Promise<ClassCounts> {
  const sample = evenSample(entries.filter((e) => e.labelPath !== undefined), max);
  const counts = new Array<number>(opts.numClasses).fill(0);
  for (let i = 0; i < sample.length; i += 8) {
    const pairs = await Promise.all(sample.slice(i, i + 8).map((e) => loadPair(e, opts)));
    for (const { label } of pairs) {
      if (!label) continue;
      for (const v of label.data) if (v < opts.numClasses) counts[v] = (counts[v] ?? 0) + 1;
    }
  }
  return { counts, images: sample.length };
}
