import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runSeg, tmpDir, REPO_ROOT } from '../helpers/cli.js';

const ROAD = 'configs/lovasz_hinge_road.yaml';

test('seg --help lists every command and the exit codes', async () => {
  const r = await runSeg(['--help']);
  assert.equal(r.code, 0, r.stderr);
  for (const cmd of ['check', 'train', 'eval', 'vis', 'export', 'config', 'dataset', 'pretrained', 'plot', 'experiment']) {
    assert.match(r.stdout, new RegExp(`seg ${cmd}`), `help mentions ${cmd}`);
  }
  assert.match(r.stdout, /Exit codes: 0 ok, 1 runtime failure, 2 usage or config error, 3 data problem/);
});

test('seg <cmd> --help shows the command flags', async () => {
  const r = await runSeg(['train', '--help']);
  assert.equal(r.code, 0, r.stderr);
  for (const flag of ['--cfg', '--use_gpu', '--use_mpio', '--do_eval', '--log_steps', '--debug', '--seed', '--json', '--quiet', '--verbose', '--backend']) {
    assert.ok(r.stdout.includes(flag), `train --help mentions ${flag}`);
  }
  assert.match(r.stdout, /KEY VALUE/);
  const v = await runSeg(['vis', '--help']);
  assert.ok(v.stdout.includes('--vis_dir'));
});

test('seg --version prints the package version', async () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
  const r = await runSeg(['--version']);
  assert.equal(r.code, 0);
  assert.equal(r.stdout.trim(), pkg.version);
});

test('an unknown flag is a usage error (exit 2)', async () => {
  const r = await runSeg(['config', '--cfg', ROAD, '--bogus']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^seg: usage error: Unknown argument: bogus/m);
  assert.match(r.stderr, /^hint: /m);
  assert.equal(r.stdout, '');
});

test('an unknown subcommand is a usage error with a suggestion', async () => {
  const r = await runSeg(['trian', '--cfg', ROAD]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /seg: usage error: unknown command trian; did you mean train\?/);
});

test('no command is a usage error', async () => {
  const r = await runSeg([]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /choose a command/);
});

test('a missing --cfg is a usage error', async () => {
  const r = await runSeg(['config']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /Missing required argument: cfg/);
});

test('seg config prints the resolved config as JSON, overrides applied, flags anywhere', async () => {
  const r = await runSeg(['config', '--cfg', ROAD, 'SOLVER.LOSS', "['lovasz_hinge_loss','bce_loss']", 'SOLVER.LOSS_WEIGHT.BCE_LOSS', '0.3', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const cfg = JSON.parse(r.stdout) as { SOLVER: { LOSS: string[]; LOSS_WEIGHT: Record<string, number> }; TRAIN_CROP_SIZE: number[] };
  assert.deepEqual(cfg.SOLVER.LOSS, ['lovasz_hinge_loss', 'bce_loss']);
  assert.equal(cfg.SOLVER.LOSS_WEIGHT['BCE_LOSS'], 0.3);
  assert.equal(cfg.SOLVER.LOSS_WEIGHT['LOVASZ_HINGE_LOSS'], 0.5);
  assert.deepEqual(cfg.TRAIN_CROP_SIZE, [769, 769]);
});

test('seg config prints YAML by default, and negative values after keys are values', async () => {
  const r = await runSeg(['config', '--cfg', ROAD, 'SOLVER.LR', '-1e-4']);
  // LR must be >= 0: the negative value reaches validation instead of being parsed as a flag
  assert.equal(r.code, 2);
  assert.match(r.stderr, /SOLVER\.LR: expected number >= 0, got -0\.0001 \(number\) \(from the command line\)/);
  const y = await runSeg(['config', '--cfg', ROAD, '--seed', '7']);
  assert.equal(y.code, 0, y.stderr);
  assert.match(y.stdout, /^SEED: 7$/m);
  assert.match(y.stdout, /^ {2}AUG_METHOD: stepscaling$/m);
});

test('a misspelt key exits 2 naming it and suggesting the right one', async () => {
  const r = await runSeg(['config', '--cfg', ROAD, 'SOLVER.LR_POLICYY', 'poly']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^seg: config error: unknown config key SOLVER\.LR_POLICYY on the command line; did you mean SOLVER\.LR_POLICY\?$/m);
  assert.match(r.stderr, /^hint: replace SOLVER\.LR_POLICYY with SOLVER\.LR_POLICY$/m);
  assert.doesNotMatch(r.stderr, /at .*\.js:\d+/, 'no stack trace without --verbose');
});

test('--verbose adds the stack trace', async () => {
  const r = await runSeg(['config', '--cfg', ROAD, '--verbose', 'SOLVER.LR_POLICYY', 'poly']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /at .*resolve\.js:\d+/);
});

test('config errors from a file (real process): wrong type, YAML syntax, missing file, odd overrides', async () => {
  const { dir, cleanup } = tmpDir();
  try {
    fs.writeFileSync(path.join(dir, 'type.yaml'), 'TRAIN_CROP_SIZE: (64, 64)\nEVAL_CROP_SIZE: (64, 64)\nSOLVER:\n  NUM_EPOCHS: many\n');
    let r = await runSeg(['config', '--cfg', 'type.yaml'], { cwd: dir });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /seg: config error: SOLVER\.NUM_EPOCHS: expected integer > 0, got "many" \(string\) \(from type\.yaml\)/);

    fs.writeFileSync(path.join(dir, 'syntax.yaml'), 'SOLVER:\n  LR: [0.1\n  LR_POLICY: poly\n');
    r = await runSeg(['config', '--cfg', 'syntax.yaml'], { cwd: dir });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /seg: config error: syntax\.yaml:\d+:\d+: YAML syntax error/);

    r = await runSeg(['config', '--cfg', 'nope.yaml'], { cwd: dir });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /cannot read config file nope\.yaml: no such file/);

    r = await runSeg(['config', '--cfg', path.join(REPO_ROOT, ROAD), 'SOLVER.LR', '0.1', 'BATCH_SIZE'], { cwd: dir });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /seg: usage error: KEY VALUE overrides need an even number of tokens, got 3/);

    r = await runSeg(['config', '--cfg', path.join(REPO_ROOT, ROAD), 'SOLVER.LOSS', "['lovasz_hinge_loss','softmax_loss']"], { cwd: dir });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /cannot mix one-channel losses/);
  } finally {
    cleanup();
  }
});

test('--seed must be an integer from 0 to 2^32 - 1', async () => {
  const r = await runSeg(['config', '--cfg', ROAD, '--seed', 'abc']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--seed expects an integer from 0 to 4294967295, got "abc"/);
});
