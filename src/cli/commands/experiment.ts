import * as path from 'node:path';
import { integerFlag, type Command } from '../command.js';
import { usageError } from '../../util/errors.js';
import { ConfigSchema } from '../../config/schema.js';

export const experimentCommand: Command = {
  name: 'experiment',
  describe: 'train and evaluate several configs with the same seeds and budget, and compare them (table, curves, pictures)',
  overrides: true,
  options: {
    cfg: { type: 'string', array: true, demandOption: true, describe: 'one config per run (repeat --cfg)', requiresArg: true },
    seeds: { type: 'string', default: '1', describe: 'comma-separated seeds; every config is trained once per seed', requiresArg: true },
    out: { type: 'string', describe: 'comparison folder (default runs/<config names>)', requiresArg: true },
    compare_images: integerFlag('compare_images', { describe: 'validation images shown in compare.png', min: 1, default: 4, example: 4 }),
    use_mpio: { type: 'boolean', default: false, describe: 'decode and augment images in worker threads' },
    use_gpu: { type: 'boolean', default: false, describe: 'prefer a GPU backend when installed' },
  },
  examples: [['seg experiment --cfg configs/experiments/roads_softmax.yaml --cfg configs/experiments/roads_lovasz_hinge_bce.yaml --seeds 1,2,3', 'the roads comparison of docs/results.md']],
  async run(args, env) {
    const { startBackend } = await import('../backend_args.js');
    const { runExperiment } = await import('../../train/experiment.js');
    const { defaultWorkers } = await import('../../data/loader.js');
    const configs = (args['cfg'] as string[]).map(String);
    const seeds = String(args['seeds'])
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '')
      .map((s) => {
        const n = Number(s);
        if (!Number.isInteger(n) || n < 0) throw usageError(`--seeds expects comma-separated non-negative integers, got ${JSON.stringify(args['seeds'])}`, { hint: 'e.g. --seeds 1,2,3' });
        return n;
      });
    if (seeds.length === 0) throw usageError('--seeds is empty', { hint: 'e.g. --seeds 1,2,3' });
    const out = typeof args['out'] === 'string' ? args['out'] : path.join('runs', configs.map((c) => path.basename(c).replace(/\.ya?ml$/i, '')).join('-vs-'));
    await startBackend(args, env);
    const workers = defaultWorkers(ConfigSchema.parse({}), Boolean(args['use_mpio']));
    const r = await runExperiment({ configs, seeds, out, overrides: env.overrides, workers, compareImages: Number(args['compare_images']), interactive: env.isTTY && !args.quiet }, env.ctx);
    if (args.json) env.out(JSON.stringify({ out: r.out, files: r.files, configs: r.configs, runs: r.runs }));
    else {
      env.out(`${r.configs.map((c) => `${c.name}: mIoU ${(100 * c.miou.mean).toFixed(2)} ± ${(100 * c.miou.sd).toFixed(2)}${c.foregroundIou ? `, foreground IoU ${(100 * c.foregroundIou.mean).toFixed(2)} ± ${(100 * c.foregroundIou.sd).toFixed(2)}` : ''} (${c.seeds.length} seed${c.seeds.length > 1 ? 's' : ''})`).join('\n')}\ntable:   ${path.relative(process.cwd(), r.files.markdown)}\ncurves:  ${path.relative(process.cwd(), r.files.curves)}\nimages:  ${path.relative(process.cwd(), r.files.compare)}`);
    }
    return 0;
  },
};
