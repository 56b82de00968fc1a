import * as path from 'node:path';
import { integerFlag, type Command } from '../command.js';
import { usageError } from '../../util/errors.js';
import { DOWNLOADS, MAKES } from '../../data/datasets/registry.js';
import type { MakeName } from '../../data/datasets/make.js';

const DOWNLOAD_NAMES = Object.keys(DOWNLOADS) as Array<keyof typeof DOWNLOADS>;
const MAKE_NAMES = Object.keys(MAKES) as MakeName[];

const pair = (v: unknown, flag: string): [string, string] | undefined => {
  if (v === undefined) return undefined;
  const a = (Array.isArray(v) ? v : [v]).map(String);
  if (a.length !== 2) throw usageError(`--${flag} takes two values, got ${a.length}: ${a.join(' ')}`, { hint: `e.g. --${flag} images annotations` });
  return [a[0] as string, a[1] as string];
};

export const datasetCommand: Command = {
  name: 'dataset',
  describe: 'download, generate or list datasets',
  subcommands: [
    {
      name: 'download <name>',
      describe: `download, verify and unpack a dataset into dataset/ (${DOWNLOAD_NAMES.join(', ')})`,
      positionals: { name: { type: 'string', choices: DOWNLOAD_NAMES, describe: 'dataset name' } },
      options: {
        dir: { type: 'string', default: 'dataset', describe: 'dataset root folder', requiresArg: true },
        url: { type: 'string', describe: 'download from this address instead (a mirror); https only (http only to 127.0.0.1)', requiresArg: true },
        md5: { type: 'string', describe: 'expected MD5 of the archive (default: the known one of the official archive)', requiresArg: true },
        force: { type: 'boolean', default: false, describe: 'replace the dataset folder when it exists' },
      },
      examples: [
        ['seg dataset download mini_deepglobe_road', 'MiniDeepGlobeRoadExtraction for configs/lovasz_hinge_road.yaml'],
        ['seg dataset download voc2012', 'PASCAL VOC 2012 for configs/lovasz_softmax_voc.yaml (about 2 GB)'],
      ],
      async run(args, env) {
        const { fetchDataset } = await import('../../data/datasets/fetch.js');
        const name = String(args['name']) as keyof typeof DOWNLOADS;
        const res = await fetchDataset(
          name,
          {
            root: String(args['dir']),
            url: typeof args['url'] === 'string' ? args['url'] : undefined,
            md5: typeof args['md5'] === 'string' ? args['md5'] : undefined,
            force: Boolean(args['force']),
          },
          env.ctx,
        );
        if (args.json) env.out(JSON.stringify(res));
        else {
          env.out(`${name}: ${res.dir}`);
          for (const [list, n] of Object.entries(res.lists)) env.out(`  ${list}: ${n} lines`);
          if (res.converted !== undefined) env.out(`  converted ${res.converted} palette labels to index PNGs`);
          env.out(`  archive MD5 ${res.download.md5} (${res.download.bytes} bytes)`);
        }
        return 0;
      },
    },
    {
      name: 'make <name>',
      describe: `generate an offline dataset from MNIST digits (${MAKE_NAMES.join(', ')}); deterministic from --seed`,
      positionals: { name: { type: 'string', choices: [...MAKE_NAMES], describe: 'dataset name' } },
      options: {
        count: integerFlag('count', { describe: 'training tiles (validation gets a quarter); default 800 (roads), 1000 (digits)', min: 1, example: 200 }),
        dir: { type: 'string', default: 'dataset', describe: 'dataset root folder (the dataset goes to DIR/<name>)', requiresArg: true },
        force: { type: 'boolean', default: false, describe: 'replace the dataset folder when it exists' },
      },
      examples: [
        ['seg dataset make mnist_roads', 'dataset/mnist_roads for configs/quickstart_roads.yaml'],
        ['seg dataset make mnist_digits --seed 1 --count 200 --dir /tmp/ds', 'a small variant elsewhere'],
      ],
      async run(args, env) {
        const name = String(args['name']) as MakeName;
        const count = args['count'];
        const outDir = path.join(String(args['dir']), MAKES[name].dir);
        const { makeDataset, DEFAULT_MAKE_SEED } = await import('../../data/datasets/make.js');
        const m = await makeDataset(name, { outDir, seed: args.seed ?? DEFAULT_MAKE_SEED, ...(typeof count === 'number' ? { count } : {}), force: Boolean(args['force']) }, env.ctx);
        if (args.json) env.out(JSON.stringify({ dir: path.resolve(outDir), ...m }));
        else {
          env.out(`${name}: ${path.resolve(outDir)} (seed ${m.seed})`);
          for (const split of ['train', 'val'] as const) {
            const s = m.splits[split];
            const fg = s.classFractions.slice(1).reduce((a, b) => a + b, 0);
            env.out(`  ${split}.txt: ${s.count} tiles, foreground ${(100 * fg).toFixed(2)}%, ignored ${(100 * s.ignoreFraction).toFixed(2)}%, ${s.emptyTiles} without foreground`);
          }
          env.out(`  content sha256 ${m.content_sha256}`);
        }
        return 0;
      },
    },
    {
      name: 'list <dir>',
      describe: 'write <split>.txt file lists from image and label folders (pdseg create_dataset_list.py)',
      positionals: { dir: { type: 'string', describe: 'dataset folder' } },
      options: {
        type: { type: 'string', choices: ['custom', 'cityscapes'], default: 'custom', describe: 'folder layout defaults (cityscapes: leftImg8bit/gtFine, *_gtFine_labelTrainIds.png)' },
        separator: { type: 'string', describe: "separator between image and label (default '|')", requiresArg: true },
        folder: { type: 'array', string: true, describe: 'images and labels folder names (default: images annotations)' },
        second_folder: { type: 'array', string: true, describe: 'split folders, one list each (default: train val test)' },
        format: { type: 'array', string: true, describe: 'image and label extensions (default: jpg png)' },
        postfix: { type: 'array', string: true, describe: 'image and label name postfixes (default: none)' },
      },
      examples: [['seg dataset list dataset/my_data --separator " "', 'writes dataset/my_data/{train,val,test}.txt']],
      async run(args, env) {
        const folder = pair(args['folder'], 'folder');
        const format = pair(args['format'], 'format');
        const postfix = pair(args['postfix'], 'postfix');
        const second = args['second_folder'];
        const { createDatasetLists } = await import('../../data/datasets/list.js');
        const res = createDatasetLists(
          {
            root: String(args['dir']),
            type: args['type'] === 'cityscapes' ? 'cityscapes' : 'custom',
            ...(typeof args['separator'] === 'string' ? { separator: args['separator'] } : {}),
            ...(folder ? { folder } : {}),
            ...(format ? { format } : {}),
            ...(postfix ? { postfix } : {}),
            ...(Array.isArray(second) ? { secondFolder: second.map(String) } : {}),
          },
          env.ctx,
        );
        if (args.json) env.out(JSON.stringify(res));
        else for (const r of res) env.out(`${r.file}: ${r.lines} lines${r.labelled ? '' : ' (images only)'}`);
        return 0;
      },
    },
    ...(['labelme', 'jingling'] as const).map(
      (format): Command => ({
        name: `${format} <dir>`,
        describe: `${format} JSON polygons in <dir> → <dir>/annotations/*.png (VOC palette, class indices) and <dir>/class_names.txt (pdseg ${format}2seg.py)`,
        positionals: { dir: { type: 'string', describe: `folder of ${format} JSON files` } },
        examples: [[`seg dataset ${format} dataset/my_data/${format}`, 'label PNGs for seg dataset list']],
        async run(args, env) {
          const { annotationsToLabels } = await import('../../data/datasets/annotations.js');
          const res = await annotationsToLabels(String(args['dir']), format, env.ctx);
          if (args.json) env.out(JSON.stringify(res));
          else env.out(`${res.written.length} label PNGs in ${path.dirname(res.written[0] ?? res.classFile)}; classes (${res.classFile}): ${res.classNames.join(', ')}`);
          return 0;
        },
      }),
    ),
    {
      name: 'pseudo-color <input> <output>',
      describe: 'gray labels (a folder, or a file list with --dataset_dir and --separator) → VOC-palette PNGs under <output> (pdseg gray2pseudo_color.py)',
      positionals: { input: { type: 'string', describe: 'folder of gray labels, or a file list' }, output: { type: 'string', describe: 'output folder' } },
      options: {
        dataset_dir: { type: 'string', describe: "with a file list: the folder its paths are relative to (DATASET.DATA_DIR)", requiresArg: true },
        separator: { alias: 'file_separator', type: 'string', describe: 'with a file list: its separator (DATASET.SEPARATOR)', requiresArg: true },
      },
      examples: [['seg dataset pseudo-color dataset/my_data/annotations dataset/my_data/colour', 'palette copies of every label']],
      async run(args, env) {
        const { pseudoColor } = await import('../../data/datasets/annotations.js');
        const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
        const written = await pseudoColor(String(args['input']), String(args['output']), { datasetDir: str(args['dataset_dir']), separator: str(args['separator']) });
        if (args.json) env.out(JSON.stringify({ written }));
        else env.out(`${written.length} palette PNGs in ${String(args['output'])}`);
        return 0;
      },
    },
  ],
};
