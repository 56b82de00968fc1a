import type { Command } from '../command.js';
import { cfgOption } from '../command.js';
import { configFromArgs } from '../config_args.js';
import { notBuilt } from './not_built.js';

export const visCommand: Command = {
  name: 'vis',
  describe: 'write predicted masks, overlays and side-by-side comparisons for DATASET.VIS_FILE_LIST',
  overrides: true,
  options: {
    cfg: cfgOption,
    use_gpu: { type: 'boolean', default: false, describe: 'prefer a GPU backend when installed' },
    vis_dir: { type: 'string', default: 'visual', describe: 'output folder', requiresArg: true },
    model: { type: 'string', describe: 'checkpoint folder (overrides TEST.TEST_MODEL)', requiresArg: true },
    image: { type: 'string', describe: 'an image file or a folder of images instead of the vis list', requiresArg: true },
  },
  async run(args, env) {
    configFromArgs(args, env);
    notBuilt('seg vis');
  },
};
