/**
 * Bad inputs and faults, as a careless or hostile user meets them: each spawns `bin/seg` and checks
 * the exit code, the one-line message naming the culprit, its hint, and that nothing was lost.
 * (Run folders, Ctrl-C, SIGTERM and download paths: train.test.ts and util/download.test.ts.)
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import sharp from 'sharp';
import { runSeg, SEG_BIN, tmpDir } from '../helpers/cli.js';
import { makeTinyDataset, tinyConfig } from '../helpers/tiny_dataset.js';

let root: { dir: string; cleanup: () => void };
let data: string;
let cfg: string;
/** A trained run (2 epochs, snapshots 1/ and 2/, final/). */
let run: string;

before(async () => {
  root = tmpDir('seg-bad-');
  data = path.join(root.dir, 'data');
  await makeTinyDataset(data, { train: 4, val: 2, size: 32 });
  run = path.join(root.dir, 'run');
  cfg = path.join(root.dir, 'cfg.yaml');
  fs.writeFileSync(cfg, tinyConfig(data, run, { epochs: 2 }));
  const r = await runSeg(['train', '--cfg', cfg, '--backend', 'wasm', '--quiet']);
  assert.equal(r.code, 0, r.stderr);
});
after(() => root.cleanup());

/** Expect exit `code` and stderr lines matching `message` and `hint`. */
function fails(r: { code: number | null; stderr: string }, code: number, message: RegExp, hint?: RegExp): void {
  assert.equal(r.code, code, r.stderr);
  assert.match(r.stderr, message);
  if (hint) assert.match(r.stderr, hint);
  assert.doesNotMatch(r.stderr, /looks like a bug/);
}

/** A copy of checkpoint `src` whose float32 weight `name` is rewritten by `edit`, with its checksums updated. */
function editedCheckpoint(src: string, dest: string, name: string, edit: (values: Float32Array) => void): void {
  fs.cpSync(src, dest, { recursive: true });
  const manifest = JSON.parse(fs.readFileSync(path.join(dest, 'model.json'), 'utf8')) as { weightsManifest: Array<{ paths: string[]; weights: Array<{ name: string; shape: number[] }> }> };
  const group = manifest.weightsManifest[0]!;
  const shard = path.join(dest, group.paths[0]!);
  const bytes = fs.readFileSync(shard);
  let offset = 0;
  for (const w of group.weights) {
    const n = w.shape.reduce((a, b) => a * b, 1);
    if (w.name === name) edit(new Float32Array(bytes.buffer, bytes.byteOffset + offset, n));
    offset += 4 * n;
  }
  fs.writeFileSync(shard, bytes);
  const index = JSON.parse(fs.readFileSync(path.join(dest, 'checkpoint.json'), 'utf8')) as { files: Record<string, { sha256: string }> };
  index.files[group.paths[0]!]!.sha256 = createHash('sha256').update(bytes).digest('hex');
  fs.writeFileSync(path.join(dest, 'checkpoint.json'), JSON.stringify(index));
}

test('3: a checkpoint with a NaN weight is refused by eval, export and as pretrained weights (exit 3, naming the weight)', async () => {
  const nan = path.join(root.dir, 'nan');
  editedCheckpoint(path.join(run, 'final'), nan, 'backbone/stem/kernel', (v) => (v[5] = NaN));
  const message = /seg: data error: .*model\.json: weight backbone\/stem\/kernel holds a non-finite value \(NaN at index 5\)/;
  const hint = /hint: .*diverged .*earlier checkpoint/;
  fails(await runSeg(['eval', '--cfg', cfg, '--model', nan, '--backend', 'wasm']), 3, message, hint);
  fails(await runSeg(['export', '--cfg', cfg, '--model', nan, '--backend', 'wasm', 'FREEZE.SAVE_DIR', path.join(root.dir, 'frozen')]), 3, message);
  assert.ok(!fs.existsSync(path.join(root.dir, 'frozen')), 'nothing exported');
  fails(await runSeg(['train', '--cfg', cfg, '--backend', 'wasm', 'TRAIN.PRETRAINED_MODEL_DIR', nan, 'TRAIN.MODEL_SAVE_DIR', path.join(root.dir, 'from-nan')]), 3, message);
});

test('3: eval refuses non-finite logits from finite but overflowing weights (exit 1, naming the image)', async () => {
  const huge = path.join(root.dir, 'huge');
  editedCheckpoint(path.join(run, 'final'), huge, 'logit/kernel', (v) => v.forEach((x, i) => (v[i] = x > 0 ? 3e38 : -3e38)));
  fails(await runSeg(['eval', '--cfg', cfg, '--model', huge, '--backend', 'wasm']), 1, /seg: runtime error: the model's logits are not finite \(NaN or ±Inf\) on .*val\/images\/0\.jpg/, /hint: the weights overflow/);
});

test('4: loss weights must be >= 0 and not all 0; a weight of an unused loss is a warning naming it', async () => {
  fails(await runSeg(['config', '--cfg', cfg, 'SOLVER.LOSS_WEIGHT.BCE_LOSS', '-0.5']), 2, /SOLVER\.LOSS_WEIGHT\.BCE_LOSS: expected number >= 0, got -0\.5 \(number\)/);
  fails(
    await runSeg(['config', '--cfg', cfg, 'SOLVER.LOSS_WEIGHT.BCE_LOSS', '0', 'SOLVER.LOSS_WEIGHT.LOVASZ_HINGE_LOSS', '0']),
    2,
    /SOLVER\.LOSS_WEIGHT: every loss of SOLVER\.LOSS: 0·bce_loss \+ 0·lovasz_hinge_loss has weight 0/,
    /hint: give at least one loss of the mix a weight above 0/,
  );
  const stages = path.join(root.dir, 'stages.yaml');
  fs.writeFileSync(stages, `${tinyConfig(data, run)}  LOSS_STAGES:\n    - {BEGIN_EPOCH: 2, LOSS: ["bce_loss"], LOSS_WEIGHT: {BCE_LOSS: 0}}\n`);
  fails(await runSeg(['config', '--cfg', stages]), 2, /SOLVER\.LOSS_STAGES: every loss of SOLVER\.LOSS_STAGES\[0\] \(from epoch 2\): 0·bce_loss has weight 0/);
  const r = await runSeg(['config', '--cfg', cfg, 'SOLVER.LOSS_WEIGHT.DICE_LOSS', '0.5']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /warning: SOLVER\.LOSS_WEIGHT\.DICE_LOSS is set but dice_loss is in neither SOLVER\.LOSS nor any SOLVER\.LOSS_STAGES entry: the weight has no effect/);
});

test('5: crop and resize sizes are bounded in the schema; seg check reports a crop that cannot fit in memory', async () => {
  fails(await runSeg(['check', '--cfg', cfg, 'TRAIN_CROP_SIZE', '(100000, 100000)']), 2, /TRAIN_CROP_SIZE: item 0: expected integer from 1 to 8192, got 100000 \(number\)/);
  fails(await runSeg(['config', '--cfg', cfg, 'AUG.MAX_RESIZE_VALUE', '20000']), 2, /AUG\.MAX_RESIZE_VALUE: expected integer from 1 to 8192, got 20000/);
  const r = await runSeg(['check', '--cfg', cfg, 'TRAIN_CROP_SIZE', '(8192, 8192)', 'BATCH_SIZE', '64', '--detail_log', path.join(root.dir, 'detail.log')]);
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stdout, /NOT PASS training memory check\n {2}a training step at BATCH_SIZE 64 × TRAIN_CROP_SIZE \(8192, 8192\) needs about 20616\.1 GB; this machine has/);
  assert.match(r.stdout, /lower BATCH_SIZE \(SOLVER\.ACCUMULATE_STEPS keeps the effective batch\) or TRAIN_CROP_SIZE/);
  assert.match(r.stdout, /NOT PASS: training memory check/);
});

test('6: YAML aliases are refused, and a 50 MB value is cut in the message', async () => {
  const bomb = path.join(root.dir, 'bomb.yaml');
  const levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (let i = 1; i < 9; i++) levels.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill(`*${String.fromCharCode(96 + i)}`).join(',')}]`);
  fs.writeFileSync(bomb, `${levels.join('\n')}\nDATASET:\n  CLASS_NAMES: *i\n`);
  const t0 = Date.now();
  fails(await runSeg(['config', '--cfg', bomb]), 2, /seg: config error: .*bomb\.yaml:2:\d+: YAML aliases \(\*name\) are not allowed in a config/, /hint: write the value out where the alias stands/);
  assert.ok(Date.now() - t0 < 30_000, 'refused without expanding');

  const big = path.join(root.dir, 'big.yaml');
  fs.writeFileSync(big, `DATASET:\n  DATA_DIR: "${'a'.repeat(50_000_000)}"\n`);
  const r = await runSeg(['config', '--cfg', big]);
  fails(r, 2, /seg: config error: DATASET\.DATA_DIR: expected string of at most 4096 characters, got "a{200}"… \(string of 50000000 characters\)/);
  assert.ok(r.stderr.length < 2000, `the message is short (${r.stderr.length} characters)`);
});

test('7: NUM_CLASSES 1 is a config error naming the key and the rule', async () => {
  for (const loss of ["['softmax_loss']", "['bce_loss']"]) {
    fails(await runSeg(['config', '--cfg', cfg, 'DATASET.NUM_CLASSES', '1', 'SOLVER.LOSS', loss]), 2, /DATASET\.NUM_CLASSES: expected integer >= 2, got 1 \(number\)/, /hint: DATASET\.NUM_CLASSES: .*at least 2/);
  }
});

/** Whether this machine lets a process mount a file system in a namespace of its own (root, or user namespaces). */
const canMount = spawnSync('unshare', ['-m', '--map-root-user', 'true']).status === 0 || spawnSync('unshare', ['-m', 'true']).status === 0;

/** Run `script` (sh) in a mount namespace of its own; `$SEG` is the seg command. */
function inNamespace(script: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const userNs = spawnSync('unshare', ['-m', 'true']).status !== 0;
  return new Promise((resolve) => {
    const child = spawn('unshare', [...(userNs ? ['--map-root-user'] : []), '-m', 'sh', '-c', script], {
      env: { ...process.env, SEG: `${process.execPath} ${SEG_BIN}`, CI: 'true', NO_COLOR: '1' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test('9: a full disk and a read-only folder are I/O errors naming the path (exit 1); the last snapshot survives', { skip: canMount ? false : 'needs unshare -m (root or user namespaces) to mount a small tmpfs' }, async () => {
  const mnt = path.join(root.dir, 'mnt');
  fs.mkdirSync(mnt);
  const full = `${mnt}/run`;
  // 2.6 MB holds the first snapshot (model + optimizer, ~1.7 MB) but not the second.
  const r = await inNamespace(
    [
      `mount -t tmpfs -o size=2600k tmpfs ${mnt} || exit 99`,
      `$SEG train --cfg ${cfg} --backend wasm --log_steps 100 TRAIN.MODEL_SAVE_DIR ${full} SOLVER.NUM_EPOCHS 3 TRAIN.KEEP_CHECKPOINTS 0; echo "train exit $?"`,
      `$SEG eval --cfg ${cfg} --backend wasm --model ${full}/1 --json > /dev/null; echo "eval exit $?"`,
      `mount -o remount,ro ${mnt}`,
      `$SEG train --cfg ${cfg} --backend wasm TRAIN.MODEL_SAVE_DIR ${mnt}/new; echo "read-only exit $?"`,
    ].join('\n'),
  );
  assert.notEqual(r.code, 99, r.stderr);
  assert.match(r.stdout, /train exit 1\n/);
  assert.match(r.stderr, new RegExp(`seg: runtime error: cannot write ${full}/2/\\S+: no space left on the device \\(ENOSPC\\)\\nhint: free disk space or choose a folder on another disk; files written before are kept`));
  assert.match(r.stdout, /eval exit 0\n/, 'snapshot 1/ is intact and evaluates');
  assert.match(r.stdout, /read-only exit 1\n/);
  assert.match(r.stderr, new RegExp(`seg: runtime error: cannot mkdir ${mnt}/new: the file system is read-only \\(EROFS\\)\\nhint: choose a folder on a writable file system`));
  assert.doesNotMatch(r.stderr, /looks like a bug/);
});

test('10: messages a user needs: unknown command, --cfg a folder, --seed range, --log_steps abc, a 20000² image', async () => {
  fails(await runSeg(['trian', '--cfg', cfg]), 2, /seg: usage error: unknown command trian; did you mean train\?/, /hint: the commands are check, train, eval/);
  fails(await runSeg(['dataset', 'mak', 'mnist_roads']), 2, /unknown command dataset mak; did you mean dataset make\?/);
  fails(await runSeg(['config', '--cfg', path.dirname(cfg)]), 2, /cannot read config file .*: it is a folder/, /hint: --cfg takes a YAML file, e\.g\. .*(bomb|big|cfg|stages)\.yaml/);
  fails(await runSeg(['config', '--cfg', cfg, '--seed', '99999999999999999999']), 2, /--seed expects an integer from 0 to 4294967295, got "99999999999999999999"/, /hint: e\.g\. --seed 42/);
  fails(await runSeg(['train', '--cfg', cfg, '--log_steps', 'abc']), 2, /--log_steps expects an integer >= 1, got "abc"/, /hint: e\.g\. --log_steps 10/);

  // A PNG header claiming 20000×20000 (the pixels are never decoded).
  const png = await sharp(Buffer.from([0, 0, 0]), { raw: { width: 1, height: 1, channels: 3 } }).png().toBuffer();
  png.writeUInt32BE(20000, 16);
  png.writeUInt32BE(20000, 20);
  png.writeUInt32BE(zlib.crc32(png.subarray(12, 29)), 29);
  fs.writeFileSync(path.join(data, 'huge.png'), png);
  const list = path.join(root.dir, 'huge.txt');
  fs.writeFileSync(list, 'huge.png|train/labels/0.png\n');
  const r = await runSeg(['train', '--cfg', cfg, '--backend', 'wasm', 'DATASET.TRAIN_FILE_LIST', list, 'BATCH_SIZE', '1', 'TRAIN.MODEL_SAVE_DIR', path.join(root.dir, 'huge-run')]);
  fails(r, 3, /seg: data error: image .*huge\.png \(.*huge\.txt:1\) is 20000×20000 \(400 megapixels\), above the 268 megapixels seg decodes/, /hint: cut it into tiles/);
});

test('11: seg dataset list refuses a file name holding the separator (exit 3) and an empty separator (exit 2)', async () => {
  const ds = path.join(root.dir, 'listed');
  fs.mkdirSync(path.join(ds, 'images', 'train'), { recursive: true });
  fs.mkdirSync(path.join(ds, 'annotations', 'train'), { recursive: true });
  fs.copyFileSync(path.join(data, 'train', 'images', '0.jpg'), path.join(ds, 'images', 'train', 'a|b.jpg'));
  fs.copyFileSync(path.join(data, 'train', 'labels', '0.png'), path.join(ds, 'annotations', 'train', 'a|b.png'));
  fails(await runSeg(['dataset', 'list', ds]), 3, /seg: data error: ".*images\/train\/a\|b\.jpg" contains the separator "\|", so its list line could not be split back into image and label/, /hint: rename the file, or choose another --separator/);
  assert.ok(!fs.existsSync(path.join(ds, 'train.txt')), 'no list written');
  fails(await runSeg(['dataset', 'list', ds, '--separator', '']), 2, /seg: usage error: --separator "" cannot separate an image from its label on one line/);
  const r = await runSeg(['dataset', 'list', ds, '--separator', ' ']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(fs.readFileSync(path.join(ds, 'train.txt'), 'utf8'), 'images/train/a|b.jpg annotations/train/a|b.png\n');
});

test('12: seg check escapes control bytes of a binary list file on the terminal and in the detail log', async () => {
  const list = path.join(root.dir, 'binary.txt');
  fs.writeFileSync(list, Buffer.concat([Buffer.from([0x1b, 0x5b, 0x32, 0x4a, 0x07, 0x00, 0x0d]), Buffer.from('evil\x1b]0;title\x07.jpg|x.png\n')]));
  const log = path.join(root.dir, 'binary-detail.log');
  const r = await runSeg(['check', '--cfg', cfg, 'DATASET.TRAIN_FILE_LIST', list, '--detail_log', log]);
  assert.equal(r.code, 3, r.stderr);
  for (const [where, text] of [['stdout', r.stdout], ['stderr', r.stderr], ['detail log', fs.readFileSync(log, 'utf8')]] as const) {
    assert.doesNotMatch(text, /[\x00-\x08\x0b-\x1f\x7f]/, `${where} holds a raw control byte`);
  }
  assert.match(r.stdout, /\\x1b\[2J\\x07\\x00\\x0d/);
});
