/**
 * `seg dataset list <dir>`: pdseg's tools/create_dataset_list.py. For every split folder (default
 * train, val, test) it finds images under `<dir>/<images folder>/<split>/` and labels under
 * `<dir>/<labels folder>/<split>/` (up to two folder levels deeper, as Cityscapes' city folders),
 * matching `*<postfix>.<format>`, and writes `<dir>/<split>.txt` with lines `image<SEP>label`
 * relative to `<dir>` (or `image` alone when a split has no labels at all).
 *
 * Unlike pdseg, images and labels are paired by name (the path inside the split folder without
 * postfix and extension) rather than by sorted position, and an image without its label (or a
 * label without its image) is an error naming the file.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { RunContext } from '../../util/context.js';
import { dataError, usageError } from '../../util/errors.js';
import { writeFileAtomicSync } from '../../util/atomic.js';

export interface DatasetListOptions {
  root: string;
  type?: 'custom' | 'cityscapes';
  separator?: string;
  /** [images folder, labels folder]. */
  folder?: [string, string];
  /** Split folders, each giving `<split>.txt`. */
  secondFolder?: string[];
  /** [image extension, label extension]. */
  format?: [string, string];
  /** [image name postfix, label name postfix]. */
  postfix?: [string, string];
}

export interface SplitList {
  split: string;
  file: string;
  lines: number;
  labelled: boolean;
}

/** pdseg's defaults per --type. */
export function listDefaults(type: 'custom' | 'cityscapes'): Required<Omit<DatasetListOptions, 'root' | 'type'>> {
  return type === 'cityscapes'
    ? { separator: '|', folder: ['leftImg8bit', 'gtFine'], secondFolder: ['train', 'val', 'test'], format: ['png', 'png'], postfix: ['_leftImg8bit', '_gtFine_labelTrainIds'] }
    : { separator: '|', folder: ['images', 'annotations'], secondFolder: ['train', 'val', 'test'], format: ['jpg', 'png'], postfix: ['', ''] };
}

/** Files under `dir` (at most `depth` folder levels down) named `*<postfix>.<format>`, keyed by their stem. */
function findFiles(dir: string, format: string, postfix: string, depth = 2): Map<string, string> {
  const out = new Map<string, string>();
  const suffix = `${postfix}.${format}`.toLowerCase();
  const walk = (d: string, rel: string, k: number): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const r = rel === '' ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) {
        if (k < depth) walk(path.join(d, e.name), r, k + 1);
      } else if (e.name.toLowerCase().endsWith(suffix) && e.name.length > suffix.length) {
        out.set(r.slice(0, r.length - suffix.length), path.join(d, e.name));
      }
    }
  };
  if (fs.existsSync(dir)) walk(dir, '', 0);
  return out;
}

/** A path that would break its list line (the separator, a line break) is refused, naming the file. */
function checkListable(relPath: string, file: string, separator: string): void {
  const bad = relPath.includes(separator) ? `the separator ${JSON.stringify(separator)}` : /[\r\n]/.test(relPath) ? 'a line break' : undefined;
  if (bad === undefined) return;
  throw dataError(`${JSON.stringify(file)} contains ${bad}, so its list line could not be split back into image and label`, {
    file,
    hint: `rename the file${bad.startsWith('the separator') ? ', or choose another --separator (and DATASET.SEPARATOR)' : ''}`,
  });
}

/** Write the lists (see the module comment). */
export function createDatasetLists(opts: DatasetListOptions, ctx: RunContext): SplitList[] {
  const root = path.resolve(opts.root);
  if (!fs.existsSync(root) || !fs.statSync(root).isDirectory()) throw usageError(`${opts.root} is not a folder`, { hint: 'give the dataset folder that holds the images and labels folders' });
  const d = { ...listDefaults(opts.type ?? 'custom'), ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) } as Required<DatasetListOptions>;
  if (d.separator === '' || /[\r\n]/.test(d.separator)) {
    throw usageError(`--separator ${JSON.stringify(d.separator)} cannot separate an image from its label on one line`, { hint: 'use a character no file name contains, e.g. --separator "|" (the default) or " "' });
  }
  const rel = (p: string): string => path.relative(root, p).split(path.sep).join('/');
  const out: SplitList[] = [];
  for (const split of d.secondFolder) {
    const imgDir = path.join(root, d.folder[0], split);
    const labDir = path.join(root, d.folder[1], split);
    const images = findFiles(imgDir, d.format[0], d.postfix[0]);
    const labels = findFiles(labDir, d.format[1], d.postfix[1]);
    if (images.size === 0) {
      ctx.log.warn(`no *${d.postfix[0]}.${d.format[0]} images in ${imgDir}; ${split}.txt not written`);
      continue;
    }
    const lines: string[] = [];
    if (labels.size > 0) {
      const missing = [...images.keys()].filter((k) => !labels.has(k));
      const orphans = [...labels.keys()].filter((k) => !images.has(k));
      if (missing.length > 0 || orphans.length > 0) {
        const first = missing[0] !== undefined ? `image ${images.get(missing[0])} has no label ${path.join(labDir, `${missing[0]}${d.postfix[1]}.${d.format[1]}`)}` : `label ${labels.get(orphans[0] as string)} has no image`;
        throw dataError(`${split}: ${images.size} images but ${labels.size} labels; ${first}${missing.length + orphans.length > 1 ? ` (${missing.length} images without label, ${orphans.length} labels without image)` : ''}`, {
          file: labels.size > 0 ? labDir : imgDir,
          hint: 'every image needs its label with the same name (apart from --postfix and --format), or the split must have no labels at all',
        });
      }
    }
    for (const [key, img] of images) {
      const lab = labels.get(key);
      for (const f of lab === undefined ? [img] : [img, lab]) checkListable(rel(f), f, d.separator);
      lines.push(lab === undefined ? rel(img) : `${rel(img)}${d.separator}${rel(lab)}`);
    }
    const file = path.join(root, `${split}.txt`);
    writeFileAtomicSync(file, `${lines.join('\n')}\n`);
    out.push({ split, file, lines: lines.length, labelled: labels.size > 0 });
  }
  if (out.length === 0) throw dataError(`no images found in ${root}/${d.folder[0]}/{${d.secondFolder.join(',')}}`, { file: root, hint: 'check --folder, --second_folder, --format and --postfix' });
  return out;
}
