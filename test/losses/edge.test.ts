/**
 * Edge cases with expected values derived by hand (where the authors' code crashes, returns
 * garbage, or where a closed form is the clearest statement), on the cpu and wasm backends.
 * Each test states its derivation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { LOSS_HEADS, LOSSES, type LossName } from '../../src/losses/registry.js';
import type { LossOptions } from '../../src/losses/types.js';
import { BACKENDS, useBackend } from './backend.js';
import { softmax64 } from './naive.js';

type Shape = [number, number, number, number];

function run(name: LossName, shape: Shape, logits: number[], labels: number[], options: LossOptions = {}): { value: number; grad: number[] } {
  const [N, H, W, C] = shape;
  const x = tf.tensor4d(logits, [N, H, W, C]);
  const y = tf.tensor3d(labels, [N, H, W], 'int32');
  const { value, grad } = tf.valueAndGrad((t: tf.Tensor4D) => LOSSES[name].fn(t, y, options))(x);
  const out = { value: value.dataSync()[0] as number, grad: Array.from(grad.dataSync()) };
  tf.dispose([x, y, value, grad]);
  return out;
}

const close = (a: number, b: number, rtol = 1e-5, atol = 1e-7) => Math.abs(a - b) <= rtol * Math.abs(b) + atol;

function assertClose(actual: readonly number[], expected: readonly number[], what: string, rtol = 1e-4, atol = 1e-7): void {
  assert.equal(actual.length, expected.length, what);
  actual.forEach((a, i) => assert.ok(close(a, expected[i] as number, rtol, atol), `${what}[${i}]: ${a} vs ${expected[i]}`));
}

const ALL: LossName[] = ['softmax_loss', 'dice_loss', 'bce_loss', 'lovasz_hinge_loss', 'lovasz_softmax_loss'];
const isBinary = (n: LossName) => LOSS_HEADS[n] === 'one-channel';

for (const backend of BACKENDS) {
  test(`every pixel ignored: loss 0 and gradient exactly 0, for every loss and mode [${backend}]`, async () => {
    // Nothing is averaged: seg defines the loss of an empty set as 0, with zero gradient. (The
    // authors' lovasz_softmax returns `probas * 0`, an empty tensor, and crashes on backward.)
    await useBackend(backend);
    for (const name of ALL) {
      const C = isBinary(name) ? 1 : 3;
      const shape: Shape = [2, 3, 4, C];
      const logits = Array.from({ length: 24 * C }, (_, i) => Math.sin(i) * 5);
      for (const options of [{}, { perImage: true }, { classes: 'all' as const }, { perImage: true, classes: 'all' as const }]) {
        const r = run(name, shape, logits, new Array(24).fill(255), options);
        assert.equal(r.value, 0, `${name} ${JSON.stringify(options)} value`);
        assert.ok(r.grad.every((g) => g === 0), `${name} ${JSON.stringify(options)} gradient`);
      }
    }
  });

  test(`one valid pixel: closed forms [${backend}]`, async () => {
    await useBackend(backend);
    // Hinge, one pixel, label 1, logit 0.25: err = 1 − 0.25 = 0.75, G = 1, g = (1): loss 0.75,
    // d/dx = −s·g = −1. Label 0, logit 0.25: err = 1.25, g = (1) (G = 0): loss 1.25, d/dx = +1.
    const hinge1 = run('lovasz_hinge_loss', [1, 2, 2, 1], [9, 0.25, -3, 7], [255, 1, 255, 255]);
    assert.ok(close(hinge1.value, 0.75));
    assert.deepEqual(hinge1.grad, [0, -1, 0, 0]);
    const hinge0 = run('lovasz_hinge_loss', [1, 2, 2, 1], [9, 0.25, -3, 7], [255, 0, 255, 255]);
    assert.ok(close(hinge0.value, 1.25));
    assert.deepEqual(hinge0.grad, [0, 1, 0, 0]);
    // Lovász-Softmax, one pixel of class y, p = softmax(z): present classes = {y}, err = 1 − p_y,
    // g = (1): loss = 1 − p_y, d/dz_k = −p_y(δ_yk − p_k). (The authors' flatten_probas squeezes
    // the [1, C] probabilities to [C] and lovasz_softmax_flat fails.)
    const z = [0.3, -1.2, 2.0, 0.5, 0.1, -0.4];
    const p = softmax64(z.slice(3), 1, 3); // pixel 1's probabilities
    const y = 1;
    const ls = run('lovasz_softmax_loss', [1, 1, 2, 3], z, [255, y]);
    assert.ok(close(ls.value, 1 - (p[y] as number)));
    assertClose(ls.grad, [0, 0, 0, ...[0, 1, 2].map((k) => -(p[y] as number) * ((k === y ? 1 : 0) - (p[k] as number)))], 'lovasz_softmax one pixel');
    // classes 'all': the absent classes c ≠ y have G = 0, g = (1): loss_c = p_c; the mean is
    // (1 − p_y + Σ_{c≠y} p_c)/C = 2(1 − p_y)/C, gradient 2/C times the present one.
    const la = run('lovasz_softmax_loss', [1, 1, 2, 3], z, [255, y], { classes: 'all' });
    assert.ok(close(la.value, (2 * (1 - (p[y] as number))) / 3));
    assertClose(la.grad, ls.grad.map((g) => (2 * g) / 3), 'lovasz_softmax one pixel, all');
  });

  test(`an image without foreground: defined loss, gradient pushes its foreground logits down [${backend}]`, async () => {
    await useBackend(backend);
    // Hinge, per image; image 1 is all background. For it G = 0, so g = (1, 0, ...): loss_1 is the
    // largest error 1 + max x, and only that pixel gets d/dx = +1 (before the 1/2 of the image
    // mean): gradient descent lowers the most foreground-looking logit. Ties at the maximum go to
    // the first pixel (stable order), here pixel 1 of image 1 (logit 2.5 appears twice).
    const x = [0.5, -1, 2, 1, /* image 1 */ -0.5, 2.5, 0.25, 2.5];
    const y = [1, 0, 1, 0, /* image 1 */ 0, 0, 0, 0];
    const r = run('lovasz_hinge_loss', [2, 2, 2, 1], x, y, { perImage: true });
    assert.ok(Number.isFinite(r.value));
    assert.deepEqual(r.grad.slice(4), [0, 0.5, 0, 0]);
    // Pooled over a batch without foreground: the same rule over the whole batch.
    const pooled = run('lovasz_hinge_loss', [2, 2, 2, 1], x, [0, 0, 0, 0, 0, 0, 0, 0]);
    assert.ok(close(pooled.value, 3.5)); // 1 + 2.5
    assert.deepEqual(pooled.grad, [0, 0, 0, 0, 0, 1, 0, 0]);
    // bce and dice: every valid pixel of the image is pushed down (σ(x)/V > 0; dice: ∂/∂x =
    // σ'(x)·(2I + 1)/(S + 1)² > 0 with I = 0).
    for (const name of ['bce_loss', 'dice_loss'] as const) {
      const b = run(name, [2, 2, 2, 1], x, y, {});
      assert.ok(Number.isFinite(b.value));
      assert.ok(b.grad.slice(4).every((g) => g > 0), `${name}: ${b.grad.slice(4).join(', ')}`);
    }
    // Lovász-Softmax, classes 'all', 4 pixels of class 0. Class 0: G = 4 = all pixels, so
    // g = 1/4 everywhere and loss_0 = mean(1 − p_0); class 1 is absent: g = (1, 0, ...), loss_1 =
    // max p_1, taken at the FIRST maximal pixel (pixels 1 and 3 tie). loss = (loss_0 + loss_1)/2,
    // d loss/d p = −1/8 on every p_0, +1/2 on p_1 of pixel 1; through the softmax
    // dz_k = p_k·(dp_k − Σ_c dp_c p_c). Pixel 1's class-1 logit is pushed down hard (pixel 3's only
    // through class 0's term).
    const z = [0, 1, 0, 3, 0, 0, 0, 3];
    const p = softmax64(z, 4, 2);
    const dp = [-1 / 8, 0, -1 / 8, 0.5, -1 / 8, 0, -1 / 8, 0];
    const expected = z.map((_, i) => {
      const j = Math.floor(i / 2);
      const dot = (dp[2 * j] as number) * (p[2 * j] as number) + (dp[2 * j + 1] as number) * (p[2 * j + 1] as number);
      return (p[i] as number) * ((dp[i] as number) - dot);
    });
    const ls = run('lovasz_softmax_loss', [1, 2, 2, 2], z, [0, 0, 0, 0], { classes: 'all' });
    const loss0 = [0, 1, 2, 3].reduce((a, j) => a + (1 - (p[2 * j] as number)), 0) / 4;
    assert.ok(close(ls.value, (loss0 + (p[3] as number)) / 2));
    assertClose(ls.grad, expected, 'lovasz_softmax, absent class');
    assert.ok((ls.grad[3] as number) > (ls.grad[7] as number), 'the absent class pushes the first maximal pixel only');
  });

  test(`only foreground: g = 1/G everywhere, loss = mean hinge error [${backend}]`, async () => {
    await useBackend(backend);
    // All labels 1: I_k = G − k, U_k = G, J_k = k/G, g_k = 1/G; loss = Σ relu(1 − x)/G.
    const x = [0.5, 2, -1, 0.75];
    const r = run('lovasz_hinge_loss', [1, 2, 2, 1], x, [1, 1, 1, 1]);
    assert.ok(close(r.value, (0.5 + 0 + 2 + 0.25) / 4));
    assert.deepEqual(r.grad, [-0.25, 0, -0.25, -0.25]); // the pixel with margin 2 ≥ 1 has relu' = 0
  });

  test(`equal logits everywhere: the Lovász extension of a constant error 1 is 1 [${backend}]`, async () => {
    await useBackend(backend);
    // x = 0 everywhere: every error is 1, so loss = Σ_k g_k = J_P = 1 − I_P/U_P = 1 (I_P = 0),
    // whatever the order. The gradient is −s·g in pixel order (stable sort): labels 0,1,1,0 give
    // g = J differences: J = (1 − 2/3, 1 − 1/3, 1 − 0/3, 1 − 0/4) = (1/3, 2/3, 1, 1), g = (1/3, 1/3, 1/3, 0).
    const r = run('lovasz_hinge_loss', [1, 2, 2, 1], [0, 0, 0, 0], [0, 1, 1, 0]);
    assert.ok(close(r.value, 1));
    assertClose(r.grad, [1 / 3, -1 / 3, -1 / 3, 0], 'ties');
  });

  test(`±1e4 logits: finite values and gradients; exact where a closed form exists [${backend}]`, async () => {
    await useBackend(backend);
    const ext = [1e4, -1e4, 1e4, -1e4, 0.5, -2, 1e4, -1e4];
    for (const name of ALL) {
      const C = isBinary(name) ? 1 : 2;
      const logits = C === 1 ? ext : ext.flatMap((v, i) => [v, i % 3 === 0 ? -v : 0]);
      const labels = C === 1 ? [0, 1, 1, 0, 1, 0, 255, 1] : [0, 1, 1, 0, 1, 0, 255, 1];
      for (const options of [{}, { perImage: true }, { classes: 'all' as const }]) {
        const r = run(name, [2, 2, 2, C], logits, labels, options);
        assert.ok(Number.isFinite(r.value), `${name} ${JSON.stringify(options)}: value ${r.value}`);
        assert.ok(r.grad.every(Number.isFinite), `${name} ${JSON.stringify(options)}: gradient`);
      }
    }
    // bce of x = 1e4 (label 0) and x = −1e4 (label 1): softplus(1e4) = 1e4 each, mean 1e4;
    // gradient (σ(x) − y)/V = ±1/2.
    const b = run('bce_loss', [1, 1, 2, 1], [1e4, -1e4], [0, 1]);
    assert.equal(b.value, 1e4);
    assert.deepEqual(b.grad, [0.5, -0.5]);
    // softmax cross-entropy of z = (1e4, −1e4) with label 1: −log softmax_1 = 2e4, gradient
    // softmax − onehot = (1, −1).
    const s = run('softmax_loss', [1, 1, 1, 2], [1e4, -1e4], [1]);
    assert.equal(s.value, 2e4);
    assert.deepEqual(s.grad, [1, -1]);
  });

  test(`NaN logits give a NaN loss (the trainer stops on it), never a silent number [${backend}]`, async () => {
    await useBackend(backend);
    for (const name of ALL) {
      const C = isBinary(name) ? 1 : 2;
      const logits = Array.from({ length: 4 * C }, (_, i) => (i === 1 ? NaN : i * 0.1));
      const r = run(name, [1, 2, 2, C], logits, [0, 1, 0, 1]);
      assert.ok(Number.isNaN(r.value), `${name}: ${r.value}`);
    }
  });
}

for (const backend of BACKENDS) {
  test(`a loss's gradient scales with d(total)/d(loss): exactly its own values at weight 1, each times w otherwise [${backend}]`, async () => {
    // Every loss precomputes its gradient g; the backward pass returns g · dy, where dy is the
    // loss's weight in the total. dy = 1 hands g back unscaled (shared, not multiplied); any other
    // dy must still multiply it, element by element as tf.mul does.
    await useBackend(backend);
    const rng = { s: 5, next() { return ((this.s = (this.s * 1103515245 + 12345) % 2147483648) / 2147483648) * 4 - 2; } };
    for (const name of ALL) {
      const shape: Shape = [2, 5, 6, isBinary(name) ? 1 : 4];
      const K = isBinary(name) ? 2 : 4;
      const logits = Array.from({ length: shape.reduce((a, b) => a * b) }, () => rng.next());
      const labels = Array.from({ length: 60 }, (_, j) => (j % 7 === 0 ? 255 : j % K));
      const x = tf.tensor4d(logits, shape);
      const y = tf.tensor3d(labels, [2, 5, 6], 'int32');
      const loss = (t: tf.Tensor) => LOSSES[name].fn(t as tf.Tensor4D, y, { ignoreIndex: 255 });
      const g1 = tf.grad(loss)(x);
      for (const w of [1, 0.37, -2]) {
        const gw = tf.grad((t: tf.Tensor) => tf.mul(loss(t), w))(x);
        const want = tf.mul(g1, w);
        assert.deepEqual(Array.from(gw.dataSync()), Array.from(want.dataSync()), `${name}, weight ${w}`);
        tf.dispose([gw, want]);
      }
      tf.dispose([x, y, g1]);
    }
  });
}
