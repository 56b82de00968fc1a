import type { Command } from '../command.js';
import { cfgOption } from '../command.js';
import { configFromArgs } from '../config_args.js';
import { notBuilt } from './not_built.js';

export const checkCommand: Command = {
  name: 'check',
  describe: 'check the dataset and config before training (pdseg check.py); exits 3 when a check is NOT PASS',
  overrides: true,
  options: { cfg: cfgOption },
  async run(args, env) {
    configFromArgs(args, env);
    notBuilt('seg check');
  },
};
