/**
 * `seg train` → `seg eval` → `seg vis` → `seg plot` as real processes on a tiny real dataset, plus
 * exact resume (from an epoch snapshot and from a Ctrl-C checkpoint), the non-finite-loss stop
 * and the config errors of the trainer.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import sharp from 'sharp';
import { runSeg, tmpDir, type SegResult } from '../helpers/cli.js';
import { makeTinyDataset, tinyConfig } from '../helpers/tiny_dataset.js';
import type { MetricRecord, TrainRecord } from '../../src/train/metrics_log.js';
import { SKIP_NATIVE } from '../backend/native_helpers.js';

let root: { dir: string; cleanup: () => void };
let data: string;

before(async () => {
  root = tmpDir('seg-e2e-');
  data = path.join(root.dir, 'data');
  await makeTinyDataset(data, { train: 8, val: 4, size: 32 });
});
after(() => root.cleanup());

function writeConfig(name: string, runDir: string, opts: Parameters<typeof tinyConfig>[2] = {}): string {
  const file = path.join(root.dir, `${name}.yaml`);
  fs.writeFileSync(file, tinyConfig(data, runDir, opts));
  return file;
}

function records(runDir: string): MetricRecord[] {
  return fs
    .readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as MetricRecord);
}

const trainLosses = (runDir: string): Map<number, number> =>
  new Map(records(runDir).filter((r): r is TrainRecord => r.type === 'train').map((r) => [r.step, r.loss]));

/** An onSpawn that sends `signal` once, when stderr first matches `pattern`. */
const signalAt =
  (pattern: RegExp, signal: NodeJS.Signals) =>
  (child: ChildProcess): void => {
    let sent = false;
    child.stderr?.on('data', (d: Buffer) => {
      if (!sent && pattern.test(d.toString())) {
        sent = true;
        child.kill(signal);
      }
    });
  };

const ok = (r: SegResult, what: string): void => assert.equal(r.code, 0, `${what} failed (${r.code}):\n${r.stderr}`);

/** The end-to-end chain and exact resume run on both compute paths users get: the npm-only wasm backend and libtorch. */
for (const [backend, skip] of [['wasm', false], ['torch', SKIP_NATIVE]] as const) {
  test(`train → eval → vis → plot end to end, with every file in its place [${backend}]`, { skip }, async () => {
    const run = path.join(root.dir, `${backend}-run-chain`);
    const cfg = writeConfig(`${backend}-chain`, run, { epochs: 2 });
    const t = await runSeg(['train', '--cfg', cfg, '--do_eval', '--seed', '3', '--log_steps', '2', '--backend', backend], { cwd: root.dir });
    ok(t, 'train');
    assert.match(t.stderr, new RegExp(`^backend: ${backend}`, 'm'));
    assert.match(t.stderr, /epoch=1 step=2\/4 lr=\S+ loss=\S+ bce_loss=\S+ lovasz_hinge_loss=\S+ step\/s=\S+ eta=\d\d:\d\d:\d\d/);
    assert.doesNotMatch(t.stderr, /\r/, 'no carriage returns on a non-TTY stderr');
    for (const f of ['config.yaml', 'metrics.jsonl', 'plot.png', '1/checkpoint.json', '2/checkpoint.json', 'best_model/checkpoint.json', 'final/checkpoint.json', 'final/model.json', 'final/optimizer.json', 'final/state.json']) {
      assert.ok(fs.existsSync(path.join(run, f)), `${f} written`);
    }
    assert.match(fs.readFileSync(path.join(run, 'config.yaml'), 'utf8'), /^SEED: 3$/m);
    const recs = records(run);
    assert.equal(recs.filter((r) => r.type === 'train').length, 4, 'a train record every 2 of 8 steps');
    const evals = recs.filter((r) => r.type === 'eval');
    assert.equal(evals.length, 2, 'one evaluation per snapshot');
    for (const e of evals) if (e.type === 'eval') assert.ok(e.miou >= 0 && e.miou <= 1 && e.iou.length === 2);
    assert.match(t.stdout, /checkpoint: +\S*final/);
    assert.match(t.stdout, /plot: +\S*plot\.png/);
    const state = JSON.parse(fs.readFileSync(path.join(run, 'final', 'state.json'), 'utf8')) as { globalStep: number; seed: number; epoch: number };
    assert.deepEqual([state.globalStep, state.seed, state.epoch], [8, 3, 2]);

    const e = await runSeg(['eval', '--cfg', cfg, '--model', path.join(run, 'best_model'), '--json', '--backend', backend], { cwd: root.dir });
    ok(e, 'eval');
    const m = JSON.parse(e.stdout) as { miou: number; images: number; classes: Array<{ iou: number | null }>; confusion: number[][] };
    assert.equal(m.images, 4);
    assert.equal(m.classes.length, 2);
    assert.equal(m.confusion.flat().reduce((a, b) => a + b, 0), 4 * 32 * 32, 'every val pixel counted once');
    const table = await runSeg(['eval', '--cfg', cfg, '--backend', backend], { cwd: root.dir });
    ok(table, 'eval (table)');
    assert.match(table.stdout, /^class\s+IoU\s+precision\s+recall/m);
    assert.match(table.stdout, /^mIoU \d\.\d{4} {2}accuracy \d\.\d{4} {2}kappa -?\d\.\d{4}/m);

    const flip = await runSeg(['eval', '--cfg', cfg, '--aug_eval', '--json', '--backend', backend], { cwd: root.dir });
    ok(flip, 'eval --aug_eval');
    const fm = JSON.parse(flip.stdout) as { flip: boolean; images: number; miou: number };
    assert.equal(fm.flip, true);
    assert.equal(fm.images, 4);
    assert.ok(fm.miou >= 0 && fm.miou <= 1);

    // A new run initialised from this one with another head (1 channel): pdseg's partial load report.
    const ft = await runSeg(['train', '--cfg', cfg, '--backend', backend, 'TRAIN.MODEL_SAVE_DIR', path.join(root.dir, `${backend}-run-ft`), 'TRAIN.PRETRAINED_MODEL_DIR', path.join(run, 'final'), 'SOLVER.NUM_EPOCHS', '1', 'SOLVER.LOSS', "['softmax_loss']", 'DATASET.NUM_CLASSES', '3'], { cwd: root.dir });
    ok(ft, 'fine-tune from pretrained');
    assert.match(ft.stderr, /^\[SKIP\] logit\/kernel: shape \[1, 1, \d+, 1\] vs \[1, 1, \d+, 3\]$/m);
    assert.match(ft.stderr, /^\[SKIP\] logit\/bias: shape \[1\] vs \[3\]$/m);
    const loaded = /^(\d+)\/(\d+) weights loaded from /m.exec(ft.stderr);
    assert.ok(loaded && Number(loaded[1]) === Number(loaded[2]) - 2, 'every weight but the head loaded');

    const visDir = path.join(root.dir, `${backend}-vis`);
    const v = await runSeg(['vis', '--cfg', cfg, '--vis_dir', visDir, '--backend', backend], { cwd: root.dir });
    ok(v, 'vis');
    for (const k of [0, 1, 2, 3]) {
      for (const f of [`${k}.png`, `overlay/${k}.jpg`, `compare/${k}.png`]) assert.ok(fs.existsSync(path.join(visDir, f)), `vis wrote ${f}`);
    }
    const meta = await sharp(path.join(visDir, '0.png')).metadata();
    assert.deepEqual([meta.width, meta.height], [32, 32], 'prediction at the original size');
    const cmp = await sharp(path.join(visDir, 'compare', '0.png')).metadata();
    assert.equal(cmp.width, 4 * 32 + 3 * 4, 'input | truth | prediction | errors');

    const single = await runSeg(['vis', '--cfg', cfg, '--image', path.join(data, 'val', 'images', '1.jpg'), '--vis_dir', path.join(root.dir, `${backend}-vis-one`), '--backend', backend], { cwd: root.dir });
    ok(single, 'vis --image');
    assert.ok(fs.existsSync(path.join(root.dir, `${backend}-vis-one`, '1.png')));
    assert.ok(!fs.existsSync(path.join(root.dir, `${backend}-vis-one`, 'compare')), 'no comparison without a label');

    const out = path.join(root.dir, `${backend}-cmp.png`);
    const p = await runSeg(['plot', run, run + '/metrics.jsonl', '-o', out], { cwd: root.dir });
    ok(p, 'plot');
    const pm = await sharp(out).metadata();
    assert.equal(pm.format, 'png');
    assert.ok((pm.width ?? 0) > 300 && (pm.height ?? 0) > 300);
  });

  test(`resuming from an epoch snapshot reproduces the uninterrupted run; Ctrl-C saves interrupted/ and resumes exactly [${backend}]`, { skip }, async () => {
    const full = path.join(root.dir, `${backend}-run-full`);
    const cfgFull = writeConfig(`${backend}-full`, full, { epochs: 3 });
    ok(await runSeg(['train', '--cfg', cfgFull, '--seed', '11', '--log_steps', '1', '--backend', backend], { cwd: root.dir }), 'uninterrupted run');
    const reference = trainLosses(full);
    assert.equal(reference.size, 12);

    // Resume at epoch 2 from the snapshot of epoch 1.
    const resumed = path.join(root.dir, `${backend}-run-resumed`);
    const cfgRes = writeConfig(`${backend}-resumed`, resumed, { epochs: 3 });
    const r = await runSeg(['train', '--cfg', cfgRes, '--log_steps', '1', '--backend', backend, 'TRAIN.RESUME_MODEL_DIR', path.join(full, '1')], { cwd: root.dir });
    ok(r, 'resumed run');
    assert.match(r.stderr, /Resume from .*: epoch 2, step 0\/4 \(global step 4\)/);
    const after1 = trainLosses(resumed);
    assert.deepEqual([...after1.keys()], [5, 6, 7, 8, 9, 10, 11, 12]);
    for (const [step, loss] of after1) assert.ok(Math.abs(loss - (reference.get(step) as number)) <= 1e-5 * Math.max(1, Math.abs(loss)), `step ${step}: ${loss} vs ${reference.get(step)}`);

    // Ctrl-C in the middle of training, then resume from interrupted/.
    const intr = path.join(root.dir, `${backend}-run-intr`);
    const cfgIntr = writeConfig(`${backend}-intr`, intr, { epochs: 3 });
    const c = await runSeg(['train', '--cfg', cfgIntr, '--seed', '11', '--log_steps', '1', '--backend', backend], { cwd: root.dir, onSpawn: signalAt(/epoch=1 step=2\/4/, 'SIGINT') });
    assert.equal(c.code, 130, c.stderr);
    assert.match(c.stderr, /seg: interrupted error: interrupted at epoch \d step \d\/4; checkpoint saved to .*interrupted/);
    assert.ok(fs.existsSync(path.join(intr, 'interrupted', 'checkpoint.json')));
    const cont = await runSeg(['train', '--cfg', cfgIntr, '--log_steps', '1', '--backend', backend, 'TRAIN.RESUME_MODEL_DIR', path.join(intr, 'interrupted')], { cwd: root.dir });
    ok(cont, 'resume after Ctrl-C');
    const all = trainLosses(intr);
    assert.equal(all.size, 12, 'every step logged once across the two processes');
    for (const [step, loss] of all) assert.ok(Math.abs(loss - (reference.get(step) as number)) <= 1e-5 * Math.max(1, Math.abs(loss)), `step ${step}: ${loss} vs ${reference.get(step)}`);
  });
}

test('a new run into a folder that holds a run is refused (exit 2); --overwrite moves the old run aside; pruning keeps to its own run', async () => {
  const run = path.join(root.dir, 'run-reuse');
  const cfg = writeConfig('reuse', run, { epochs: 3 });
  const keep = ['TRAIN.KEEP_CHECKPOINTS', '2'];
  ok(await runSeg(['train', '--cfg', cfg, '--seed', '1', '--backend', 'wasm', ...keep], { cwd: root.dir }), 'first run');
  const listing = (): string[] => fs.readdirSync(run).sort();
  const before = listing();
  assert.deepEqual(before, ['2', '3', 'config.yaml', 'final', 'metrics.jsonl', 'plot.png']);
  const oldFinal = fs.readFileSync(path.join(run, 'final', 'model.json'));
  const oldMetrics = fs.readFileSync(path.join(run, 'metrics.jsonl'));

  const r = await runSeg(['train', '--cfg', cfg, '--seed', '2', '--backend', 'wasm', ...keep, 'SOLVER.NUM_EPOCHS', '2'], { cwd: root.dir });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /^seg: config error: TRAIN\.MODEL_SAVE_DIR \S+ already holds a run \(/m);
  assert.match(r.stderr, /^hint: continue it with TRAIN\.RESUME_MODEL_DIR \S+final, choose another TRAIN\.MODEL_SAVE_DIR, or pass --overwrite/m);
  assert.deepEqual(listing(), before, 'nothing written');
  assert.ok(fs.readFileSync(path.join(run, 'final', 'model.json')).equals(oldFinal));
  assert.ok(fs.readFileSync(path.join(run, 'metrics.jsonl')).equals(oldMetrics));

  const o = await runSeg(['train', '--cfg', cfg, '--seed', '2', '--backend', 'wasm', '--overwrite', ...keep, 'SOLVER.NUM_EPOCHS', '2'], { cwd: root.dir });
  ok(o, '--overwrite');
  assert.match(o.stderr, /--overwrite: moved the earlier run in \S+ \(6 entries\) to \S+overwritten-/);
  const aside = listing().filter((e) => e.startsWith('overwritten-'));
  assert.equal(aside.length, 1);
  assert.deepEqual(listing(), ['1', '2', aside[0], 'config.yaml', 'final', 'metrics.jsonl', 'plot.png'].sort(), "the new run's snapshots survive its pruning");
  const old = path.join(run, aside[0] as string);
  assert.deepEqual(fs.readdirSync(old).sort(), before);
  assert.ok(fs.readFileSync(path.join(old, 'final', 'model.json')).equals(oldFinal), 'the old run is intact');
  assert.ok(fs.readFileSync(path.join(old, 'metrics.jsonl')).equals(oldMetrics));
  assert.match(fs.readFileSync(path.join(run, 'config.yaml'), 'utf8'), /^SEED: 2$/m);
});

test('SIGTERM (how schedulers stop jobs) is Ctrl-C: interrupted/ saved, exit 143, how to resume', async () => {
  const run = path.join(root.dir, 'run-term');
  const cfg = writeConfig('term', run, { epochs: 3 });
  const c = await runSeg(['train', '--cfg', cfg, '--seed', '11', '--log_steps', '1', '--backend', 'wasm'], { cwd: root.dir, onSpawn: signalAt(/epoch=1 step=2\/4/, 'SIGTERM') });
  assert.equal(c.code, 143, c.stderr);
  assert.match(c.stderr, /seg: terminated \(SIGTERM\); finishing the current step/);
  assert.match(c.stderr, /seg: interrupted error: interrupted at epoch \d step \d\/4; checkpoint saved to .*interrupted/);
  assert.match(c.stderr, /hint: resume with TRAIN\.RESUME_MODEL_DIR \S*interrupted/);
  assert.ok(fs.existsSync(path.join(run, 'interrupted', 'checkpoint.json')));
  ok(await runSeg(['train', '--cfg', cfg, '--backend', 'wasm', 'TRAIN.RESUME_MODEL_DIR', path.join(run, 'interrupted')], { cwd: root.dir }), 'resume after SIGTERM');
  assert.ok(fs.existsSync(path.join(run, 'final', 'checkpoint.json')));
});

test('a non-finite loss stops the run naming the step and term, and leaves the last good checkpoint', async () => {
  const run = path.join(root.dir, 'run-nan');
  const cfg = writeConfig('nan', run, { epochs: 3 });
  ok(await runSeg(['train', '--cfg', cfg, '--seed', '5', '--backend', 'wasm', 'SOLVER.NUM_EPOCHS', '1'], { cwd: root.dir }), 'first epoch');
  const before1 = fs.readFileSync(path.join(run, '1', 'model.json'));
  const beforeFinal = fs.readFileSync(path.join(run, 'final', 'model.json'));
  const r = await runSeg(['train', '--cfg', cfg, '--backend', 'wasm', 'TRAIN.RESUME_MODEL_DIR', path.join(run, '1'), 'SOLVER.LR', '1e30', 'SOLVER.OPTIMIZER', 'sgd'], { cwd: root.dir });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /seg: runtime error: non-finite loss at epoch 2 step \d+ \(global step \d+\): loss=(NaN|Infinity|-Infinity)/);
  assert.match(r.stderr, /hint: lower SOLVER\.LR/);
  assert.deepEqual(fs.readFileSync(path.join(run, '1', 'model.json')), before1, 'the epoch-1 checkpoint is untouched');
  assert.deepEqual(fs.readFileSync(path.join(run, 'final', 'model.json')), beforeFinal, 'the failed run wrote no final/');
  assert.ok(!fs.existsSync(path.join(run, '2')), 'no snapshot of the failed epoch');
  const e = await runSeg(['eval', '--cfg', cfg, '--model', path.join(run, '1'), '--backend', 'wasm', '--json'], { cwd: root.dir });
  ok(e, 'the last good checkpoint still evaluates');
});

test('trainer errors: empty MODEL_SAVE_DIR (exit 2); a missing data folder names the command that creates it (exit 3)', async () => {
  const cfg = writeConfig('bad', path.join(root.dir, 'unused'));
  let r = await runSeg(['train', '--cfg', cfg, '--backend', 'wasm', 'TRAIN.MODEL_SAVE_DIR', "''"], { cwd: root.dir });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /TRAIN\.MODEL_SAVE_DIR is empty/);
  r = await runSeg(['train', '--cfg', cfg, '--backend', 'wasm', 'DATASET.DATA_DIR', './dataset/MiniDeepGlobeRoadExtraction/'], { cwd: root.dir });
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /seg: data error: DATASET\.DATA_DIR \.\/dataset\/MiniDeepGlobeRoadExtraction\/ does not exist/);
  assert.match(r.stderr, /hint: download it with `seg dataset download mini_deepglobe_road`/);
  assert.ok(!fs.existsSync(path.join(root.dir, 'unused')), 'nothing written before the data is there');
});
