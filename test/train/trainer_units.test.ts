import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { initBackend } from '../../src/backend/index.js';
import { ConfigSchema } from '../../src/config/schema.js';
import { buildModel } from '../../src/models/build.js';
import { decaysWeight } from '../../src/train/trainer.js';
import { pruneSnapshots } from '../../src/train/run_dir.js';
import { tmpDir } from '../helpers/cli.js';

before(async () => {
  await initBackend({ backend: 'cpu' });
});

test('L2 applies to every trainable weight but the batch-norm scale/shift of the DeepLab head (pdseg)', () => {
  const cfg = ConfigSchema.parse({ DATASET: { NUM_CLASSES: 2 }, MODEL: { DEEPLAB: { DEPTH_MULTIPLIER: 0.25 } } });
  const model = buildModel(cfg);
  try {
    const trainable = model.weights.filter((w) => w.trainable).map((w) => w.name);
    const exempt = trainable.filter((n) => !decaysWeight(n));
    assert.ok(exempt.length > 0);
    for (const n of exempt) assert.match(n, /^(encoder|decoder)\/.*\/bn\/(gamma|beta)$/, n);
    for (const n of trainable.filter((x) => x.startsWith('backbone/'))) assert.ok(decaysWeight(n), `${n} decays`);
    for (const n of ['logit/kernel', 'logit/bias', 'encoder/aspp0/kernel', 'encoder/image_pool/bias']) assert.ok(decaysWeight(n), n);
  } finally {
    model.dispose();
  }
});

test("pruneSnapshots keeps this run's newest KEEP_CHECKPOINTS snapshots and touches nothing else", () => {
  const { dir, cleanup } = tmpDir();
  const state = (seed: number, reason = 'snapshot') => JSON.stringify({ seed, reason });
  try {
    for (const d of ['1', '2', '3', '10', '20', 'final', 'best_model', 'interrupted']) {
      fs.mkdirSync(path.join(dir, d));
      fs.writeFileSync(path.join(dir, d, 'state.json'), state(7, /^\d+$/.test(d) ? 'snapshot' : d));
    }
    fs.mkdirSync(path.join(dir, '4'));
    fs.writeFileSync(path.join(dir, '4', 'state.json'), state(8)); // another run's snapshot
    fs.mkdirSync(path.join(dir, '5')); // not a checkpoint at all
    pruneSnapshots(dir, 2, 7);
    assert.deepEqual(fs.readdirSync(dir).sort(), ['10', '20', '4', '5', 'best_model', 'final', 'interrupted']);
    pruneSnapshots(dir, 0, 7);
    assert.deepEqual(fs.readdirSync(dir).sort(), ['10', '20', '4', '5', 'best_model', 'final', 'interrupted']);
  } finally {
    cleanup();
  }
});
