import type { Command } from '../command.js';
import { cfgOption, gpuOptions } from '../command.js';
import { configFromArgs } from '../config_args.js';
import { notBuilt } from './not_built.js';

export const trainCommand: Command = {
  name: 'train',
  describe: 'train a model (pdseg train.py); checkpoints and metrics go to TRAIN.MODEL_SAVE_DIR',
  overrides: true,
  options: {
    cfg: cfgOption,
    ...gpuOptions,
    do_eval: { type: 'boolean', default: false, describe: 'evaluate on the val list after each snapshot and keep best_model/' },
    log_steps: { type: 'number', default: 10, describe: 'log a line every N steps (non-TTY stderr)', requiresArg: true },
    debug: { type: 'boolean', default: false, describe: 'also log running train accuracy and mIoU' },
  },
  async run(args, env) {
    configFromArgs(args, env);
    notBuilt('seg train');
  },
};
