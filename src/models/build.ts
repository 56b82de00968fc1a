/**
 * buildModel: DeepLabv3+ from MODEL.* (pdseg reference §7). See docs/model.md.
 *
 *   images ─ pad to a multiple of OUTPUT_STRIDE ─ backbone ─┬─ [ASPP encoder] ─┬─ [decoder] ─ head ─ bilinear ↑ ─ crop ─ logits
 *                                                           └── low-level ─────┘
 *
 * Input sizes: H and W need not be multiples of the output stride. The input is zero-padded at the
 * bottom and right up to the next multiple (zero is the mean colour after normalisation, i.e. the
 * padding pdseg's data pipeline uses, PADDING_VALUE = MEAN·255), and the logits are cropped back,
 * so the output is always [N, H, W, headChannels]. pdseg's own crop sizes (769, 1025) are
 * multiples of 16 plus one, so they are padded by 15 pixels.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { SegConfig } from '../config/schema.js';
import { headKindOf } from '../losses/names.js';
import { allLossNames } from '../losses/mix.js';
import { currentOps } from '../ops/index.js';
import type { OpSet } from '../ops/types.js';
import { configError, dataError } from '../util/errors.js';
import { deriveSeed, SALT } from '../util/rng.js';
import { BACKBONES } from './backbones/registry.js';
import type { BackboneName } from './backbones/names.js';
import type { Backbone, OutputStride } from './backbones/types.js';
import { buildDecoder, buildEncoder, buildHead, defaultAsppRates, type AsppOptions, type Decoder, type DecoderOptions, type Encoder } from './deeplab.js';
import type { NormSpec } from './layers.js';
import type { ApplyContext, ApplyOptions, Layer, NamedVariable, SegModel } from './types.js';
import { VariableStore } from './variables.js';

export type { NamedVariable, SegModel, ApplyContext } from './types.js';

/** Everything that determines the network, derived from the config (or written by hand in tests). */
export interface DeepLabOptions {
  backbone: BackboneName;
  inputChannels: number;
  headChannels: number;
  multiplier: number;
  outputStride: OutputStride;
  /** null: no ASPP (the backbone output goes to the decoder or head directly). */
  aspp: AsppOptions | null;
  /** null: no decoder (the head runs at the output stride). */
  decoder: DecoderOptions | null;
  normType: 'bn' | 'gn';
  groups: number;
  epsilon: number;
  /** Batch-norm momentum of the backbone (pdseg: 0.9). */
  backboneMomentum: number;
  /** Batch-norm momentum of the encoder and decoder (MODEL.BN_MOMENTUM). */
  headMomentum: number;
}

/** pdseg's backbone batch-norm momentum (its BN helper's default), independent of MODEL.BN_MOMENTUM. */
export const BACKBONE_BN_MOMENTUM = 0.9;
/** Dropout rate after the ASPP projection (pdseg's 0.9 is a quirk, see docs/model.md). */
export const ASPP_DROPOUT = 0.1;
/** Channels of the decoder's low-level projection. */
export const DECODER_SHORTCUT_CHANNELS = 48;

/**
 * Channels of the model's head: 1 when a one-channel loss (bce, dice, lovasz_hinge) is configured
 * at any stage (pdseg's rule, losses/names.ts), else NUM_CLASSES.
 */
export function headChannels(cfg: SegConfig): number {
  return headKindOf(allLossNames(cfg)) === 'one-channel' ? 1 : cfg.DATASET.NUM_CLASSES;
}

/** The network the config describes. */
export function deeplabOptionsFromConfig(cfg: SegConfig): DeepLabOptions {
  const d = cfg.MODEL.DEEPLAB;
  const os = d.OUTPUT_STRIDE as OutputStride;
  const rates = d.ENCODER.ASPP_RATIOS ?? defaultAsppRates(os);
  if (d.ENCODER_WITH_ASPP && d.ENCODER.ASPP_RATIOS !== null && d.ENCODER.ASPP_RATIOS.length === 0) {
    throw configError('MODEL.DEEPLAB.ENCODER.ASPP_RATIOS: is an empty list', { key: 'MODEL.DEEPLAB.ENCODER.ASPP_RATIOS', hint: 'give atrous rates such as [6, 12, 18], or None for the default of the output stride' });
  }
  return {
    backbone: d.BACKBONE as BackboneName,
    inputChannels: cfg.DATASET.DATA_DIM,
    headChannels: headChannels(cfg),
    multiplier: d.DEPTH_MULTIPLIER,
    outputStride: os,
    aspp: d.ENCODER_WITH_ASPP
      ? {
          filters: d.ENCODER.ASPP_CONVS_FILTERS,
          rates,
          sepConv: d.ASPP_WITH_SEP_CONV,
          imagePooling: d.ENCODER.ADD_IMAGE_LEVEL_FEATURE,
          concatProjection: d.ENCODER.ASPP_WITH_CONCAT_PROJECTION,
          dropout: ASPP_DROPOUT,
        }
      : null,
    decoder: d.ENABLE_DECODER
      ? { sumMerge: d.DECODER.USE_SUM_MERGE, filters: d.DECODER.CONV_FILTERS, sepConv: d.DECODER_USE_SEP_CONV, shortcutChannels: DECODER_SHORTCUT_CHANNELS }
      : null,
    normType: cfg.MODEL.DEFAULT_NORM_TYPE,
    groups: cfg.MODEL.DEFAULT_GROUP_NUMBER,
    epsilon: cfg.MODEL.DEFAULT_EPSILON,
    backboneMomentum: BACKBONE_BN_MOMENTUM,
    headMomentum: cfg.MODEL.BN_MOMENTUM,
  };
}

/** The smallest multiple of `stride` that is ≥ n. */
export const paddedSize = (n: number, stride: number): number => Math.ceil(n / stride) * stride;

/** DeepLabv3+ with a registered backbone. */
export class DeepLabV3Plus implements SegModel {
  readonly headChannels: number;
  readonly outputStride: number;
  readonly inputChannels: number;
  readonly options: Readonly<DeepLabOptions>;
  readonly weights: readonly NamedVariable[];
  private readonly backbone: Backbone;
  private readonly encoder: Encoder | undefined;
  private readonly decoder: Decoder | undefined;
  private readonly head: Layer;
  private readonly seed: number;
  private calls = 0;
  private disposed = false;

  constructor(options: DeepLabOptions, seed: number) {
    this.options = Object.freeze({ ...options });
    this.seed = seed >>> 0;
    this.headChannels = options.headChannels;
    this.outputStride = options.outputStride;
    this.inputChannels = options.inputChannels;
    const store = VariableStore.create(this.seed);
    const norm = (momentum: number): NormSpec => ({ type: options.normType, momentum, epsilon: options.epsilon, groups: options.groups });
    const entry = BACKBONES[options.backbone];
    if (!entry) throw configError(`unknown backbone ${String(options.backbone)}`, { key: 'MODEL.DEEPLAB.BACKBONE' });
    this.backbone = entry.build(store.scope('backbone'), {
      inputChannels: options.inputChannels,
      multiplier: options.multiplier,
      outputStride: options.outputStride,
      norm: norm(options.backboneMomentum),
    });
    let channels = this.backbone.outChannels;
    if (options.aspp) {
      this.encoder = buildEncoder(store, channels, options.aspp, norm(options.headMomentum));
      channels = this.encoder.outChannels;
    }
    if (options.decoder) {
      this.decoder = buildDecoder(store, channels, this.backbone.lowLevelChannels, options.decoder, norm(options.headMomentum));
      channels = this.decoder.outChannels;
    }
    this.head = buildHead(store, channels, options.headChannels);
    this.weights = Object.freeze([...store.variables]);
  }

  /**
   * The whole network over any OpSet: pad, backbone, encoder, decoder, head, upsample, crop.
   * `apply` runs it with the active tfjs ops; `seg export` traces it into a graph.
   */
  forward<T>(ops: OpSet<T>, images: T, ctx: ApplyContext): T {
    const [, h, w] = ops.shape(images);
    const hp = paddedSize(h, this.outputStride);
    const wp = paddedSize(w, this.outputStride);
    const x = hp === h && wp === w ? images : ops.padTo(images, hp, wp);
    const { out, lowLevel } = this.backbone.apply(ops, x, ctx);
    let y = out;
    if (this.encoder) y = this.encoder.apply(ops, y, ctx);
    if (this.decoder) y = this.decoder.apply(ops, y, lowLevel, ctx);
    const logits = ops.resizeBilinear(this.head(ops, y, ctx), [hp, wp]);
    return hp === h && wp === w ? logits : ops.crop(logits, h, w);
  }

  apply(images: tf.Tensor4D, opts: ApplyOptions): tf.Tensor4D {
    if (this.disposed) throw new Error('DeepLabV3Plus.apply: the model was disposed');
    if (images.rank !== 4) throw dataError(`model input must be [N, H, W, C], got shape [${images.shape.join(', ')}]`);
    const c = images.shape[3];
    if (c !== this.inputChannels) {
      throw dataError(`model input has ${c} channels but the model takes ${this.inputChannels} (DATASET.DATA_DIM)`, {
        key: 'DATASET.IMAGE_TYPE',
        hint: 'rgb and gray images are fed as 3 channels, rgba as 4',
      });
    }
    if (images.dtype !== 'float32') throw dataError(`model input must be float32 normalised images, got ${images.dtype}`);
    const seed = opts.seed ?? deriveSeed(this.seed, SALT.apply, this.calls++);
    const ops = currentOps();
    return tf.tidy(() => this.forward(ops, images, { ...opts, seed }));
  }

  trainableVariables(): tf.Variable[] {
    return this.weights.filter((w) => w.trainable).map((w) => w.variable);
  }

  /** Number of scalar weights (all, or only trainable ones). */
  parameterCount(which: 'all' | 'trainable' = 'all'): number {
    return this.weights.filter((w) => which === 'all' || w.trainable).reduce((s, w) => s + w.variable.size, 0);
  }

  /** One line for logs, e.g. `DeepLabv3+ mobilenetv2 x1.0 OS16, ASPP off, decoder off, head 1 ch, 2,236,161 weights`. */
  describe(): string {
    const o = this.options;
    const aspp = o.aspp ? `ASPP rates [${o.aspp.rates.join(',')}]${o.aspp.sepConv ? ' sep' : ''}` : 'ASPP off';
    const dec = o.decoder ? `decoder ${o.decoder.sumMerge ? 'sum' : 'concat'}${o.decoder.sepConv ? ' sep' : ''}` : 'decoder off';
    return `DeepLabv3+ ${o.backbone} x${o.multiplier.toFixed(2).replace(/0$/, '')} OS${o.outputStride} ${o.normType}, ${aspp}, ${dec}, head ${o.headChannels} ch, ${this.parameterCount('trainable').toLocaleString('en-US')} trainable weights`;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const w of this.weights) w.variable.dispose();
  }
}

/**
 * Build DeepLabv3+ from the config. Initialisation is seeded by `opts.seed`, else SEED, else 0:
 * the same seed gives the same weights.
 */
export function buildModel(cfg: SegConfig, opts: { seed?: number } = {}): DeepLabV3Plus {
  return new DeepLabV3Plus(deeplabOptionsFromConfig(cfg), opts.seed ?? cfg.SEED ?? 0);
}
