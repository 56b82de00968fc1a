/**
 * Derived values: pdseg's `check_and_infer()`, without its quirks.
 *  - DATA_DIM follows IMAGE_TYPE (3 for rgb and gray, 4 for rgba).
 *  - PADDING_VALUE = MEAN*255, but only when the user did not set PADDING_VALUE (pdseg always
 *    overwrote it).
 *  - MODEL.DEEPLAB.BACKBONE is the backbone pdseg's rule picks for it ('mobilenet' → mobilenetv2).
 *  - *_TOTAL_IMAGES = the line count of each file list that exists (pdseg opened all three and
 *    failed on a missing one, even when the command did not need it; seg checks a list when a
 *    command reads it).
 */
import type { SegConfig } from './schema.js';
import { setListTotals } from '../util/list_totals.js';
import { backboneOf } from '../models/backbones/names.js';

export function deriveConfig(cfg: SegConfig, explicit: ReadonlySet<string>, cwd: string): SegConfig {
  const out: SegConfig = structuredClone(cfg);
  out.DATASET.DATA_DIM = cfg.DATASET.IMAGE_TYPE === 'rgba' ? 4 : 3;
  if (!explicit.has('DATASET.PADDING_VALUE')) out.DATASET.PADDING_VALUE = cfg.MEAN.map((m) => m * 255);
  out.MODEL.DEEPLAB.BACKBONE = backboneOf(cfg.MODEL.DEEPLAB.BACKBONE) ?? cfg.MODEL.DEEPLAB.BACKBONE;
  setListTotals(out, cwd, explicit);
  return out;
}
