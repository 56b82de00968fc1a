import * as path from 'node:path';
import type { Command } from '../command.js';
import { cfgOption, gpuOptions } from '../command.js';
import { configFromArgs } from '../config_args.js';
import { configError } from '../../util/errors.js';

export const exportCommand: Command = {
  name: 'export',
  describe: 'export TEST.TEST_MODEL as a tfjs graph model (tf.loadGraphModel) with deploy.yaml to FREEZE.SAVE_DIR',
  overrides: true,
  options: {
    cfg: cfgOption,
    model: { type: 'string', describe: 'checkpoint folder (overrides TEST.TEST_MODEL)', requiresArg: true },
    use_gpu: gpuOptions['use_gpu'] ?? { type: 'boolean', default: false },
  },
  examples: [['seg export --cfg configs/lovasz_hinge_road.yaml --model saved_model/road/best_model FREEZE.SAVE_DIR freeze_model/road', 'export the best checkpoint of a run']],
  async run(args, env) {
    const { config: cfg } = configFromArgs(args, env);
    // Heavy modules (the model and the op layer, which loads tfjs's gradients) only when exporting,
    // and before the backend, so that seg's gradients registered by initBackend stay on top.
    const { buildModel } = await import('../../models/build.js');
    const { loadCheckpoint, restoreWeights } = await import('../../checkpoint/checkpoint.js');
    const { exportModel } = await import('../../export/export.js');
    const { startBackend } = await import('../backend_args.js');
    await startBackend(args, env);
    const modelArg = typeof args['model'] === 'string' && args['model'] !== '' ? args['model'] : undefined;
    const ckptDir = modelArg ?? cfg.TEST.TEST_MODEL;
    if (ckptDir === '') {
      throw configError('nothing to export: TEST.TEST_MODEL is empty and --model was not given', { key: 'TEST.TEST_MODEL', hint: 'pass --model saved_model/<run>/final (or best_model), or set TEST.TEST_MODEL' });
    }
    const model = buildModel(cfg);
    try {
      const ck = loadCheckpoint(ckptDir);
      try {
        restoreWeights(model, ck);
      } finally {
        ck.dispose();
      }
      env.ctx.log.info(`model: ${model.describe()}`);
      env.ctx.log.info(`weights: ${ck.dir}`);
      const outDir = path.resolve(cfg.FREEZE.SAVE_DIR);
      const result = exportModel(model, cfg, outDir, { checkpoint: ck.dir });
      if (args.json) {
        env.out(JSON.stringify(result));
      } else {
        const rel = path.relative(process.cwd(), result.dir) || '.';
        env.out(`exported to ${rel}: model.json (tfjs graph model, input ${INPUT_DESC(result.inputShape)}, output ${INPUT_DESC(result.outputShape)} probabilities), deploy.yaml, deploy.json`);
      }
    } finally {
      model.dispose();
    }
    return 0;
  },
};

const INPUT_DESC = (shape: readonly number[]): string => `[${shape.map((d) => (d < 0 ? 'N' : String(d))).join(', ')}]`;
