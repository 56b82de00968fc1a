import type { Command } from '../command.js';
import { cfgOption } from '../command.js';
import { configFromArgs } from '../config_args.js';
import { notBuilt } from './not_built.js';

export const exportCommand: Command = {
  name: 'export',
  describe: 'export TEST.TEST_MODEL as a tfjs inference model with deploy.yaml to FREEZE.SAVE_DIR',
  overrides: true,
  options: {
    cfg: cfgOption,
    model: { type: 'string', describe: 'checkpoint folder (overrides TEST.TEST_MODEL)', requiresArg: true },
  },
  async run(args, env) {
    configFromArgs(args, env);
    notBuilt('seg export');
  },
};
