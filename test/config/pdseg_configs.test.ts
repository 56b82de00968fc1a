/**
 * Every config of legacy PaddleSeg's `configs/` (fixtures/pdseg_configs.ts: the keys those files
 * use, written back to YAML here) loads in seg, or stops with one config error that names
 * MODEL.MODEL_NAME or MODEL.DEEPLAB.BACKBONE and what seg builds, and nothing about other keys.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { resolveConfig } from '../../src/config/resolve.js';
import { SegError } from '../../src/util/errors.js';
import { runSeg, tmpDir } from '../helpers/cli.js';
import { PDSEG_CONFIGS, type PdsegConfig } from './fixtures/pdseg_configs.js';

/** YAML of dotted keys with their values as written (`A.B: v` → `A:\n  B: v`). */
function toYaml(keys: Record<string, string>): string {
  const lines: string[] = [];
  let open: string[] = [];
  for (const [key, value] of Object.entries(keys).sort(([a], [b]) => a.localeCompare(b))) {
    const parts = key.split('.');
    let common = 0;
    while (common < open.length && common < parts.length - 1 && open[common] === parts[common]) common++;
    for (let i = common; i < parts.length - 1; i++) lines.push(`${'  '.repeat(i)}${parts[i]}:`);
    lines.push(`${'  '.repeat(parts.length - 1)}${parts.at(-1)}: ${value}`);
    open = parts.slice(0, -1);
  }
  return `${lines.join('\n')}\n`;
}

function write(dir: string, c: PdsegConfig): string {
  const file = path.join(dir, `${c.tag}_${path.basename(c.path)}`);
  fs.writeFileSync(file, toYaml(c.keys));
  return file;
}

test('the fixture holds the 23 pdseg config paths (and the two v0.2.0 "mobilenet" versions)', () => {
  assert.equal(new Set(PDSEG_CONFIGS.map((c) => c.path)).size, 23);
  assert.equal(PDSEG_CONFIGS.filter((c) => c.keys['MODEL.DEEPLAB.BACKBONE'] === '"mobilenet"').length, 2);
});

test('each pdseg config loads or fails on its architecture alone', () => {
  const tmp = tmpDir('seg-pdseg-');
  try {
    for (const c of PDSEG_CONFIGS) {
      const file = write(tmp.dir, c);
      const what = `${c.path} (${c.tag})`;
      let outcome: { ok: true; warnings: string[]; backbone: string } | { ok: false; error: SegError };
      try {
        const r = resolveConfig({ cfgFile: file, cwd: tmp.dir });
        outcome = { ok: true, warnings: r.warnings, backbone: r.config.MODEL.DEEPLAB.BACKBONE };
      } catch (e) {
        if (!(e instanceof SegError)) throw e;
        outcome = { ok: false, error: e };
      }
      if (c.expect === 'loads' || c.expect === 'unset-backbone') {
        assert.ok(outcome.ok, `${what} loads: ${outcome.ok ? '' : outcome.error.message}`);
        assert.equal(outcome.backbone, 'mobilenetv2', `${what} builds MobileNetV2`);
        const warned = outcome.warnings.some((w) => /MODEL\.DEEPLAB\.BACKBONE is not set: seg builds mobilenetv2, where pdseg would build its default xception_65/.test(w));
        assert.equal(warned, c.expect === 'unset-backbone', `${what}: the unset-backbone warning`);
      } else {
        assert.ok(!outcome.ok, `${what} must not load`);
        const key = c.expect === 'model' ? 'MODEL.MODEL_NAME' : 'MODEL.DEEPLAB.BACKBONE';
        assert.equal(outcome.error.kind, 'config', what);
        assert.equal(outcome.error.key, key, `${what}: ${outcome.error.message}`);
        assert.match(outcome.error.message, c.expect === 'model' ? /is a pdseg architecture seg does not build; seg builds deeplabv3p/ : /is a pdseg backbone seg does not build; seg builds mobilenetv2/, what);
      }
    }
  } finally {
    tmp.cleanup();
  }
});

test('as real processes: seg config on a pdseg road config, an xception config and a unet config', async () => {
  const tmp = tmpDir('seg-pdseg-cli-');
  try {
    const pick = (p: string, tag?: string): PdsegConfig => PDSEG_CONFIGS.find((c) => c.path === p && (tag === undefined || c.tag === tag)) as PdsegConfig;
    const road = await runSeg(['config', '--cfg', write(tmp.dir, pick('configs/deepglobe_road_extraction.yaml', 'v0.2.0')), '--json'], { cwd: tmp.dir });
    assert.equal(road.code, 0, road.stderr);
    assert.equal((JSON.parse(road.stdout) as { MODEL: { DEEPLAB: { BACKBONE: string } } }).MODEL.DEEPLAB.BACKBONE, 'mobilenetv2');

    const x = await runSeg(['config', '--cfg', write(tmp.dir, pick('configs/deeplabv3p_xception65_pet.yaml'))], { cwd: tmp.dir });
    assert.equal(x.code, 2, x.stderr);
    assert.match(x.stderr, /^seg: config error: MODEL\.DEEPLAB\.BACKBONE: xception_65 is a pdseg backbone seg does not build; seg builds mobilenetv2/m);

    const unet = await runSeg(['config', '--cfg', write(tmp.dir, pick('configs/unet_pet.yaml'))], { cwd: tmp.dir });
    assert.equal(unet.code, 2, unet.stderr);
    assert.equal(unet.stderr.trim().split('\n').length, 2, `one error line and one hint:\n${unet.stderr}`);
    assert.match(unet.stderr, /^seg: config error: MODEL\.MODEL_NAME: unet is a pdseg architecture seg does not build; seg builds deeplabv3p/m);
  } finally {
    tmp.cleanup();
  }
});

test('pdseg keys of other models are accepted at any value and said to be ignored; SYNC_BATCH_NORM is plain BN; FP16 and slim options stop', async () => {
  const tmp = tmpDir('seg-pdseg-keys-');
  try {
    const cfg = path.join(tmp.dir, 'c.yaml');
    fs.writeFileSync(cfg, 'TRAIN_CROP_SIZE: (64, 64)\nEVAL_CROP_SIZE: (64, 64)\nMODEL:\n  DEEPLAB:\n    BACKBONE: mobilenet\n  UNET:\n    UPSAMPLE_MODE: deconv\n  HRNET:\n    STAGE2:\n      NUM_CHANNELS: [18, 36]\nTRAIN:\n  SYNC_BATCH_NORM: True\n');
    const r = await runSeg(['config', '--cfg', cfg], { cwd: tmp.dir });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^ignored \(pdseg options of models or tools seg does not build\): MODEL\.UNET\.UPSAMPLE_MODE, MODEL\.HRNET\.STAGE2\.NUM_CHANNELS$/m);
    assert.match(r.stderr, /^TRAIN\.SYNC_BATCH_NORM True: seg trains in one process on one device, where batch norm is already synchronised$/m);
    for (const [key, value] of [['MODEL.FP16', 'True'], ['NUM_TRAINERS', '2'], ['SLIM.KNOWLEDGE_DISTILL', 'True'], ['SLIM.PRUNE_RATIOS', '[0.5]']]) {
      const f = await runSeg(['config', '--cfg', cfg, key as string, value as string], { cwd: tmp.dir });
      assert.equal(f.code, 2, `${key}: ${f.stderr}`);
      assert.match(f.stderr, new RegExp(`seg: config error: ${(key as string).replace(/\./g, '\\.')}: is a pdseg option that seg does not build`));
    }
  } finally {
    tmp.cleanup();
  }
});
