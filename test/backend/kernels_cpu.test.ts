/**
 * seg's kernels registered on the pure-JS cpu backend (faster and, for the resize gradient and
 * dilation, more correct than the stock ones) against the stock cpu kernels tfjs registered.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/backend/index.js';
import { SEG_KERNEL_NAMES, registerTrainingKernels, stockKernel } from '../../src/backend/kernels/index.js';
import { DENSE_CASES, DEPTHWISE_CASES, RESIZE_CASES } from './cases.js';
import { checkConv, checkResize } from './checks.js';

const TOL = 1e-4;

before(async () => {
  await initBackend({ backend: 'cpu' });
  await registerTrainingKernels('cpu'); // gradients load asynchronously
});

test('cpu: seg kernels replace the stock ones, which stay reachable for reference', () => {
  for (const n of SEG_KERNEL_NAMES) {
    const now = tf.getKernel(n, 'cpu')?.kernelFunc;
    const orig = stockKernel(n, 'cpu');
    assert.ok(now, n);
    if (n.startsWith('Seg')) assert.equal(orig, undefined, `${n} is seg's own`);
    else assert.ok(orig && now !== orig, n);
  }
});

describe('cpu: conv backprop kernels vs stock cpu', () => {
  for (const c of DENSE_CASES) {
    test(c.name, () => {
      const e = checkConv('cpu', c, false);
      assert.ok(e.dW <= TOL && e.dX <= TOL && e.adjointW <= TOL && e.adjointX <= TOL, JSON.stringify(e));
    });
  }
  for (const c of DEPTHWISE_CASES) {
    test(c.name, () => {
      const e = checkConv('cpu', c, true);
      assert.ok(e.dW <= TOL && e.dX <= TOL && e.adjointW <= TOL && e.adjointX <= TOL, JSON.stringify(e));
    });
  }
});

describe('cpu: ResizeBilinearGrad (stock ignores halfPixelCenters and swaps H/W)', () => {
  for (const c of RESIZE_CASES) {
    test(c.name, () => {
      const e = checkResize('cpu', c);
      assert.ok(e.grad <= TOL && e.adjoint <= TOL, JSON.stringify(e));
      if (!Number.isNaN(e.stock)) assert.ok(e.stock <= TOL, `vs stock ${e.stock}`);
    });
  }
  test('the stock half-pixel gradient really is wrong (the reason for seg’s kernel)', () => {
    const e = checkResizeStockHalfPixel();
    assert.ok(e > 0.05, `stock error only ${e}`);
  });
});

import { resizeGradReference } from './checks.js';
import { Rng } from '../../src/util/rng.js';
import { rand, relErr, runKernel } from './helpers.js';

function checkResizeStockHalfPixel(): number {
  const c = RESIZE_CASES[0]!;
  const rng = new Rng(3);
  const x = rand(rng, [...c.x]);
  const dy = rand(rng, [c.x[0], c.size[0], c.size[1], c.x[3]]);
  const k = stockKernel('ResizeBilinearGrad', 'cpu');
  assert.ok(k);
  const stockOut = runKernel('cpu', k, { images: x, dy }, { alignCorners: false, halfPixelCenters: true, size: c.size });
  return relErr(stockOut, resizeGradReference('cpu', c, dy));
}
