/**
 * MODEL.LOGIT_BIAS_INIT 'prior' for a new run: count the training labels' classes and start the
 * logit bias at their prior (models/logit_prior.ts says why). A bias loaded from pretrained weights
 * or a checkpoint is kept.
 */
import type { SegConfig } from '../config/schema.js';
import type { Logger } from '../util/context.js';
import type { ListEntry } from '../data/file_list.js';
import { countClassPixels } from '../data/class_counts.js';
import { dataOptions } from '../data/sample.js';
import { LOGIT_BIAS, priorLogitBias, setLogitBias } from '../models/logit_prior.js';
import type { SegModel } from '../models/types.js';

export async function initLogitBiasFromPrior(model: SegModel, cfg: SegConfig, trainList: readonly ListEntry[], log: Logger, loaded: readonly string[] = []): Promise<void> {
  if (cfg.MODEL.LOGIT_BIAS_INIT !== 'prior' || loaded.includes(LOGIT_BIAS)) return;
  const { counts, images } = await countClassPixels(trainList, dataOptions(cfg));
  const bias = priorLogitBias(counts, model.headChannels);
  const total = counts.reduce((a, b) => a + b, 0);
  const shares = counts.map((c, i) => `${cfg.DATASET.CLASS_NAMES?.[i] ?? i} ${((100 * c) / Math.max(1, total)).toFixed(1)} %`);
  setLogitBias(model, bias);
  log.info(`logit bias set to the class prior of ${images} training labels (${shares.slice(0, 6).join(', ')}${shares.length > 6 ? ', ...' : ''}; MODEL.LOGIT_BIAS_INIT prior)`);
}
