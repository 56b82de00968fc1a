/**
 * `ensureDataset(cfg)`: call before reading data (train, eval, vis, check). When DATASET.DATA_DIR
 * does not exist:
 *  - for the offline MNIST datasets (a DATA_DIR ending in mnist_roads or mnist_digits) it is
 *    generated on the spot, with the default seed and count, exactly as `seg dataset make <name>`
 *    would (a few seconds; so `seg train --cfg configs/quickstart_roads.yaml` works on a fresh clone);
 *  - for the downloadable ones it is a data error whose hint is the exact download command;
 *  - otherwise a data error saying how to make file lists.
 * It also checks the list files the command needs, and returns the config with *_TOTAL_IMAGES
 * recounted (config resolution counted them before a generated dataset existed).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { SegConfig } from '../../config/schema.js';
import type { RunContext } from '../../util/context.js';
import { dataError } from '../../util/errors.js';
import { listFileFor, listKeyFor, type Split } from '../file_list.js';
import { setListTotals } from '../../util/list_totals.js';
import { DEFAULT_MAKE_SEED, makeDataset, MAKE_NAMES, type MakeName } from './make.js';
import { datasetForDir, missingDatasetHint } from './registry.js';

export { missingDatasetHint };

export interface EnsureOptions {
  cwd?: string;
  /** Splits whose lists must exist (default train and val). */
  splits?: readonly Split[];
  /** Generate the offline datasets when missing (default true). */
  generate?: boolean;
  /** Training tiles of a generated dataset (default: the dataset's default count; tests use fewer). */
  count?: number;
}

/** Make sure the config's dataset exists (see the module comment); returns the config with list counts updated. */
export async function ensureDataset(cfg: SegConfig, ctx: RunContext, opts: EnsureOptions = {}): Promise<SegConfig> {
  const cwd = opts.cwd ?? process.cwd();
  const dataDir = path.resolve(cwd, cfg.DATASET.DATA_DIR);
  const known = datasetForDir(cfg.DATASET.DATA_DIR);
  if (!fs.existsSync(dataDir)) {
    const makeName = known?.kind === 'make' && path.basename(dataDir) === known.dir && (MAKE_NAMES as readonly string[]).includes(known.name) ? (known.name as MakeName) : undefined;
    if (makeName && opts.generate !== false) {
      ctx.log.info(`DATASET.DATA_DIR ${cfg.DATASET.DATA_DIR} does not exist: generating the ${makeName} dataset from MNIST (first use; same as \`seg dataset make ${makeName}\`)`);
      const m = await makeDataset(makeName, { outDir: dataDir, seed: DEFAULT_MAKE_SEED, ...(opts.count !== undefined ? { count: opts.count } : {}) }, ctx);
      ctx.log.info(`wrote ${m.splits.train.count} training and ${m.splits.val.count} validation tiles to ${dataDir}`);
    } else {
      throw dataError(`DATASET.DATA_DIR ${cfg.DATASET.DATA_DIR} does not exist (${dataDir})`, { key: 'DATASET.DATA_DIR', file: dataDir, hint: missingDatasetHint(cfg.DATASET.DATA_DIR) });
    }
  }
  const out: SegConfig = structuredClone(cfg);
  for (const split of opts.splits ?? (['train', 'val'] as const)) {
    const list = listFileFor(cfg, split);
    const abs = path.resolve(cwd, list);
    if (!fs.existsSync(abs)) {
      throw dataError(`${listKeyFor(cfg, split)}: the file list ${list} does not exist (${abs})`, { key: listKeyFor(cfg, split), file: list, hint: known ? missingDatasetHint(cfg.DATASET.DATA_DIR) : 'write file lists with `seg dataset list <dir>`, or fix the path in the config' });
    }
  }
  setListTotals(out, cwd);
  return out;
}
