/**
 * MobileNetV2's structure against torchvision (fixtures/torchvision_mobilenetv2.json, generated
 * once by gen_torchvision.py): channel rounding per multiplier, strides, residuals and parameter
 * counts; the atrous plan per output stride (hand-derived); weight names.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { initBackend } from '../../src/backend/index.js';
import { makeDivisible, mobileNetV2Plan } from '../../src/models/backbones/mobilenetv2.js';
import { buildModel } from '../../src/models/build.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { config } from './helpers.js';

interface TvUnit {
  cin: number;
  hidden: number;
  cout: number;
  stride: number;
  residual: boolean;
  expand: boolean;
}
interface TvWidth {
  stem: number;
  units: TvUnit[];
  features_0_17_trainable: number;
  features_0_17_with_running_stats: number;
}
const TV = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'test', 'models', 'fixtures', 'torchvision_mobilenetv2.json'), 'utf8')) as { widths: Record<string, TvWidth> };

before(async () => {
  await initBackend({ backend: 'cpu' });
});

describe('channel rounding', () => {
  test('makeDivisible follows _make_divisible (hand-derived)', () => {
    assert.equal(makeDivisible(4), 8); // at least the divisor
    assert.equal(makeDivisible(6), 8);
    assert.equal(makeDivisible(12), 16); // 12 + 4 = 16
    assert.equal(makeDivisible(11.9), 16); // ⌊15.9⌋ rounds down to 8, which loses > 10 % of 11.9 → 16
    assert.equal(makeDivisible(36), 40); // ⌊40/8⌋·8 = 40
    assert.equal(makeDivisible(35), 32); // ⌊39/8⌋·8 = 32 ≥ 31.5
  });
});

describe('MobileNetV2 against torchvision', () => {
  for (const width of ['0.25', '0.5', '1.0', '1.5', '2.0']) {
    test(`multiplier ${width}: stem, units and parameter counts`, () => {
      const tv = TV.widths[width];
      assert.ok(tv, `no torchvision entry for ${width}`);
      const plan = mobileNetV2Plan(Number(width), 32);
      assert.equal(plan.stemChannels, tv.stem);
      assert.equal(plan.units.length, tv.units.length);
      plan.units.forEach((u, i) => {
        const t = tv.units[i] as TvUnit;
        assert.deepEqual({ cin: u.cin, hidden: u.hidden, cout: u.cout, stride: u.stride, residual: u.residual, expand: u.expand }, t, `unit ${i}`);
      });
      const model = buildModel(config({ 'MODEL.DEEPLAB.DEPTH_MULTIPLIER': width, 'MODEL.DEEPLAB.OUTPUT_STRIDE': 32 }));
      const backbone = model.weights.filter((w) => w.name.startsWith('backbone/'));
      const trainable = backbone.filter((w) => w.trainable).reduce((s, w) => s + w.variable.size, 0);
      const all = backbone.reduce((s, w) => s + w.variable.size, 0);
      assert.equal(trainable, tv.features_0_17_trainable);
      assert.equal(all, tv.features_0_17_with_running_stats);
      model.dispose();
    });
  }

  test('multiplier 1.0: the issue’s numbers (1,811,712 trainable; 1,843,264 with moving statistics)', () => {
    const model = buildModel(config());
    const backbone = model.weights.filter((w) => w.name.startsWith('backbone/'));
    assert.equal(backbone.filter((w) => w.trainable).reduce((s, w) => s + w.variable.size, 0), 1_811_712);
    assert.equal(backbone.reduce((s, w) => s + w.variable.size, 0), 1_843_264);
    // + the 1280-channel conv (320·1280 + 2·1280) would give torchvision's 2,223,872; seg stops at 320.
    assert.equal(1_811_712 + 320 * 1280 + 2 * 1280, 2_223_872);
    model.dispose();
  });
});

describe('output stride: atrous plan (hand-derived)', () => {
  // Units: group 0: 0 | 1: 1-2 | 2: 3-5 | 3: 6-9 | 4: 10-12 | 5: 13-15 | 6: 16.
  const strides = (os: 8 | 16 | 32): number[] => mobileNetV2Plan(1, os).units.map((u) => u.stride);
  const rates = (os: 8 | 16 | 32): number[] => mobileNetV2Plan(1, os).units.map((u) => u.rate);
  test('OS32: plain MobileNetV2, no atrous', () => {
    assert.deepEqual(strides(32), [1, 2, 1, 2, 1, 1, 2, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1]);
    assert.deepEqual(rates(32), Array(17).fill(1));
  });
  test('OS16: the first 160 unit keeps rate 1 at stride 1; the later 160 and the 320 units use rate 2', () => {
    assert.deepEqual(strides(16), [1, 2, 1, 2, 1, 1, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
    assert.deepEqual(rates(16), [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2]);
  });
  test('OS8: rate 2 from the second 64 unit, rate 4 from the second 160 unit', () => {
    assert.deepEqual(strides(8), [1, 2, 1, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
    assert.deepEqual(rates(8), [1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 4, 4, 4]);
  });
  test('low-level features: the depthwise output of the last 24-channel unit (6·24m channels)', () => {
    for (const m of [0.25, 1, 2]) {
      const plan = mobileNetV2Plan(m, 16);
      assert.equal(plan.lowLevelUnit, 2);
      assert.equal(plan.lowLevelChannels, 6 * makeDivisible(24 * m));
    }
  });
});

describe('weight names', () => {
  test('hierarchical, unique, Keras-aligned backbone names; moving statistics are not trainable', () => {
    const model = buildModel(config({ 'MODEL.DEEPLAB.DEPTH_MULTIPLIER': 0.25, 'MODEL.DEEPLAB.ENCODER_WITH_ASPP': true, 'MODEL.DEEPLAB.ENABLE_DECODER': true }));
    const names = model.weights.map((w) => w.name);
    assert.equal(new Set(names).size, names.length);
    for (const n of [
      'backbone/stem/kernel',
      'backbone/stem/bn/gamma',
      'backbone/block_0/depthwise/kernel',
      'backbone/block_0/project/bn/moving_variance',
      'backbone/block_16/expand/kernel',
      'encoder/image_pool/kernel',
      'encoder/image_pool/bias',
      'encoder/aspp0/kernel',
      'encoder/aspp3/depthwise/kernel',
      'encoder/aspp3/pointwise/bn/beta',
      'encoder/concat/kernel',
      'decoder/shortcut/kernel',
      'decoder/conv2/pointwise/kernel',
      'logit/kernel',
      'logit/bias',
    ]) {
      assert.ok(names.includes(n), `missing ${n}`);
    }
    assert.ok(!names.includes('backbone/block_0/expand/kernel'), 'block 0 has no expand conv (t = 1)');
    assert.equal(names[0], 'backbone/stem/kernel');
    assert.equal(names[names.length - 1], 'logit/bias');
    for (const w of model.weights) assert.equal(w.trainable, !/moving_(mean|variance)$/.test(w.name), w.name);
    model.dispose();
  });
});
