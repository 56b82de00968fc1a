import * as path from 'node:path';
import type { Command } from '../command.js';
import { cfgOption, gpuOptions, integerFlag } from '../command.js';
import { configFromArgs } from '../config_args.js';

export const trainCommand: Command = {
  name: 'train',
  describe: 'train a model (pdseg train.py); checkpoints, metrics.jsonl and plot.png go to TRAIN.MODEL_SAVE_DIR',
  overrides: true,
  options: {
    cfg: cfgOption,
    ...gpuOptions,
    do_eval: { type: 'boolean', default: false, describe: 'evaluate on the val list after each snapshot and keep best_model/' },
    log_steps: integerFlag('log_steps', { describe: 'log a line every N steps (non-TTY stderr)', min: 1, default: 10, example: 10 }),
    debug: { type: 'boolean', default: false, describe: 'also log running train accuracy and mIoU' },
    overwrite: { type: 'boolean', default: false, describe: 'if TRAIN.MODEL_SAVE_DIR holds an earlier run, move it into <dir>/overwritten-<time>/ (without this, seg refuses)' },
    use_vdl: { alias: 'use_tb', type: 'boolean', default: false, describe: "also write the metrics as TensorBoard event files (pdseg's VisualDL flag; view with tensorboard --logdir)" },
    vdl_log_dir: { alias: 'tb_log_dir', type: 'string', requiresArg: true, describe: 'folder of the event files (default: <TRAIN.MODEL_SAVE_DIR>/tensorboard)' },
    enable_ce: { type: 'boolean', default: false, describe: "pdseg's continuous-evaluation mode: a fixed seed (SEED 0 unless --seed or SEED sets one)" },
  },
  examples: [
    ['seg train --cfg configs/quickstart_roads.yaml --do_eval', 'train on the offline roads dataset (generated on first use)'],
    ["seg train --cfg configs/lovasz_hinge_road.yaml --use_mpio SOLVER.LOSS \"['lovasz_hinge_loss','bce_loss']\"", 'pdseg-style'],
  ],
  async run(args, env) {
    const { train } = await import('../../train/trainer.js');
    const { defaultWorkers } = await import('../../data/loader.js');
    const { finishRun } = await import('../../train/report.js');
    const { startBackend } = await import('../backend_args.js');
    const logSteps = Number(args['log_steps']);
    const { config } = configFromArgs(args, env, { seedDefault: args['enable_ce'] === true ? 0 : undefined });
    await startBackend(args, env);
    const doEval = Boolean(args['do_eval']);
    const result = await train(
      config,
      {
        doEval,
        logSteps,
        debug: Boolean(args['debug']),
        workers: defaultWorkers(config, Boolean(args['use_mpio'])),
        interactive: env.isTTY && !args.quiet,
        overwrite: Boolean(args['overwrite']),
        ...(args['use_vdl'] === true || typeof args['vdl_log_dir'] === 'string' ? { eventsDir: typeof args['vdl_log_dir'] === 'string' ? args['vdl_log_dir'] : path.join(config.TRAIN.MODEL_SAVE_DIR, 'tensorboard') } : {}),
      },
      env.ctx,
    );
    const report = await finishRun(result, config, env.ctx, { visualise: doEval });
    if (args.json) env.out(JSON.stringify(report));
    else {
      const rel = (p: string | undefined): string => (p === undefined ? '-' : path.relative(process.cwd(), p) || '.');
      const lines = [
        `trained ${result.steps} steps in ${result.seconds.toFixed(1)} s (seed ${result.seed})`,
        `checkpoint:  ${rel(result.finalDir)}`,
        ...(result.bestDir ? [`best model:  ${rel(result.bestDir)} (${result.best?.metric} = ${result.best?.value.toFixed(4)} at epoch ${result.best?.epoch})`] : []),
        `metrics:     ${rel(path.join(result.runDir, 'metrics.jsonl'))}`,
        `plot:        ${rel(report.plot)}`,
        ...(report.visDir ? [`pictures:    ${rel(report.visDir)}`] : []),
        ...(result.lastEval ? [`val mIoU:    ${result.lastEval.miou.toFixed(4)}  IoU per class: ${result.lastEval.iou.map((v) => (v === null ? '-' : v.toFixed(4))).join(' ')}`] : []),
      ];
      env.out(lines.join('\n'));
    }
    return 0;
  },
};
