import type { Command } from '../command.js';
import { notBuilt } from './not_built.js';

export const datasetCommand: Command = {
  name: 'dataset',
  describe: 'download, generate or list datasets',
  subcommands: [
    {
      name: 'download <name>',
      describe: 'download and unpack a dataset into dataset/ (mini_deepglobe_road, voc2012)',
      positionals: { name: { type: 'string', describe: 'dataset name' } },
      async run() {
        notBuilt('seg dataset download');
      },
    },
    {
      name: 'make <name>',
      describe: 'generate an offline dataset from MNIST digits (mnist_roads, mnist_digits)',
      positionals: { name: { type: 'string', describe: 'dataset name' } },
      options: { count: { type: 'number', describe: 'number of training tiles', requiresArg: true } },
      async run() {
        notBuilt('seg dataset make');
      },
    },
    {
      name: 'list <dir>',
      describe: 'write file lists from image and label folders (pdseg create_dataset_list.py)',
      positionals: { dir: { type: 'string', describe: 'dataset folder' } },
      async run() {
        notBuilt('seg dataset list');
      },
    },
  ],
};
