import type { Command } from '../command.js';
import { notBuilt } from './not_built.js';

export const plotCommand: Command = {
  name: 'plot <runs..>',
  describe: 'draw loss, learning-rate and mIoU curves from metrics.jsonl of one or more runs as a PNG',
  positionals: { runs: { type: 'string', array: true, describe: 'run folders (TRAIN.MODEL_SAVE_DIR)' } },
  options: { output: { alias: 'o', type: 'string', describe: 'PNG file to write', requiresArg: true } },
  async run() {
    notBuilt('seg plot');
  },
};
