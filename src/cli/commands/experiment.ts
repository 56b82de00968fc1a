import type { Command } from '../command.js';
import { notBuilt } from './not_built.js';

export const experimentCommand: Command = {
  name: 'experiment',
  describe: 'train and evaluate several configs with the same seed and budget, and compare them',
  options: { cfg: { type: 'string', array: true, demandOption: true, describe: 'one config per run (repeat --cfg)', requiresArg: true } },
  async run() {
    notBuilt('seg experiment');
  },
};
