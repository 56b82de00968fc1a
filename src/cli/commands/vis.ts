import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Command } from '../command.js';
import { cfgOption } from '../command.js';
import { configFromArgs } from '../config_args.js';
import { dataError } from '../../util/errors.js';
import type { SegConfig } from '../../config/schema.js';

const IMAGE_EXT = /\.(jpe?g|png|webp|tiff?|bmp|gif)$/i;

/** A config whose vis list is a temporary list of the images at `target` (a file or a folder). */
function configForImages(cfg: SegConfig, target: string): { cfg: SegConfig; cleanup: () => void } {
  const abs = path.resolve(target);
  if (!fs.existsSync(abs)) throw dataError(`--image ${target}: no such file or folder`, { file: target, hint: 'give an image file or a folder of images' });
  const files = fs.statSync(abs).isDirectory()
    ? fs.readdirSync(abs).filter((f) => IMAGE_EXT.test(f)).sort().map((f) => path.join(abs, f))
    : [abs];
  if (files.length === 0) throw dataError(`--image ${target}: the folder has no images`, { file: target, hint: 'images are .jpg, .png, .webp or .tif files' });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seg-vis-'));
  const list = path.join(dir, 'images.txt');
  fs.writeFileSync(list, `${files.join('\n')}\n`);
  return {
    cfg: { ...cfg, DATASET: { ...cfg.DATASET, VIS_FILE_LIST: list, SEPARATOR: '\t' } },
    cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

export const visCommand: Command = {
  name: 'vis',
  describe: 'write predicted masks (palette PNGs), overlays and input/truth/prediction/error comparisons',
  overrides: true,
  options: {
    cfg: cfgOption,
    use_gpu: { type: 'boolean', default: false, describe: 'prefer a GPU backend when installed' },
    vis_dir: { type: 'string', default: 'visual', describe: 'output folder', requiresArg: true },
    model: { type: 'string', describe: 'checkpoint folder (overrides TEST.TEST_MODEL)', requiresArg: true },
    image: { type: 'string', describe: 'an image file or a folder of images instead of the vis list', requiresArg: true },
    aug_eval: { type: 'boolean', default: false, describe: 'flip test-time augmentation' },
  },
  examples: [['seg vis --cfg configs/quickstart_roads.yaml --model saved_model/quickstart_roads/best_model --vis_dir visual', 'pictures of DATASET.VIS_FILE_LIST']],
  async run(args, env) {
    const { startBackend } = await import('../backend_args.js');
    const { DataLoader } = await import('../../data/loader.js');
    const { ensureDataset } = await import('../../data/datasets/ensure.js');
    const { loadModel, modelDirFor } = await import('../../train/load_model.js');
    const { visualise } = await import('../../train/vis.js');
    const resolved = configFromArgs(args, env);
    await startBackend(args, env);
    const cwd = process.cwd();
    let cfg = resolved.config;
    let cleanup = (): void => {};
    if (typeof args['image'] === 'string') ({ cfg, cleanup } = configForImages(cfg, args['image']));
    else cfg = await ensureDataset(cfg, env.ctx, { cwd, splits: ['vis'], generate: false });
    const model = loadModel(cfg, modelDirFor(cfg, args['model'], cwd));
    const loader = new DataLoader(cfg, { workers: 0, signal: env.ctx.signal, cwd });
    try {
      const visDir = path.resolve(cwd, String(args['vis_dir']));
      const r = await visualise(model, cfg, { visDir, loader, split: 'vis', ctx: env.ctx, flip: Boolean(args['aug_eval']) });
      if (args.json) env.out(JSON.stringify({ dir: r.dir, images: r.images, files: r.files }));
      else env.out(`wrote ${r.images} predictions to ${path.relative(cwd, r.dir) || r.dir} (masks), ${path.join(path.relative(cwd, r.dir), 'overlay')} and ${path.join(path.relative(cwd, r.dir), 'compare')}`);
      return env.ctx.signal.aborted ? 130 : 0;
    } finally {
      await loader.close();
      model.dispose();
      cleanup();
    }
  },
};
