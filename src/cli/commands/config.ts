import type { Command } from '../command.js';
import { cfgOption } from '../command.js';
import { configFromArgs } from '../config_args.js';
import { configToJson, configToYaml } from '../../config/format.js';

export const configCommand: Command = {
  name: 'config',
  describe: 'print the fully resolved config (defaults, file, overrides, derived values)',
  overrides: true,
  options: { cfg: cfgOption },
  examples: [
    ['seg config --cfg configs/lovasz_hinge_road.yaml', 'print the resolved config as YAML'],
    ["seg config --cfg configs/lovasz_hinge_road.yaml SOLVER.LOSS \"['lovasz_hinge_loss','bce_loss']\" --json", 'as one JSON object'],
  ],
  async run(args, env) {
    const { config } = configFromArgs(args, env);
    env.out(args.json ? configToJson(config) : configToYaml(config));
    return 0;
  },
};
