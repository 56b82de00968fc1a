/**
 * The TypeScript twin of scripts/reference/network_reference.py's value rules, and the loading of
 * test/golden/network_reference.json: every weight, optimiser slot, input pixel and label is a
 * function of its tensor's name and flat (seg-layout) index, so that seg and PyTorch get identical
 * values without either reading the other's weights. Keep the two files' rules identical.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT } from '../helpers/cli.js';
import { hashName } from '../../src/models/variables.js';

/** One tensor of the reference, summarised (see the Python script's docstring). */
export interface Summary {
  n: number;
  norm: number;
  p: [number, number];
  samples: Array<[number, number]>;
  /** ‖t₃₂ − t‖₂: how far PyTorch's own float32 computation lands from the float64 reference. */
  f32: number;
}

export interface ReferenceConfig {
  name: string;
  multiplier: number;
  output_stride: 8 | 16;
  aspp: boolean;
  decoder: boolean;
  head_channels: number;
  aspp_rates: number[];
  loss: Record<string, number>;
  batch: [number, number, number];
  losses: Record<string, number>;
  total: number;
  weights: Array<[string, number[]]>;
  logits_train: Summary;
  logits_eval: Summary;
  moving: Record<string, Summary>;
  grads: Record<string, Summary>;
  sgd: Record<string, Summary>;
  adam: Record<string, Summary>;
}

export interface NetworkReference {
  torch: string;
  sgd: { lr: number; momentum: number; weight_decay: number };
  adam: { lr: number; beta1: number; beta2: number; epsilon: number; weight_decay: number; step: number };
  bn: { epsilon: number; backbone_momentum: number; head_momentum: number };
  configs: ReferenceConfig[];
}

export function networkReference(): NetworkReference {
  return JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'test', 'golden', 'network_reference.json'), 'utf8')) as NetworkReference;
}

/** The 32-bit integer hash of element i of the stream `seed`. */
function mix(seed: number, i: number): number {
  let x = (Math.imul(i, 0x9e3779b1) + seed) >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b) >>> 0;
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35) >>> 0;
  x ^= x >>> 16;
  return x >>> 0;
}

/** n values in [-1, 1) for the tensor called `name` (exactly representable in float32). */
export function uniform(name: string, n: number): Float64Array {
  const seed = hashName(name);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = (mix(seed, i) >>> 8) / (1 << 23) - 1;
  return out;
}

function signs(name: string, n: number): Float64Array {
  const seed = hashName(`sign:${name}`);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = mix(seed, i) >>> 31 ? 1 : -1;
  return out;
}

/** The initial value of weight `name` (seg layout). */
export function weightValues(name: string, shape: readonly number[]): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const u = uniform(name, n);
  let f: (x: number) => number;
  if (name.endsWith('/kernel')) {
    const [kh = 1, kw = 1, cin = 1] = shape;
    const fanIn = kh * kw * (name.includes('/depthwise/') ? 1 : cin);
    const bound = Math.sqrt(6 / fanIn);
    f = (x) => x * bound;
  } else if (name.endsWith('/gamma')) f = (x) => 1 + 0.25 * x;
  else if (name.endsWith('/moving_variance')) f = (x) => 1 + 0.5 * x;
  else f = (x) => 0.2 * x;
  return Float32Array.from(u, f);
}

/** The optimiser slots the reference steps from. */
export function slotM(name: string, n: number): Float32Array {
  return Float32Array.from(uniform(`${name}/m`, n), (x) => 0.01 * x);
}

export function slotV(name: string, n: number): Float32Array {
  return Float32Array.from(uniform(`${name}/v`, n), (x) => 1e-4 * (x + 1.5));
}

/** The synthetic gradient the reference's optimiser steps are taken with. */
export function stepGradient(name: string, n: number): Float32Array {
  return Float32Array.from(uniform(`${name}/g`, n), (x) => 0.1 * x);
}

/** The fixed batch: normalised images [N, H, W, 3] and labels [N, H, W] (5 % ignored). */
export function referenceBatch(c: ReferenceConfig): { images: Float32Array; labels: Int32Array } {
  const [n, h, w] = c.batch;
  const images = Float32Array.from(uniform('input', n * h * w * 3));
  const classes = c.head_channels === 1 ? 2 : c.head_channels;
  const u = uniform('labels', n * h * w);
  const ignore = uniform('ignore', n * h * w);
  const labels = new Int32Array(n * h * w);
  for (let i = 0; i < labels.length; i++) {
    labels[i] = (ignore[i]! + 1) / 2 < 0.05 ? 255 : Math.min(Math.floor(((u[i]! + 1) / 2) * classes), classes - 1);
  }
  return { images, labels };
}

/**
 * An estimate of ‖seg − ref‖₂ from the summary: max(|Δnorm|, |Δp1|, |Δp2|, |Δ sample|) (each is at
 * most about ‖e‖₂, the projections on random signs about ‖e‖₂ itself).
 */
export function difference(name: string, values: ArrayLike<number>, ref: Summary): number {
  if (values.length !== ref.n) return Infinity;
  const r1 = signs(`${name}#1`, ref.n);
  const r2 = signs(`${name}#2`, ref.n);
  let sq = 0;
  let p1 = 0;
  let p2 = 0;
  for (let i = 0; i < ref.n; i++) {
    const v = values[i]!;
    sq += v * v;
    p1 += v * r1[i]!;
    p2 += v * r2[i]!;
  }
  let d = Math.max(Math.abs(Math.sqrt(sq) - ref.norm), Math.abs(p1 - ref.p[0]), Math.abs(p2 - ref.p[1]));
  for (const [i, v] of ref.samples) d = Math.max(d, Math.abs(values[i]! - v));
  return Number.isFinite(d) ? d : Infinity;
}
