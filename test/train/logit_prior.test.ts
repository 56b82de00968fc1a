/**
 * The logit bias starts at the training labels' class prior (models/logit_prior.ts, train/logit_prior.ts):
 * the formula for one-channel and softmax heads, the assignment, the counts read from real PNG
 * labels, and the cases that keep the bias (MODEL.LOGIT_BIAS_INIT zero, a bias loaded as pretrained).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { initBackend } from '../../src/backend/index.js';
import { buildModel } from '../../src/models/build.js';
import { LOGIT_BIAS, priorLogitBias, setLogitBias } from '../../src/models/logit_prior.js';
import { countClassPixels, evenSample } from '../../src/data/class_counts.js';
import { dataOptions } from '../../src/data/sample.js';
import { readSplit } from '../../src/data/file_list.js';
import { readLabel } from '../../src/data/image_io.js';
import { initLogitBiasFromPrior } from '../../src/train/logit_prior.js';
import { resolveConfig } from '../../src/config/resolve.js';
import { silentLogger } from '../../src/util/context.js';
import { makeTinyDataset, tinyConfig } from '../helpers/tiny_dataset.js';
import { tmpDir } from '../helpers/cli.js';

before(async () => {
  await initBackend({ backend: 'wasm' });
});

const biasOf = (model: ReturnType<typeof buildModel>): number[] => Array.from(model.weights.find((w) => w.name === LOGIT_BIAS)!.variable.dataSync());

describe('priorLogitBias', () => {
  test('one channel: the log-odds of class 1, so σ(bias) is its (smoothed) frequency', () => {
    const [b] = priorLogitBias([9599, 399], 1);
    assert.ok(Math.abs(1 / (1 + Math.exp(-b!)) - 400 / 10000) < 1e-12);
  });
  test('softmax: log-frequencies, so softmax(bias) is the (smoothed) prior', () => {
    const b = priorLogitBias([700, 200, 100], 3);
    const e = b.map(Math.exp);
    const s = e.reduce((a, x) => a + x, 0);
    [701, 201, 101].forEach((n, c) => assert.ok(Math.abs(e[c]! / s - n / 1003) < 1e-12, `class ${c}`));
  });
  test('a class absent from the labels gets a finite bias', () => {
    for (const v of [...priorLogitBias([100, 0], 1), ...priorLogitBias([100, 0, 5], 3)]) assert.ok(Number.isFinite(v));
  });
  test('mismatched heads are refused', () => {
    assert.throws(() => priorLogitBias([1, 2, 3], 1), /2 classes/);
    assert.throws(() => priorLogitBias([1, 2], 3), /3-channel/);
  });
  test('evenSample spreads over the list', () => {
    assert.deepEqual(evenSample([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 4), [0, 2, 5, 7]);
    assert.deepEqual(evenSample([1, 2], 4), [1, 2]);
  });
});

describe('the prior from real labels', () => {
  const tmp = tmpDir('seg-prior-');
  const data = path.join(tmp.dir, 'data');
  const cfgFor = (overrides: string[] = []) => {
    const file = path.join(tmp.dir, 'cfg.yaml');
    fs.writeFileSync(file, tinyConfig(data, path.join(tmp.dir, 'run'), { loss: '["bce_loss"]' }));
    return resolveConfig({ cfgFile: file, overrides, cwd: tmp.dir }).config;
  };
  before(async () => {
    await makeTinyDataset(data, { train: 10, val: 2 });
  });
  after(() => tmp.cleanup());

  test('counts every training label pixel and sets σ(bias) to the foreground share', async () => {
    const cfg = cfgFor();
    const list = readSplit(cfg, 'train', tmp.dir);
    let fg = 0;
    let all = 0;
    for (const e of list) {
      const l = await readLabel(e.labelPath!);
      for (const v of l.data) {
        all++;
        if (v === 1) fg++;
      }
    }
    const { counts, images } = await countClassPixels(list, dataOptions(cfg));
    assert.equal(images, 10);
    assert.deepEqual(counts, [all - fg, fg]);
    const model = buildModel(cfg, { seed: 1 });
    try {
      assert.deepEqual(biasOf(model), [0]);
      await initLogitBiasFromPrior(model, cfg, list, silentLogger);
      const [b] = biasOf(model);
      assert.ok(Math.abs(1 / (1 + Math.exp(-b!)) - (fg + 1) / (all + 2)) < 1e-6, `σ(${b}) vs ${fg / all}`);
    } finally {
      model.dispose();
    }
  });

  test('MODEL.LOGIT_BIAS_INIT zero, or a bias loaded from pretrained weights, is kept', async () => {
    for (const [cfg, loaded] of [[cfgFor(['MODEL.LOGIT_BIAS_INIT', 'zero']), []], [cfgFor(), [LOGIT_BIAS]]] as const) {
      const model = buildModel(cfg, { seed: 1 });
      try {
        setLogitBias(model, [0.25]);
        await initLogitBiasFromPrior(model, cfg, readSplit(cfg, 'train', tmp.dir), silentLogger, loaded);
        assert.deepEqual(biasOf(model), [0.25]);
      } finally {
        model.dispose();
      }
    }
  });

  test('setLogitBias refuses a bias of the wrong size', () => {
    const model = buildModel(cfgFor(), { seed: 1 });
    try {
      assert.throws(() => setLogitBias(model, [0, 1]), /1 values/);
    } finally {
      model.dispose();
    }
  });
});
