/**
 * `seg dataset download mini_deepglobe_road|voc2012`: download (resumable, verified), unpack into a
 * temporary folder, lay out the dataset where pdseg's configs expect it, convert and write lists,
 * then move it into place. The archive is kept in `<root>/.downloads/` until the dataset is in
 * place, so a failed unpack does not need a new download.
 *
 * Layouts (pdseg's download scripts):
 *  - mini_deepglobe_road → <root>/MiniDeepGlobeRoadExtraction/ with train.txt and val.txt
 *    (`image|label`, shipped in the zip; every listed file is checked to exist).
 *  - voc2012 → <root>/VOCtrainval_11-May-2012/VOC2012/ (the tar's VOCdevkit renamed, as
 *    pdseg's extraname does); SegmentationClass palette PNGs are converted to index PNGs in
 *    SegmentationClassAug/ (values 0-20, 255 on boundaries), and ImageSets/Segmentation/
 *    {train,val,trainval}.list are written: `JPEGImages/<id>.jpg SegmentationClassAug/<id>.png`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { RunContext } from '../../util/context.js';
import { dataError, SegError, usageError } from '../../util/errors.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { downloadFile, fileDigests, urlFileName, type DownloadResult } from '../../util/download.js';
import { extractArchive } from '../../util/archive.js';
import { encodeLabelPng, readLabel } from '../image_io.js';
import { DOWNLOADS, type DownloadSpec } from './registry.js';

export interface FetchOptions {
  /** Dataset root (default ./dataset). */
  root: string;
  /** Download from this address instead of the official one (a mirror, or a test server). */
  url?: string | undefined;
  /** Expected MD5 (default: the known one of the official archive, if any). */
  md5?: string | undefined;
  /** Replace an existing dataset folder. */
  force?: boolean;
}

export interface FetchResult {
  name: DownloadSpec['name'];
  dir: string;
  download: DownloadResult;
  /** Lines per written or verified list file. */
  lists: Record<string, number>;
  converted?: number;
}

/** Find the shallowest folder under `dir` (depth ≤ 3) for which `pred` holds. */
function findDir(dir: string, pred: (d: string) => boolean, depth = 3): string | undefined {
  const queue: Array<[string, number]> = [[dir, 0]];
  while (queue.length > 0) {
    const [d, k] = queue.shift() as [string, number];
    if (pred(d)) return d;
    if (k >= depth) continue;
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (e.isDirectory() && !e.name.startsWith('__MACOSX')) queue.push([path.join(d, e.name), k + 1]);
    }
  }
  return undefined;
}

/** Check that every path in a pdseg list exists under `base`; returns the line count. */
function verifyList(list: string, base: string, sep: string): number {
  const lines = fs.readFileSync(list, 'utf8').split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');
  lines.forEach((l, i) => {
    for (const p of l.split(sep)) {
      if (!fs.existsSync(path.join(base, p.trim()))) {
        throw dataError(`${list}:${i + 1}: ${p} is not in the archive`, { file: list, line: i + 1, hint: 'the archive is incomplete or its layout changed; check the --url' });
      }
    }
  });
  return lines.length;
}

async function layoutDeepGlobe(tmp: string): Promise<{ dir: string; lists: Record<string, number> }> {
  const dir = findDir(tmp, (d) => fs.existsSync(path.join(d, 'train.txt')) && fs.existsSync(path.join(d, 'val.txt')));
  if (!dir) throw dataError('the archive has no train.txt and val.txt', { hint: 'the archive layout is not MiniDeepGlobeRoadExtraction\'s; check the --url' });
  return { dir, lists: { 'train.txt': verifyList(path.join(dir, 'train.txt'), dir, '|'), 'val.txt': verifyList(path.join(dir, 'val.txt'), dir, '|') } };
}

/** Convert VOC's palette labels to index PNGs and write the three lists. */
async function layoutVoc(tmp: string, ctx: RunContext): Promise<{ dir: string; lists: Record<string, number>; converted: number }> {
  const voc = findDir(tmp, (d) => path.basename(d) === 'VOC2012' && fs.existsSync(path.join(d, 'SegmentationClass')) && fs.existsSync(path.join(d, 'ImageSets', 'Segmentation')));
  if (!voc) throw dataError('the archive has no VOC2012/ folder with SegmentationClass/ and ImageSets/Segmentation/', { hint: 'check the --url: it must be VOCtrainval_11-May-2012.tar' });
  const srcDir = path.join(voc, 'SegmentationClass');
  const outDir = path.join(voc, 'SegmentationClassAug');
  fs.mkdirSync(outDir, { recursive: true });
  const pngs = fs.readdirSync(srcDir).filter((f) => f.endsWith('.png')).sort();
  const bar = ctx.progress('converting VOC labels', pngs.length);
  let converted = 0;
  try {
    for (const f of pngs) {
      if (ctx.signal.aborted) break;
      const label = await readLabel(path.join(srcDir, f));
      if (label.kind !== 'palette' && label.kind !== 'gray') throw dataError(`${path.join(srcDir, f)} is not a palette PNG`, { file: path.join(srcDir, f), hint: 'VOC labels are palette PNGs; is this the VOC 2012 archive?' });
      const bad = [...new Set(label.data)].filter((v) => v > 20 && v !== 255);
      if (bad.length > 0) throw dataError(`${path.join(srcDir, f)} has palette indices ${bad.join(', ')} outside 0-20 and 255`, { file: path.join(srcDir, f), hint: 'is this the VOC 2012 archive?' });
      fs.writeFileSync(path.join(outDir, f), encodeLabelPng(Uint8Array.from(label.data), label.width, label.height));
      converted++;
      bar.increment();
    }
  } finally {
    bar.stop();
  }
  const sets = path.join(voc, 'ImageSets', 'Segmentation');
  const lists: Record<string, number> = {};
  for (const split of ['train', 'val', 'trainval']) {
    const ids = path.join(sets, `${split}.txt`);
    if (!fs.existsSync(ids)) continue;
    const lines = fs.readFileSync(ids, 'utf8').split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');
    for (const id of lines) {
      if (!fs.existsSync(path.join(voc, 'JPEGImages', `${id}.jpg`)) || !fs.existsSync(path.join(outDir, `${id}.png`))) {
        throw dataError(`${ids}: ${id} has no JPEGImages/${id}.jpg or SegmentationClass/${id}.png`, { file: ids, hint: 'the archive is incomplete' });
      }
    }
    await writeFileAtomic(path.join(sets, `${split}.list`), lines.map((id) => `JPEGImages/${id}.jpg SegmentationClassAug/${id}.png\n`).join(''));
    lists[`ImageSets/Segmentation/${split}.list`] = lines.length;
  }
  if (lists['ImageSets/Segmentation/train.list'] === undefined || lists['ImageSets/Segmentation/val.list'] === undefined) {
    throw dataError(`${sets} has no train.txt/val.txt`, { hint: 'the archive is incomplete' });
  }
  // pdseg's layout: <root>/VOCtrainval_11-May-2012/VOC2012/ (the folder above VOC2012 is renamed).
  return { dir: path.dirname(voc), lists, converted };
}

/** Download and install a dataset (see the module comment). */
export async function fetchDataset(name: DownloadSpec['name'], opts: FetchOptions, ctx: RunContext): Promise<FetchResult> {
  const spec = DOWNLOADS[name];
  const root = path.resolve(opts.root);
  const target = path.join(root, spec.dir);
  if (fs.existsSync(target)) {
    if (!opts.force) throw usageError(`${target} already exists`, { file: target, hint: 'remove it or pass --force to download and replace it' });
  }
  const url = opts.url ?? spec.url;
  const md5 = opts.md5 ?? (opts.url === undefined ? spec.md5 : undefined);
  const archive = path.join(root, '.downloads', urlFileName(url, `${name}.${spec.archive}`));
  const fetchArchive = (): Promise<DownloadResult> => downloadFile(url, archive, { ...ctx, md5, label: name, httpsOnly: true });
  let download: DownloadResult;
  if (fs.existsSync(archive)) {
    ctx.log.info(`using the archive downloaded before: ${archive}`);
    const sums = await fileDigests(archive);
    if (md5 && sums.md5 !== md5.toLowerCase()) {
      fs.rmSync(archive, { force: true });
      download = await fetchArchive();
    } else {
      download = { bytes: fs.statSync(archive).size, ...sums, resumedFrom: fs.statSync(archive).size, attempts: 0 };
    }
  } else {
    ctx.log.info(`downloading ${url}`);
    download = await fetchArchive();
  }
  const tmp = path.join(root, `.unpack-${name}-${process.pid}`);
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  try {
    await extractArchive(archive, tmp, { format: spec.archive, progress: ctx.progress, signal: ctx.signal });
    const laid: { dir: string; lists: Record<string, number>; converted?: number } = name === 'voc2012' ? await layoutVoc(tmp, ctx) : await layoutDeepGlobe(tmp);
    if (ctx.signal.aborted) throw new SegError('interrupted', `interrupted while installing ${name}`, { hint: 'run the command again (the download is kept)' });
    if (fs.existsSync(target)) fs.rmSync(target, { recursive: true, force: true });
    fs.renameSync(laid.dir, target);
    fs.rmSync(archive, { force: true });
    try {
      fs.rmdirSync(path.dirname(archive)); // .downloads/, when empty
    } catch {
      // other downloads are kept there
    }
    const res: FetchResult = { name, dir: target, download, lists: laid.lists };
    if (laid.converted !== undefined) res.converted = laid.converted;
    return res;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
