/**
 * The datasets seg can download or generate, and the command that creates each: used by
 * `seg dataset` and by the "DATA_DIR is missing" messages (ensure.ts).
 */
import * as path from 'node:path';

export interface DownloadSpec {
  kind: 'download';
  name: 'mini_deepglobe_road' | 'voc2012';
  /** Folder created under the dataset root. */
  dir: string;
  url: string;
  archive: 'zip' | 'tar';
  /** Expected MD5 of the archive, when known. */
  md5?: string;
  description: string;
  /** Where the data comes from (shown in `seg dataset download --help` and errors). */
  host: string;
}

export interface MakeEntry {
  kind: 'make';
  name: 'mnist_roads' | 'mnist_digits';
  dir: string;
  description: string;
}

export type DatasetEntry = DownloadSpec | MakeEntry;

export const DOWNLOADS: Readonly<Record<DownloadSpec['name'], DownloadSpec>> = Object.freeze({
  mini_deepglobe_road: {
    kind: 'download',
    name: 'mini_deepglobe_road',
    dir: 'MiniDeepGlobeRoadExtraction',
    url: 'https://paddleseg.bj.bcebos.com/dataset/MiniDeepGlobeRoadExtraction.zip',
    archive: 'zip',
    description: 'MiniDeepGlobeRoadExtraction: 800 train / 200 val DeepGlobe road tiles, labels 0/1, lists train.txt/val.txt (`|`)',
    host: 'paddleseg.bj.bcebos.com',
  },
  voc2012: {
    kind: 'download',
    name: 'voc2012',
    dir: 'VOCtrainval_11-May-2012',
    url: 'https://host.robots.ox.ac.uk/pascal/VOC/voc2012/VOCtrainval_11-May-2012.tar',
    archive: 'tar',
    md5: '6cd6e144f989b92b3379bac3b3de84fd',
    description: 'PASCAL VOC 2012 trainval (1464 train / 1449 val segmentation images); palette labels converted to index PNGs in SegmentationClassAug/',
    host: 'host.robots.ox.ac.uk',
  },
});

export const MAKES: Readonly<Record<MakeEntry['name'], MakeEntry>> = Object.freeze({
  mnist_roads: { kind: 'make', name: 'mnist_roads', dir: 'mnist_roads', description: 'offline binary road-like dataset from MNIST digits (128x128 tiles)' },
  mnist_digits: { kind: 'make', name: 'mnist_digits', dir: 'mnist_digits', description: 'offline 11-class dataset from MNIST digits (128x128 tiles)' },
});

/** The command that creates a dataset. */
export function createCommand(e: DatasetEntry): string {
  return e.kind === 'download' ? `seg dataset download ${e.name}` : `seg dataset make ${e.name}`;
}

/** The known dataset whose folder is a component of `dataDir` (e.g. ./dataset/VOCtrainval_11-May-2012/VOC2012/). */
export function datasetForDir(dataDir: string): DatasetEntry | undefined {
  const parts = path.normalize(dataDir).split(/[\\/]+/).filter((p) => p !== '' && p !== '.');
  const all: DatasetEntry[] = [...Object.values(DOWNLOADS), ...Object.values(MAKES)];
  for (let i = parts.length - 1; i >= 0; i--) {
    const hit = all.find((e) => e.dir === parts[i]);
    if (hit) return hit;
  }
  return undefined;
}

/** The hint for a missing dataset folder or list: the command that creates it. */
export function missingDatasetHint(dataDir: string): string {
  const known = datasetForDir(dataDir);
  if (!known) return 'create the folder with your images and labels, then write file lists with `seg dataset list <dir>` (see docs/data.md)';
  if (known.kind === 'make') return `generate it with \`${createCommand(known)}\` (offline, a few seconds)`;
  return `download it with \`${createCommand(known)}\` (needs access to the internet)${known.name === 'mini_deepglobe_road' ? '; offline alternative: configs/quickstart_roads.yaml' : '; offline alternative: configs/quickstart_digits.yaml'}`;
}
