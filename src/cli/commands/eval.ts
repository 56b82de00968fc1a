import type { Command } from '../command.js';
import { cfgOption, gpuOptions } from '../command.js';
import { configFromArgs } from '../config_args.js';
import { notBuilt } from './not_built.js';

export const evalCommand: Command = {
  name: 'eval',
  describe: 'evaluate TEST.TEST_MODEL on the val list: mIoU, accuracy, per-class IoU/precision/recall, kappa',
  overrides: true,
  options: {
    cfg: cfgOption,
    ...gpuOptions,
    model: { type: 'string', describe: 'checkpoint folder to evaluate (overrides TEST.TEST_MODEL)', requiresArg: true },
    aug_eval: { type: 'boolean', default: false, describe: 'flip test-time augmentation' },
  },
  async run(args, env) {
    configFromArgs(args, env);
    notBuilt('seg eval');
  },
};
