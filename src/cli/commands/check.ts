import * as path from 'node:path';
import type { Command } from '../command.js';
import { cfgOption } from '../command.js';
import { configFromArgs } from '../config_args.js';
import { EXIT_CODES } from '../../util/errors.js';
import { allLossNames } from '../../losses/mix.js';
import { oneChannelLosses } from '../../losses/names.js';

export const checkCommand: Command = {
  name: 'check',
  describe: 'check the dataset and config before training (pdseg check.py); exits 3 when a check is NOT PASS',
  overrides: true,
  options: {
    cfg: cfgOption,
    detail_log: { type: 'string', default: 'detail.log', describe: 'file the offending lines are written to', requiresArg: true },
  },
  examples: [
    ['seg check --cfg configs/quickstart_roads.yaml', 'check the offline road dataset (generated on first use)'],
    ['seg check --cfg configs/lovasz_hinge_road.yaml --json', 'the report as one JSON object on stdout'],
  ],
  async run(args, env) {
    const { checkDataset, detailLog, formatReport } = await import('../../data/check.js');
    const { ensureDataset } = await import('../../data/datasets/ensure.js');
    const { writeFileAtomic } = await import('../../util/atomic.js');
    const { config } = configFromArgs(args, env);
    const cfg = await ensureDataset(config, env.ctx, { splits: [] });
    const losses = allLossNames(cfg);
    const report = await checkDataset(cfg, env.ctx, { oneChannelLosses: oneChannelLosses(losses), losses });
    const logFile = path.resolve(typeof args['detail_log'] === 'string' ? args['detail_log'] : 'detail.log');
    await writeFileAtomic(logFile, detailLog(report), { mkdir: true });
    if (args.json) {
      env.out(JSON.stringify({ ...report, detailLog: logFile }));
    } else {
      env.out(formatReport(report, cfg));
      env.out(`Detailed error information can be viewed in ${logFile}`);
    }
    return report.pass ? EXIT_CODES.ok : EXIT_CODES.data;
  },
};
