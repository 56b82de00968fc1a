import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { REPO_ROOT, runSeg, tmpDir } from '../helpers/cli.js';
import { ensureDataset } from '../../src/data/datasets/ensure.js';
import { makeDataset, type MakeName } from '../../src/data/datasets/make.js';
import { quietContext } from '../../src/util/context.js';
import { SegError } from '../../src/util/errors.js';
import { makeConfig, writePalettePng, writeRaw } from './fixtures.js';
import { readLabel } from '../../src/data/image_io.js';

/** A working directory with configs/ (the shipped quickstart configs) and small generated datasets. */
async function workdir(names: string[], count = 8): Promise<{ dir: string; cleanup: () => void }> {
  const t = tmpDir('seg-check-');
  fs.mkdirSync(path.join(t.dir, 'configs'));
  for (const f of ['quickstart_roads.yaml', 'quickstart_digits.yaml', 'lovasz_hinge_road.yaml']) fs.copyFileSync(path.join(REPO_ROOT, 'configs', f), path.join(t.dir, 'configs', f));
  try {
    for (const n of names) await makeDataset(n as MakeName, { outDir: path.join(t.dir, 'dataset', n), count, seed: 5 }, quietContext());
  } catch (e) {
    t.cleanup();
    throw e;
  }
  return t;
}

test('both offline datasets pass seg check (real processes), with class shares and --json', async () => {
  const { dir, cleanup } = await workdir(['mnist_roads', 'mnist_digits']);
  try {
    for (const cfg of ['quickstart_roads', 'quickstart_digits']) {
      const r = await runSeg(['check', '--cfg', `configs/${cfg}.yaml`], { cwd: dir });
      assert.equal(r.code, 0, `${cfg}: ${r.stdout}\n${r.stderr}`);
      assert.match(r.stdout, /All checks PASS/);
      assert.doesNotMatch(r.stdout, /NOT PASS/);
      assert.match(r.stdout, /PASS train\.txt DATASET\.SEPARATOR check/);
      assert.match(r.stdout, /PASS EVAL_CROP_SIZE check/);
      assert.match(r.stdout, /Class share of the labelled training pixels/);
      if (cfg === 'quickstart_roads') assert.match(r.stdout, /hint: .*the losses already include lovasz_hinge_loss/, 'Lovász hinge in a LOSS_STAGES entry counts');
      assert.match(r.stderr, /checking train 8\/8/, 'progress on stderr');
      assert.ok(fs.existsSync(path.join(dir, 'detail.log')));
    }
    // --json (and a softmax loss: the hint then suggests the Lovász mix).
    const j = await runSeg(['check', '--cfg', 'configs/quickstart_roads.yaml', '--json', 'SOLVER.LOSS', "['softmax_loss']", 'SOLVER.LOSS_STAGES', '[]'], { cwd: dir });
    assert.equal(j.code, 0, j.stderr);
    const report = JSON.parse(j.stdout) as { pass: boolean; splits: Array<{ split: string; checks: Array<{ id: string; pass: boolean }> }>; classFractions: Array<{ index: number; rare: boolean; fraction: number }>; hints: string[]; detailLog: string };
    assert.equal(report.pass, true);
    assert.deepEqual(report.splits.map((s) => s.split), ['train', 'val', 'test']);
    assert.deepEqual(report.splits[0]?.checks.map((c) => c.id), ['separator', 'reading', 'label_gray', 'label_format', 'label_class', 'image_type', 'shape', 'loss']);
    assert.equal(report.classFractions[1]?.rare, true, 'roads are a rare class');
    assert.match(report.hints[0] ?? '', /rare class\(es\) under 10% of the labelled pixels: 1 \(road\) .*SOLVER\.LOSS "\['lovasz_hinge_loss','bce_loss'\]"/);
    assert.equal(report.detailLog, path.join(dir, 'detail.log'));
  } finally {
    cleanup();
  }
});

test('a deliberately broken copy: every problem reported with its file, exit 3, detail log written', async () => {
  const { dir, cleanup } = await workdir(['mnist_roads'], 10);
  try {
    const ds = path.join(dir, 'dataset', 'mnist_roads');
    const lines = fs.readFileSync(path.join(ds, 'train.txt'), 'utf8').trim().split('\n');
    const parts = lines.map((l) => l.split('|') as [string, string]);
    const p = (i: number, k: 0 | 1): string => path.join(ds, parts[i]![k]);
    // 1: label of the wrong size.
    await writeRaw(p(0, 1), new Uint8Array(100 * 90), 100, 90, 1);
    // 2: out-of-range label value.
    const lab = await readLabel(p(1, 1));
    const bad = Uint8Array.from(lab.data);
    bad[10] = 5;
    await writeRaw(p(1, 1), bad, 128, 128, 1);
    // 3: truncated JPEG.
    const jpg = fs.readFileSync(p(2, 0));
    fs.writeFileSync(p(2, 0), jpg.subarray(0, Math.floor(jpg.length / 2)));
    // 4: missing image.
    fs.rmSync(p(3, 0));
    // 5: a palette label with valid indices and vivid colours: must NOT be flagged (indices are read).
    const l4 = await readLabel(p(4, 1));
    writePalettePng(p(4, 1), Uint8Array.from(l4.data), 128, 128, Array.from({ length: 256 }, (_, k) => [255 - k, (k * 90) % 256, 200]));
    // 6: a colour (RGB) label.
    const rgb = new Uint8Array(128 * 128 * 3).map((_, i) => (i % 3 === 0 ? 200 : i % 3 === 1 ? 10 : 90));
    await writeRaw(p(5, 1), rgb, 128, 128, 3);
    // 7: a JPEG label (not PNG).
    const jlab = p(6, 1).replace(/\.png$/, '.jpg');
    await sharp(p(6, 1)).jpeg({ quality: 100 }).toFile(jlab);
    lines[6] = `${parts[6]![0]}|${parts[6]![1].replace(/\.png$/, '.jpg')}`;
    // 8: a line with the wrong separator.
    lines.push(`${parts[7]![0]} ${parts[7]![1]}`);
    fs.writeFileSync(path.join(ds, 'train.txt'), `${lines.join('\n')}\n`);

    const r = await runSeg(['check', '--cfg', 'configs/quickstart_roads.yaml', '--detail_log', 'logs/check.log'], { cwd: dir });
    assert.equal(r.code, 3, r.stdout + r.stderr);
    for (const t of ['train.txt DATASET.SEPARATOR check', 'dataset reading check', 'label gray check', 'label format check', 'label class check', 'shape check']) {
      assert.match(r.stdout, new RegExp(`NOT PASS ${t.replace(/\./g, '\\.')}`), t);
    }
    assert.match(r.stdout, /Failed to read 2 images/);
    assert.match(r.stdout, /fatal error: label class is out of range \[0, 1\] in 3 label/); // the value-5 label, plus the colour and JPEG labels (their gray values are not classes either)
    assert.match(r.stdout, /PASS val\.txt DATASET\.SEPARATOR check/);
    const log = fs.readFileSync(path.join(dir, 'logs', 'check.log'), 'utf8');
    assert.match(r.stdout, new RegExp(`Detailed error information can be viewed in ${path.join(dir, 'logs', 'check.log').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    const name = (i: number, k: 0 | 1): string => parts[i]![k].replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    assert.match(log, new RegExp(`train\\.txt:1: ${name(0, 0)} \\| ${name(0, 1)}: image 128x128, label 100x90`));
    assert.match(log, new RegExp(`train\\.txt:2: .*${name(1, 1)}: value\\(s\\) 5 outside \\[0, 1\\]`));
    assert.match(log, new RegExp(`train\\.txt:3: .*${name(2, 0)}.*truncated or corrupt`));
    assert.match(log, new RegExp(`train\\.txt:4: .*${name(3, 0)}.*no such file`));
    assert.match(log, new RegExp(`train\\.txt:6: .*${name(5, 1)}: the label is a colour image`));
    assert.match(log, /train\.txt:7: .*\.jpg: the label is jpeg, not PNG/);
    assert.match(log, /train\.txt:11: .* .*: 1 part\(s\), expected 2/);
    assert.doesNotMatch(log, /train\.txt:5:/, 'the palette label (valid indices) is not reported');

    const j = await runSeg(['check', '--cfg', 'configs/quickstart_roads.yaml', '--json'], { cwd: dir });
    assert.equal(j.code, 3);
    const report = JSON.parse(j.stdout) as { pass: boolean; splits: Array<{ checks: Array<{ id: string; pass: boolean; offending: string[] }> }> };
    assert.equal(report.pass, false);
    const failed = report.splits[0]?.checks.filter((c) => !c.pass).map((c) => c.id);
    assert.deepEqual(failed, ['separator', 'reading', 'label_gray', 'label_format', 'label_class', 'shape']);
  } finally {
    cleanup();
  }
});

test('a missing DATA_DIR names the command that creates it; offline datasets are generated on first use', async () => {
  const { dir, cleanup } = await workdir([]);
  try {
    const r = await runSeg(['check', '--cfg', 'configs/lovasz_hinge_road.yaml'], { cwd: dir });
    assert.equal(r.code, 3);
    assert.match(r.stderr, /seg: data error: DATASET\.DATA_DIR \.\/dataset\/MiniDeepGlobeRoadExtraction\/ does not exist/);
    assert.match(r.stderr, /hint: download it with `seg dataset download mini_deepglobe_road`/);

    const cfg = makeConfig({ DATASET: { DATA_DIR: './dataset/mnist_digits/', TRAIN_FILE_LIST: 'dataset/mnist_digits/train.txt', VAL_FILE_LIST: 'dataset/mnist_digits/val.txt', NUM_CLASSES: 11, SEPARATOR: ' ' } });
    const out = await ensureDataset(cfg, quietContext(), { cwd: dir, count: 6 });
    assert.equal(out.DATASET.TRAIN_TOTAL_IMAGES, 6);
    assert.equal(out.DATASET.VAL_TOTAL_IMAGES, 2);
    assert.ok(fs.existsSync(path.join(dir, 'dataset', 'mnist_digits', 'LICENSE.txt')));
    // A DATA_DIR that exists without its list: the error names the list key.
    fs.rmSync(path.join(dir, 'dataset', 'mnist_digits', 'val.txt'));
    await assert.rejects(ensureDataset(cfg, quietContext(), { cwd: dir }), (e: unknown) => e instanceof SegError && e.kind === 'data' && /DATASET\.VAL_FILE_LIST: the file list dataset\/mnist_digits\/val\.txt does not exist/.test(e.message) && /seg dataset make mnist_digits/.test(e.hint ?? ''));
    // An unknown dataset folder: how to make lists.
    const other = makeConfig({ DATASET: { DATA_DIR: './dataset/mine/' } });
    await assert.rejects(ensureDataset(other, quietContext(), { cwd: dir }), (e: unknown) => e instanceof SegError && /seg dataset list/.test(e.hint ?? ''));
  } finally {
    cleanup();
  }
});
