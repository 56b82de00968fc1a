import type { Command } from '../command.js';
import { notBuilt } from './not_built.js';

export const pretrainedCommand: Command = {
  name: 'pretrained',
  describe: 'download pretrained weights into pretrained_model/',
  subcommands: [
    {
      name: 'download <name>',
      describe: 'download, verify, unpack and convert a named pretrained model',
      positionals: { name: { type: 'string', describe: 'model name' } },
      async run() {
        notBuilt('seg pretrained download');
      },
    },
  ],
};
