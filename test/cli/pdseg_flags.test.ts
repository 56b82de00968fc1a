/** pdseg's flags as its users type them: --use_gpu never falls back silently, --enable_ce fixes the seed. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { runSeg, tmpDir } from '../helpers/cli.js';
import { makeTinyDataset, tinyConfig } from '../helpers/tiny_dataset.js';

const gpuInstalled = (() => {
  try {
    createRequire(import.meta.url).resolve('@tensorflow/tfjs-node-gpu');
    return true;
  } catch {
    return false;
  }
})();

test('--use_gpu without a GPU backend is a usage error (exit 2) with the hint, and writes nothing', { skip: gpuInstalled ? 'tfjs-node-gpu is installed here' : false }, async () => {
  const tmp = tmpDir('seg-gpu-');
  try {
    const run = path.join(tmp.dir, 'run');
    const cfg = path.join(tmp.dir, 'cfg.yaml');
    fs.writeFileSync(cfg, tinyConfig(path.join(tmp.dir, 'data'), run));
    for (const extra of [[], ['--backend', 'wasm']]) {
      const r = await runSeg(['train', '--cfg', cfg, '--use_gpu', ...extra], { cwd: tmp.dir });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /^seg: usage error: --use_gpu asks for a GPU/m);
      assert.match(r.stderr, /^hint: drop --use_gpu to train on the CPU .*install @tensorflow\/tfjs-node-gpu/m);
    }
    assert.ok(!fs.existsSync(run), 'no run folder');
  } finally {
    tmp.cleanup();
  }
});

test('--enable_ce is pdseg\'s deterministic mode: SEED 0 unless --seed or the config sets one', async () => {
  const tmp = tmpDir('seg-ce-');
  try {
    const data = path.join(tmp.dir, 'data');
    await makeTinyDataset(data, { train: 2, val: 2 });
    const cfg = path.join(tmp.dir, 'cfg.yaml');
    fs.writeFileSync(cfg, tinyConfig(data, path.join(tmp.dir, 'unused')));
    const seedOf = async (name: string, ...extra: string[]): Promise<string | undefined> => {
      const run = path.join(tmp.dir, name);
      const r = await runSeg(['train', '--cfg', cfg, '--backend', 'wasm', '--enable_ce', ...extra, 'TRAIN.MODEL_SAVE_DIR', run], { cwd: tmp.dir });
      assert.equal(r.code, 0, r.stderr);
      return /^SEED: (\d+)$/m.exec(fs.readFileSync(path.join(run, 'config.yaml'), 'utf8'))?.[1];
    };
    assert.equal(await seedOf('ce'), '0');
    assert.equal(await seedOf('ce-seed', '--seed', '7'), '7');
    assert.equal(await seedOf('ce-config', 'SEED', '9'), '9');
  } finally {
    tmp.cleanup();
  }
});
