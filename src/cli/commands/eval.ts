import * as path from 'node:path';
import type { Command } from '../command.js';
import { cfgOption, gpuOptions } from '../command.js';
import { configFromArgs } from '../config_args.js';

export const evalCommand: Command = {
  name: 'eval',
  describe: 'evaluate TEST.TEST_MODEL on the val list: mIoU, accuracy, per-class IoU/precision/recall, kappa',
  overrides: true,
  options: {
    cfg: cfgOption,
    ...gpuOptions,
    model: { type: 'string', describe: 'checkpoint folder to evaluate (overrides TEST.TEST_MODEL)', requiresArg: true },
    aug_eval: { type: 'boolean', default: false, describe: 'flip test-time augmentation (average with the mirrored image)' },
  },
  examples: [['seg eval --cfg configs/quickstart_roads.yaml --model saved_model/quickstart_roads/best_model', 'per-class table on stdout']],
  async run(args, env) {
    const { startBackend } = await import('../backend_args.js');
    const { ensureDataset } = await import('../../data/datasets/ensure.js');
    const { DataLoader, defaultWorkers } = await import('../../data/loader.js');
    const { buildLoss } = await import('../../losses/build.js');
    const { evaluate } = await import('../../train/evaluate.js');
    const { loadModel, modelDirFor } = await import('../../train/load_model.js');
    const { formatMetricsTable, metricsJson } = await import('../../train/eval_report.js');
    const resolved = configFromArgs(args, env);
    await startBackend(args, env);
    const cwd = process.cwd();
    const cfg = await ensureDataset(resolved.config, env.ctx, { cwd, splits: ['val'], generate: false });
    const dir = modelDirFor(cfg, args['model'], cwd);
    env.ctx.log.info(`evaluating ${path.relative(cwd, dir) || dir} on ${cfg.DATASET.VAL_FILE_LIST}`);
    const model = loadModel(cfg, dir);
    const loader = new DataLoader(cfg, { workers: defaultWorkers(cfg, Boolean(args['use_mpio'])), signal: env.ctx.signal, cwd });
    try {
      const result = await evaluate(model, cfg, { split: 'val', loader, ctx: env.ctx, flip: Boolean(args['aug_eval']), lossFn: buildLoss(cfg) });
      if (env.ctx.signal.aborted) return 130;
      const names = cfg.DATASET.CLASS_NAMES;
      env.out(args.json ? JSON.stringify(metricsJson(result, { model: dir, list: cfg.DATASET.VAL_FILE_LIST, classNames: names, flip: Boolean(args['aug_eval']) })) : formatMetricsTable(result, names));
      return 0;
    } finally {
      await loader.close();
      model.dispose();
    }
  },
};
