import * as path from 'node:path';
import type { Command } from '../command.js';

export const plotCommand: Command = {
  name: 'plot <runs..>',
  describe: 'draw loss, learning-rate and validation IoU curves from metrics.jsonl of one or more runs as a PNG',
  positionals: { runs: { type: 'string', array: true, describe: 'run folders (TRAIN.MODEL_SAVE_DIR) or metrics.jsonl files' } },
  options: {
    output: { alias: 'o', type: 'string', describe: 'PNG file to write (default: <run>/plot.png for one run, plot.png for several)', requiresArg: true },
    title: { type: 'string', describe: 'chart title', requiresArg: true },
  },
  examples: [['seg plot runs/softmax runs/lovasz -o cmp.png', 'overlay two runs']],
  async run(args, env) {
    const { readMetrics } = await import('../../train/metrics_log.js');
    const { renderPlotSvg } = await import('../../train/plot.js');
    const { writeSvgAsPng } = await import('../../data/image_io.js');
    const given = args['runs'] as string[];
    const base = (r: string): string => path.basename(path.resolve(r).replace(/metrics\.jsonl$/, ''));
    const unique = new Set(given.map(base)).size === given.length;
    const runs = given.map((r) => ({ name: unique ? base(r) : r, records: readMetrics(r) }));
    const first = given[0] ?? '.';
    const out = typeof args['output'] === 'string' ? args['output'] : runs.length === 1 ? path.join(first, 'plot.png') : 'plot.png';
    const svg = await renderPlotSvg(runs, typeof args['title'] === 'string' ? { title: args['title'] } : {});
    await writeSvgAsPng(out, svg);
    if (args.json) env.out(JSON.stringify({ output: path.resolve(out), runs: runs.map((r) => ({ name: r.name, records: r.records.length })) }));
    else env.out(`wrote ${out}`);
    return 0;
  },
};
