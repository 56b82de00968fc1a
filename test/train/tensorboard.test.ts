/**
 * TensorBoard event files (--use_vdl): each record byte for byte as Debian's python3-protobuf
 * serialises TensorBoard's Event (scripts/reference/tensorboard_reference.py), and `seg train
 * --use_vdl` writing the metrics.jsonl values as events a TFRecord reader accepts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { crc32c, eventRecord } from '../../src/train/tensorboard.js';
import { readMetrics, type TrainRecord } from '../../src/train/metrics_log.js';
import { REPO_ROOT, runSeg, tmpDir } from '../helpers/cli.js';
import { makeTinyDataset, tinyConfig } from '../helpers/tiny_dataset.js';

interface Case {
  wall_time: number;
  step: number;
  file_version?: string;
  scalars?: Array<[string, number]>;
  record_hex: string;
}
const golden = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'test', 'golden', 'tensorboard_reference.json'), 'utf8')) as { cases: Case[] };

test('CRC-32C check value', () => {
  assert.equal(crc32c(new TextEncoder().encode('123456789')), 0xe3069283);
});

test('event records equal python3-protobuf serialisations of the same Events', () => {
  for (const c of golden.cases) {
    const rec = eventRecord(c.wall_time, c.step, c.file_version !== undefined ? { fileVersion: c.file_version } : { scalars: c.scalars ?? [] });
    assert.equal(rec.toString('hex'), c.record_hex, `step ${c.step}`);
  }
});

/** The scalars of an events file: TFRecord framing checked (lengths and CRCs), then the Summary values read. */
function readScalars(file: string): Map<string, Array<[number, number]>> {
  const buf = fs.readFileSync(file);
  const masked = (crc: number): number => (((crc >>> 15) | (crc << 17)) + 0xa282ead8) >>> 0;
  const out = new Map<string, Array<[number, number]>>();
  let o = 0;
  while (o < buf.length) {
    const len = Number(buf.readBigUInt64LE(o));
    assert.equal(buf.readUInt32LE(o + 8), masked(crc32c(buf.subarray(o, o + 8))), 'length CRC');
    const data = buf.subarray(o + 12, o + 12 + len);
    assert.equal(buf.readUInt32LE(o + 12 + len), masked(crc32c(data)), 'data CRC');
    o += 16 + len;
    let step = 0;
    let p = 9; // wall_time
    const varint = (): number => {
      let v = 0;
      let mul = 1;
      for (;;) {
        const b = data[p++] as number;
        v += (b & 0x7f) * mul;
        mul *= 128;
        if (b < 0x80) return v;
      }
    };
    if (data[p] === 0x10) {
      p++;
      step = varint();
    }
    if (data[p] !== 0x2a) continue; // the file_version event
    p++;
    const end = varint() + p;
    while (p < end) {
      p++; // Value tag
      const vEnd = varint() + p;
      p++; // tag field
      const tagLen = varint();
      const tag = data.subarray(p, p + tagLen).toString('utf8');
      p += tagLen + 1; // simple_value field
      const value = data.readFloatLE(p);
      p = vEnd;
      out.set(tag, [...(out.get(tag) ?? []), [step, value]]);
    }
  }
  return out;
}

test('seg train --use_vdl writes the logged metrics as TensorBoard scalars, in the run folder by default', async () => {
  const tmp = tmpDir('seg-tb-');
  try {
    const data = path.join(tmp.dir, 'data');
    await makeTinyDataset(data, { train: 4, val: 2 });
    const run = path.join(tmp.dir, 'run');
    const cfg = path.join(tmp.dir, 'cfg.yaml');
    fs.writeFileSync(cfg, tinyConfig(data, run, { epochs: 2 }));
    const r = await runSeg(['train', '--cfg', cfg, '--backend', 'wasm', '--do_eval', '--use_vdl', '--log_steps', '1'], { cwd: tmp.dir });
    assert.equal(r.code, 0, r.stderr);
    const files = fs.readdirSync(path.join(run, 'tensorboard'));
    assert.equal(files.length, 1);
    assert.match(files[0] as string, /^events\.out\.tfevents\.\d+\..+\.seg$/);
    const scalars = readScalars(path.join(run, 'tensorboard', files[0] as string));
    const train = readMetrics(run).filter((x): x is TrainRecord => x.type === 'train');
    assert.deepEqual(scalars.get('Train/loss')?.map(([s]) => s), train.map((t) => t.step));
    scalars.get('Train/loss')?.forEach(([, v], i) => assert.equal(v, Math.fround(train[i]?.loss ?? NaN)));
    for (const tag of ['Train/lr', 'Train/speed', 'Train/bce_loss', 'Train/lovasz_hinge_loss', 'Evaluate/mean_iou', 'Evaluate/mean_acc', 'Evaluate/IoU_0']) assert.ok(scalars.has(tag), tag);
    assert.equal(scalars.get('Evaluate/mean_iou')?.length, 2);

    const elsewhere = path.join(tmp.dir, 'vdl');
    const r2 = await runSeg(['train', '--cfg', cfg, '--backend', 'wasm', '--use_tb', '--tb_log_dir', elsewhere, 'TRAIN.MODEL_SAVE_DIR', path.join(tmp.dir, 'run2')], { cwd: tmp.dir });
    assert.equal(r2.code, 0, r2.stderr);
    assert.equal(fs.readdirSync(elsewhere).length, 1, "pdseg's older --use_tb/--tb_log_dir names work too");
  } finally {
    tmp.cleanup();
  }
});
