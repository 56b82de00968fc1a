/**
 * The Lovász losses compute exactly Alg. 1 (Berman et al. 2018): value and gradient against an
 * independent naive float64 implementation (naive.ts: comparator sort, paper's Jaccard
 * differences, chain rule through a constant permutation) on random inputs that exercise every
 * path (pooled and per image, ignored pixels, ties, absent classes, only-background and
 * only-foreground sets, errors ≤ 0); and the radix sort against a stable comparator sort.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { lovaszHingeLoss } from '../../src/losses/lovasz_hinge_loss.js';
import { lovaszSoftmaxLoss } from '../../src/losses/lovasz_softmax_loss.js';
import { ascendingKey, descendingKeyPositive, SortBuffers } from '../../src/losses/lovasz_sort.js';
import { Rng } from '../../src/util/rng.js';
import { BACKENDS, useBackend } from './backend.js';
import { assertGrad, assertValue } from './golden.js';
import { lovaszGrad, naiveHinge, naiveLovaszSoftmax } from './naive.js';

const f32 = (x: number): number => Math.fround(x);

/** Float32 bits of x. */
function bitsOf(x: number): number {
  const b = new Float32Array([x]);
  return new Uint32Array(b.buffer)[0] as number;
}

test('Alg. 1 on a worked example: gt (sorted) 1,0,1,0 gives g = (1/2, 1/6, 1/3, 0)', () => {
  // G = 2. k=1: I=1, U=2, J=1/2. k=2: I=1, U=3, J=2/3. k=3: I=0, U=3, J=1. k=4: I=0, U=4, J=1.
  // g = (1/2, 2/3−1/2, 1−2/3, 1−1) = (1/2, 1/6, 1/3, 0).
  const g = lovaszGrad([1, 0, 1, 0]);
  const expected = [1 / 2, 1 / 6, 1 / 3, 0];
  g.forEach((v, i) => assert.ok(Math.abs(v - (expected[i] as number)) < 1e-15, `g[${i}] = ${v}`));
  assert.ok(Math.abs(g.reduce((a, b) => a + b, 0) - 1) < 1e-15, 'Σ g = J_P = 1');
});

test('ascendingKey orders every float32 class: -Inf < -1e30 < -1 < -tiny < 0 < tiny < 1 < 1e30 < Inf', () => {
  const xs = [-Infinity, -1e30, -1, -1e-40, 0, 1e-40, 1, 1e30, Infinity];
  const keys = xs.map((x) => ascendingKey(bitsOf(x)));
  for (let i = 1; i < keys.length; i++) assert.ok((keys[i - 1] as number) < (keys[i] as number), `${xs[i - 1]} < ${xs[i]}`);
  const pos = [1e-40, 1e-8, 0.25, 0.5, 0.75, 1];
  const dk = pos.map((x) => descendingKeyPositive(bitsOf(x)));
  for (let i = 1; i < dk.length; i++) assert.ok((dk[i - 1] as number) > (dk[i] as number), `desc ${pos[i - 1]} vs ${pos[i]}`);
});

test('radix sort = stable comparator sort, for sizes that use 8-, 11- and 16-bit digits and with many ties', () => {
  const rng = new Rng(5);
  for (const n of [0, 1, 2, 7, 1000, 5000, 70_000, 200_000]) {
    for (const kind of ['floats', 'ties', 'constant']) {
      const values = Array.from({ length: n }, () =>
        kind === 'floats' ? f32(rng.normal() * 10 ** rng.int(-5, 5)) : kind === 'ties' ? f32(rng.int(-3, 3) * 0.5) : 2.5,
      );
      const buf = new SortBuffers(n);
      values.forEach((v, i) => {
        buf.keys[i] = ascendingKey(bitsOf(v === 0 ? 0 : v)); // −0 canonicalised as the losses do
        buf.index[i] = i;
      });
      const got = Array.from(buf.sort(n));
      const want = values.map((_, i) => i).sort((a, b) => (values[a] as number) - (values[b] as number) || a - b);
      assert.deepEqual(got, want, `n=${n} ${kind}`);
    }
  }
});

interface Case {
  name: string;
  N: number;
  H: number;
  W: number;
  C: number;
  seed: number;
  ignore: number;
  perImage: boolean;
  classes?: 'present' | 'all';
  /** How to draw logits. */
  logits: 'normal' | 'levels' | 'repeated' | 'halves' | 'confident';
  /** Order float32 errors (of tfjs's own softmax), as seg does: for large sets (see naive.ts). */
  float32Errors?: boolean;
  /** Label pattern. */
  labels: 'random' | 'no-foreground-image' | 'only-foreground-image' | 'absent-class';
}

function makeCase(c: Case): { logits: Float32Array; labels: Int32Array } {
  const rng = new Rng(c.seed);
  const P = c.N * c.H * c.W;
  const K = c.C === 1 ? 2 : c.C;
  const labels = new Int32Array(P);
  const HW = c.H * c.W;
  for (let j = 0; j < P; j++) {
    let y = rng.int(0, K - 1);
    if (c.labels === 'no-foreground-image' && j < HW) y = 0;
    if (c.labels === 'only-foreground-image' && j < HW) y = 1;
    if (c.labels === 'absent-class' && y === K - 1) y = 0;
    labels[j] = rng.random() < c.ignore ? 255 : y;
  }
  const logits = new Float32Array(P * c.C);
  // 'repeated': every pixel takes one of 4 random logit vectors, so that equal errors abound
  // (within a role: a tie between a foreground error 1 − p and a background error p would be
  // decided by rounding, differently in float32 and float64).
  const base = Array.from({ length: 4 * c.C }, () => 2 * rng.normal());
  const pick = Array.from({ length: P }, () => rng.int(0, 3));
  for (let i = 0; i < logits.length; i++) {
    const y = labels[Math.floor(i / c.C)] as number;
    if (c.logits === 'normal') logits[i] = 2 * rng.normal();
    else if (c.logits === 'levels') logits[i] = rng.int(-3, 3) * 0.5;
    // 'halves': (0, 0) (p = 1/2 exactly: a foreground error 1 − p equals a background error p)
    // or (1, 0), for 2 classes.
    else if (c.logits === 'halves') logits[i] = i % 2 === 0 && (pick[Math.floor(i / c.C)] as number) < 2 ? 1 : 0;
    else if (c.logits === 'repeated') logits[i] = base[(pick[Math.floor(i / c.C)] as number) * c.C + (i % c.C)] as number;
    else logits[i] = c.C === 1 ? (y === 1 ? 1 : -1) * (0.5 + 2 * rng.random()) : (i % c.C === y ? 3 : 0) + rng.normal();
  }
  return { logits, labels };
}

const HINGE_CASES: Case[] = [
  { name: 'pooled, 10% ignored', N: 3, H: 17, W: 19, C: 1, seed: 1, ignore: 0.1, perImage: false, logits: 'normal', labels: 'random' },
  { name: 'per image', N: 3, H: 17, W: 19, C: 1, seed: 2, ignore: 0.1, perImage: true, logits: 'normal', labels: 'random' },
  { name: 'ties (logits on 7 levels)', N: 2, H: 20, W: 20, C: 1, seed: 3, ignore: 0.05, perImage: false, logits: 'levels', labels: 'random' },
  { name: 'ties per image', N: 2, H: 20, W: 20, C: 1, seed: 4, ignore: 0.05, perImage: true, logits: 'levels', labels: 'random' },
  { name: 'image without foreground, per image', N: 2, H: 12, W: 13, C: 1, seed: 5, ignore: 0, perImage: true, logits: 'normal', labels: 'no-foreground-image' },
  { name: 'image of foreground only, per image', N: 2, H: 12, W: 13, C: 1, seed: 6, ignore: 0.1, perImage: true, logits: 'normal', labels: 'only-foreground-image' },
  { name: 'mostly satisfied margins (errors ≤ 0 dropped)', N: 2, H: 30, W: 30, C: 1, seed: 7, ignore: 0.1, perImage: false, logits: 'confident', labels: 'random' },
  { name: 'large pooled set (16-bit digits)', N: 2, H: 200, W: 200, C: 1, seed: 8, ignore: 0.02, perImage: false, logits: 'normal', labels: 'random' },
];

const SOFTMAX_CASES: Case[] = [
  { name: 'pooled, present', N: 2, H: 11, W: 13, C: 5, seed: 11, ignore: 0.1, perImage: false, logits: 'normal', labels: 'random' },
  { name: "pooled, 'all' with an absent class", N: 2, H: 11, W: 13, C: 5, seed: 12, ignore: 0.1, perImage: false, classes: 'all', logits: 'normal', labels: 'absent-class' },
  { name: 'per image, present', N: 3, H: 9, W: 10, C: 4, seed: 13, ignore: 0.1, perImage: true, logits: 'normal', labels: 'random' },
  { name: "per image, 'all'", N: 3, H: 9, W: 10, C: 4, seed: 14, ignore: 0.1, perImage: true, classes: 'all', logits: 'normal', labels: 'absent-class' },
  { name: 'ties (4 distinct logit vectors)', N: 2, H: 10, W: 10, C: 3, seed: 15, ignore: 0.05, perImage: false, logits: 'repeated', labels: 'random' },
  { name: 'ties per image', N: 2, H: 10, W: 10, C: 3, seed: 18, ignore: 0.05, perImage: true, logits: 'repeated', labels: 'random' },
  { name: 'logits (0, 0) or (1, 0): foreground and background errors tie exactly at 0.5', N: 2, H: 8, W: 8, C: 2, seed: 19, ignore: 0.1, perImage: false, logits: 'halves', labels: 'random' },
  { name: 'confident (trained-like)', N: 2, H: 16, W: 16, C: 6, seed: 16, ignore: 0.05, perImage: false, logits: 'confident', labels: 'random' },
  { name: 'large pooled set (16-bit digits)', N: 1, H: 160, W: 160, C: 4, seed: 17, ignore: 0.02, perImage: false, logits: 'normal', labels: 'random', float32Errors: true },
];

for (const backend of BACKENDS) {
  test(`lovasz_hinge_loss = naive Alg. 1 (value 1e-5, gradient 1e-4) [${backend}]`, async () => {
    await useBackend(backend);
    for (const c of HINGE_CASES) {
      const { logits, labels } = makeCase(c);
      const opts = { ignoreIndex: 255, perImage: c.perImage };
      const want = naiveHinge(c.N, c.H * c.W, logits, labels, opts);
      const x = tf.tensor4d(logits, [c.N, c.H, c.W, 1]);
      const y = tf.tensor3d(labels, [c.N, c.H, c.W], 'int32');
      const { value, grad } = tf.valueAndGrad((t: tf.Tensor4D) => lovaszHingeLoss(t, y, opts))(x);
      assertValue(value.dataSync()[0] as number, want.value, `hinge ${c.name}`);
      assertGrad(grad.dataSync(), want.grad, `hinge ${c.name}`);
      tf.dispose([x, y, value, grad]);
    }
  });

  test(`lovasz_softmax_loss = naive Alg. 1 through the softmax (value 1e-5, gradient 1e-4) [${backend}]`, async () => {
    await useBackend(backend);
    for (const c of SOFTMAX_CASES) {
      const { logits, labels } = makeCase(c);
      const opts = { ignoreIndex: 255, perImage: c.perImage, classes: c.classes ?? 'present' } as const;
      const x = tf.tensor4d(logits, [c.N, c.H, c.W, c.C]);
      const probs = c.float32Errors ? tf.tidy(() => tf.softmax(x).dataSync()) : undefined;
      const want = naiveLovaszSoftmax(c.N, c.H * c.W, c.C, logits, labels, opts, probs);
      const y = tf.tensor3d(labels, [c.N, c.H, c.W], 'int32');
      const { value, grad } = tf.valueAndGrad((t: tf.Tensor4D) => lovaszSoftmaxLoss(t, y, opts))(x);
      assertValue(value.dataSync()[0] as number, want.value, `softmax ${c.name}`);
      assertGrad(grad.dataSync(), want.grad, `softmax ${c.name}`);
      tf.dispose([x, y, value, grad]);
    }
  });
}
