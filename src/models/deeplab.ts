/**
 * DeepLabv3+'s encoder (ASPP) and decoder, as pdseg builds them (reference §7), with seg's
 * documented differences:
 *
 * Encoder (ENCODER_WITH_ASPP), every branch ASPP_CONVS_FILTERS channels:
 *   image_pool  global mean → 1×1 conv with bias → ReLU → bilinear up (ADD_IMAGE_LEVEL_FEATURE).
 *               pdseg normalises this branch with batch norm, which sees one value per channel
 *               and image (tfjs then outputs β with zero gradient at batch 1, and it is
 *               ill-conditioned at batch 2); seg uses a bias instead of the norm here.
 *   aspp0       1×1 conv → norm → ReLU.
 *   aspp1..k    3×3 atrous convs at the ASPP rates (separable with ASPP_WITH_SEP_CONV:
 *               depthwise → norm → ReLU → 1×1 → norm → ReLU). Rates: ENCODER.ASPP_RATIOS, else
 *               6/12/18 at OS16, 12/24/36 at OS8, none at OS32 (pdseg's rule).
 *   concat      concatenation, then (ASPP_WITH_CONCAT_PROJECTION) 1×1 conv → norm → ReLU and
 *               dropout 0.1 in training (pdseg's 0.9 "downgrade_in_infer" dropout is a quirk).
 * Decoder (ENABLE_DECODER), on the backbone's stride-4 low-level features:
 *   concat merge  shortcut 1×1 conv to 48 → norm → ReLU; encoder output bilinearly resized to
 *                 the shortcut's size; concatenated; two 3×3 stages of DECODER.CONV_FILTERS
 *                 (separable with DECODER_USE_SEP_CONV), each → norm → ReLU.
 *   sum merge     (DECODER.USE_SUM_MERGE) resized encoder output and shortcut each through a 1×1
 *                 conv to DECODER.CONV_FILTERS (no norm), summed.
 * Head: 1×1 conv with bias to the head channels.
 */
import { deriveSeed, SALT } from '../util/rng.js';
import { convBias, convBn, sepConv, type NormSpec } from './layers.js';
import type { OpSet } from '../ops/types.js';
import type { ApplyContext, Layer } from './types.js';
import type { VariableStore } from './variables.js';

export interface AsppOptions {
  filters: number;
  rates: readonly number[];
  sepConv: boolean;
  imagePooling: boolean;
  concatProjection: boolean;
  /** Dropout rate after the projection, in training. */
  dropout: number;
}

export interface DecoderOptions {
  sumMerge: boolean;
  filters: number;
  sepConv: boolean;
  /** Channels of the shortcut projection (concat merge): 48. */
  shortcutChannels: number;
}

export interface Stage {
  readonly outChannels: number;
}

export interface Encoder extends Stage {
  apply<T>(ops: OpSet<T>, x: T, ctx: ApplyContext): T;
}

export interface Decoder extends Stage {
  apply<T>(ops: OpSet<T>, x: T, lowLevel: T, ctx: ApplyContext): T;
}

/** ASPP rates when ENCODER.ASPP_RATIOS is None: pdseg's 6/12/18 (OS16), 12/24/36 (OS8), none (OS32). */
export function defaultAsppRates(outputStride: number): number[] {
  if (outputStride === 16) return [6, 12, 18];
  if (outputStride === 8) return [12, 24, 36];
  return [];
}

/** Salt of the dropout seed, so that dropout masks do not correlate with other seeded draws. */

export function buildEncoder(store: VariableStore, cin: number, o: AsppOptions, norm: NormSpec): Encoder {
  const s = store.scope('encoder');
  const imagePool = o.imagePooling ? convBias(s, 'image_pool', cin, o.filters, 1, { bias: true, act: 'relu' }) : undefined;
  const aspp0 = convBn(s, 'aspp0', cin, o.filters, 1, { act: 'relu', norm });
  const atrous: Layer[] = o.rates.map((rate, i) =>
    o.sepConv
      ? sepConv(s, `aspp${i + 1}`, cin, o.filters, { dilation: rate, act: 'relu', norm })
      : convBn(s, `aspp${i + 1}`, cin, o.filters, 3, { dilation: rate, act: 'relu', norm }),
  );
  const branches = (imagePool ? 1 : 0) + 1 + atrous.length;
  const projection = o.concatProjection ? convBn(s, 'concat', o.filters * branches, o.filters, 1, { act: 'relu', norm }) : undefined;
  const encode = <T>(ops: OpSet<T>, x: T, ctx: ApplyContext): T => {
    const [, h, w] = ops.shape(x);
    const outs = [];
    if (imagePool) outs.push(ops.resizeBilinear(imagePool(ops, ops.globalAvgPool(x), ctx), [h, w]));
    outs.push(aspp0(ops, x, ctx));
    for (const layer of atrous) outs.push(layer(ops, x, ctx));
    let y = ops.concat(outs);
    if (projection) {
      y = projection(ops, y, ctx);
      if (ctx.training && o.dropout > 0) y = ops.dropout(y, o.dropout, deriveSeed(ctx.seed, SALT.dropout));
    }
    return y;
  };
  return {
    outChannels: projection ? o.filters : o.filters * branches,
    apply: (ops, x, ctx) => ops.block(() => encode(ops, x, ctx)),
  };
}

export function buildDecoder(store: VariableStore, cin: number, lowLevelChannels: number, o: DecoderOptions, norm: NormSpec): Decoder {
  const s = store.scope('decoder');
  if (o.sumMerge) {
    const encodeProj = convBias(s, 'encode_proj', cin, o.filters, 1, { bias: false });
    const shortcut = convBias(s, 'shortcut', lowLevelChannels, o.filters, 1, { bias: false });
    return {
      outChannels: o.filters,
      apply(ops, x, lowLevel, ctx) {
        const [, h, w] = ops.shape(lowLevel);
        return ops.add(encodeProj(ops, ops.resizeBilinear(x, [h, w]), ctx), shortcut(ops, lowLevel, ctx));
      },
    };
  }
  const shortcut = convBn(s, 'shortcut', lowLevelChannels, o.shortcutChannels, 1, { act: 'relu', norm });
  const merged = cin + o.shortcutChannels;
  const conv1 = o.sepConv ? sepConv(s, 'conv1', merged, o.filters, { act: 'relu', norm }) : convBn(s, 'conv1', merged, o.filters, 3, { act: 'relu', norm });
  const conv2 = o.sepConv ? sepConv(s, 'conv2', o.filters, o.filters, { act: 'relu', norm }) : convBn(s, 'conv2', o.filters, o.filters, 3, { act: 'relu', norm });
  return {
    outChannels: o.filters,
    apply(ops, x, lowLevel, ctx) {
      const merge = () => {
        const sc = shortcut(ops, lowLevel, ctx);
        const [, h, w] = ops.shape(sc);
        return ops.concat([ops.resizeBilinear(x, [h, w]), sc]);
      };
      return ops.block(() => {
        const y = ops.block(() => conv1(ops, ops.block(merge), ctx)); // the merge's parts end with the merge, the merge with conv1
        return conv2(ops, y, ctx); // conv1's output ends with conv2
      });
    },
  };
}

/** The 1×1 head with bias (initialised with std 0.01, pdseg's intended logit init). */
export function buildHead(store: VariableStore, cin: number, channels: number): Layer {
  return convBias(store, 'logit', cin, channels, 1, { bias: true, std: 0.01 });
}
