/** `seg experiment` as a real process: runs, comparison files, and a re-run that trains nothing again. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { runSeg, tmpDir } from '../helpers/cli.js';
import { makeTinyDataset, tinyConfig } from '../helpers/tiny_dataset.js';
import type { MetricRecord } from '../../src/train/metrics_log.js';

let root: { dir: string; cleanup: () => void };
before(async () => {
  root = tmpDir('seg-exp-');
  await makeTinyDataset(path.join(root.dir, 'data'), { train: 4, val: 2, size: 32 });
  fs.writeFileSync(path.join(root.dir, 'softmax.yaml'), tinyConfig(path.join(root.dir, 'data'), 'unused', { epochs: 2, loss: '["softmax_loss"]' }));
  fs.writeFileSync(path.join(root.dir, 'staged.yaml'), `${tinyConfig(path.join(root.dir, 'data'), 'unused', { epochs: 2, loss: '["bce_loss"]' })}  LOSS_STAGES: [{BEGIN_EPOCH: 2, LOSS: ["lovasz_hinge_loss", "bce_loss"], LOSS_WEIGHT: {LOVASZ_HINGE_LOSS: 0.5, BCE_LOSS: 0.5}}]\n`);
});
after(() => root.cleanup());

test('experiment: every config × seed trained and evaluated, table/curves/pictures written; a re-run reuses finished runs', async () => {
  const args = ['experiment', '--cfg', 'softmax.yaml', '--cfg', 'staged.yaml', '--seeds', '1,2', '--out', 'cmp', '--compare_images', '2', '--backend', 'wasm', '--json'];
  const r = await runSeg(args, { cwd: root.dir });
  assert.equal(r.code, 0, r.stderr);
  const res = JSON.parse(r.stdout) as { configs: Array<{ name: string; seeds: number[]; miou: { mean: number; values: number[] } }>; runs: Array<{ name: string; seed: number; steps: number }> };
  assert.deepEqual(res.configs.map((c) => [c.name, c.seeds]), [['softmax', [1, 2]], ['staged', [1, 2]]]);
  assert.equal(res.runs.length, 4);
  for (const run of res.runs) assert.equal(run.steps, 4, 'same budget for every run');
  for (const f of ['results.md', 'results.json', 'curves.png', 'compare.png', 'softmax/seed1/done.json', 'staged/seed2/best_model/checkpoint.json']) assert.ok(fs.existsSync(path.join(root.dir, 'cmp', f)), f);
  const md = fs.readFileSync(path.join(root.dir, 'cmp', 'results.md'), 'utf8');
  assert.match(md, /^\| softmax \| \d+\.\d\d ± \d+\.\d\d \|/m);
  const cmp = await sharp(path.join(root.dir, 'cmp', 'compare.png')).metadata();
  assert.ok((cmp.width ?? 0) > 4 * 160, 'input, truth and two prediction columns');

  // The loss stage switches at epoch 2: bce only, then lovasz_hinge + bce.
  const recs = fs.readFileSync(path.join(root.dir, 'cmp', 'staged', 'seed1', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as MetricRecord);
  const terms = recs.filter((x) => x.type === 'train').map((x) => (x.type === 'train' ? `${x.epoch}:${Object.keys(x.terms).sort().join('+')}` : ''));
  assert.deepEqual([...new Set(terms)], ['1:bce_loss', '2:bce_loss+lovasz_hinge_loss']);

  // The table holds each run's best evaluation (TRAIN.BEST_METRIC miou), read from its metrics.jsonl.
  const bestOf = (name: string, seed: number): number => {
    const evals = fs.readFileSync(path.join(root.dir, 'cmp', name, `seed${seed}`, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as MetricRecord).flatMap((x) => (x.type === 'eval' ? [x.miou] : []));
    assert.equal(evals.length, 2, `${name} seed ${seed}: one evaluation per epoch`);
    return Math.max(...evals);
  };
  for (const c of res.configs) assert.deepEqual(c.miou.values, c.seeds.map((s) => bestOf(c.name, s)), c.name);

  const stamps = (): number[] => res.runs.map((x) => fs.statSync(path.join(root.dir, 'cmp', x.name, `seed${x.seed}`, 'final', 'checkpoint.json')).mtimeMs);
  const before = stamps();
  const again = await runSeg(args, { cwd: root.dir });
  assert.equal(again.code, 0, again.stderr);
  assert.equal((again.stderr.match(/finished earlier, not trained again/g) ?? []).length, 4);
  assert.deepEqual(stamps(), before, 'no checkpoint rewritten');
  assert.deepEqual((JSON.parse(again.stdout) as typeof res).configs.map((c) => c.miou.values), res.configs.map((c) => c.miou.values));
});

test('--debug logs running train accuracy and mIoU', async () => {
  const r = await runSeg(['train', '--cfg', 'softmax.yaml', '--debug', '--log_steps', '1', '--backend', 'wasm', 'TRAIN.MODEL_SAVE_DIR', 'dbg', 'SOLVER.NUM_EPOCHS', '1'], { cwd: root.dir });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /epoch=1 step=1\/2 .* acc=\d\.\d{4} mIoU=\d\.\d{4}/);
});
