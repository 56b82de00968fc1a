/**
 * MobileNetV2 (Sandler et al. 2018, "MobileNetV2: Inverted Residuals and Linear Bottlenecks") as
 * the DeepLabv3+ backbone, up to and including the 320-channel block (no 1280-channel conv).
 *
 * - Stem: 3×3 stride-2 conv, norm, ReLU6.
 * - Groups (t, c, n, s): (1,16,1,1) (6,24,2,2) (6,32,3,2) (6,64,4,2) (6,96,3,1) (6,160,3,2)
 *   (6,320,1,1). Unit: 1×1 expand to t·cin (norm, ReLU6; absent when t = 1), 3×3 depthwise
 *   (norm, ReLU6), 1×1 linear projection (norm). Only a group's first unit strides; a unit adds
 *   its input when it keeps stride 1 and the channel count.
 * - Width multiplier m: every channel count c becomes makeDivisible(c·m, 8) (the paper's and
 *   torchvision's/Keras's rounding; pdseg used int(c·m), which differs only for 0.25: 16·0.25 → 8
 *   here, 4 in pdseg).
 * - Output stride: once the cumulative stride reaches OUTPUT_STRIDE, a unit that would stride runs
 *   with stride 1 and every later depthwise conv is atrous with the accumulated rate (TF DeepLab's
 *   convention: the unit that would have strided keeps the previous rate). pdseg only dropped the
 *   stride, which shrinks the receptive field of the later units.
 * - Low-level features: the depthwise output (after norm and ReLU6) of the last 24-channel unit,
 *   6·c24 channels at stride 4, as pdseg's decode_point and TF DeepLab's layer_4/depthwise_output.
 *
 * Weight names follow Keras's MobileNetV2 so that its ImageNet weights map one-to-one
 * (src/checkpoint/keras.ts): `stem` ↔ Conv1/bn_Conv1, `block_0` ↔ expanded_conv_*, `block_i` ↔
 * block_i_* (i = 1..16), each with `expand`, `depthwise`, `project`.
 */
import { convBn, depthwiseBn } from '../layers.js';
import type { Layer } from '../types.js';
import type { Backbone, BackboneBuilder, BackboneOptions, OutputStride } from './types.js';

/** The (t, c, n, s) settings of MobileNetV2's inverted-residual groups. */
export const MOBILENETV2_GROUPS: ReadonlyArray<readonly [number, number, number, number]> = Object.freeze([
  [1, 16, 1, 1],
  [6, 24, 2, 2],
  [6, 32, 3, 2],
  [6, 64, 4, 2],
  [6, 96, 3, 1],
  [6, 160, 3, 2],
  [6, 320, 1, 1],
] as const);

/**
 * MobileNetV2's channel rounding (`_make_divisible`): the multiple of `divisor` nearest to v
 * (at least `divisor`), bumped up by one step when rounding down lost more than 10 %.
 */
export function makeDivisible(v: number, divisor = 8): number {
  let n = Math.max(divisor, Math.floor(Math.floor(v + divisor / 2) / divisor) * divisor);
  if (n < 0.9 * v) n += divisor;
  return n;
}

/** One inverted-residual unit of the plan. */
export interface UnitPlan {
  /** 0-based unit index; the weights are under `block_<index>`. */
  index: number;
  /** 0-based group index into MOBILENETV2_GROUPS. */
  group: number;
  cin: number;
  /** Expanded channels (= cin when the unit has no expand conv). */
  hidden: number;
  cout: number;
  expand: boolean;
  stride: number;
  /** Atrous rate of the depthwise conv. */
  rate: number;
  residual: boolean;
}

export interface MobileNetV2Plan {
  stemChannels: number;
  units: UnitPlan[];
  /** Index of the unit whose depthwise output is the low-level feature. */
  lowLevelUnit: number;
  lowLevelChannels: number;
  outChannels: number;
}

/** The units MobileNetV2 builds for a multiplier and output stride. */
export function mobileNetV2Plan(multiplier: number, outputStride: OutputStride): MobileNetV2Plan {
  const stemChannels = makeDivisible(32 * multiplier);
  const units: UnitPlan[] = [];
  let cin = stemChannels;
  let current = 2;
  let rate = 1;
  let lowLevelUnit = -1;
  MOBILENETV2_GROUPS.forEach(([t, c, n, s], group) => {
    const cout = makeDivisible(c * multiplier);
    for (let i = 0; i < n; i++) {
      const wanted = i === 0 ? s : 1;
      let stride: number;
      let unitRate: number;
      if (current * wanted > outputStride) {
        stride = 1;
        unitRate = rate;
        rate *= wanted;
      } else {
        stride = wanted;
        unitRate = rate;
        current *= wanted;
      }
      const hidden = Math.round(cin * t);
      units.push({ index: units.length, group, cin, hidden, cout, expand: t !== 1, stride, rate: unitRate, residual: stride === 1 && cin === cout });
      cin = cout;
    }
    if (group === 1) lowLevelUnit = units.length - 1;
  });
  const low = units[lowLevelUnit];
  if (!low) throw new Error('mobileNetV2Plan: no stride-4 unit');
  return { stemChannels, units, lowLevelUnit, lowLevelChannels: low.hidden, outChannels: cin };
}

export const buildMobileNetV2: BackboneBuilder = (store, opts: BackboneOptions): Backbone => {
  const plan = mobileNetV2Plan(opts.multiplier, opts.outputStride);
  const norm = opts.norm;
  const stem = convBn(store, 'stem', opts.inputChannels, plan.stemChannels, 3, { stride: 2, act: 'relu6', norm });
  const units = plan.units.map((u) => {
    const s = store.scope(`block_${u.index}`);
    const expand: Layer | undefined = u.expand ? convBn(s, 'expand', u.cin, u.hidden, 1, { act: 'relu6', norm }) : undefined;
    const depthwise = depthwiseBn(s, 'depthwise', u.hidden, 3, { stride: u.stride, dilation: u.rate, act: 'relu6', norm });
    const project = convBn(s, 'project', u.hidden, u.cout, 1, { act: 'none', norm });
    return { plan: u, expand, depthwise, project };
  });
  return {
    outChannels: plan.outChannels,
    lowLevelChannels: plan.lowLevelChannels,
    outputStride: opts.outputStride,
    apply(ops, x, ctx) {
      let y = stem(ops, x, ctx);
      let lowLevel: typeof y | undefined;
      for (const u of units) {
        // one block per unit: its expanded (6×) activations are freed when the unit ends
        const r = ops.block(() => {
          const e = u.expand ? u.expand(ops, y, ctx) : y;
          const d = u.depthwise(ops, e, ctx);
          const p = u.project(ops, d, ctx);
          return { y: u.plan.residual ? ops.add(y, p) : p, low: u.plan.index === plan.lowLevelUnit ? d : undefined };
        });
        y = r.y;
        lowLevel = r.low ?? lowLevel;
      }
      if (lowLevel === undefined) throw new Error('mobilenetv2: low-level features were not produced');
      return { out: y, lowLevel };
    },
  };
};
