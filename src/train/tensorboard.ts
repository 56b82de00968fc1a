/**
 * TensorBoard event files, for pdseg's `--use_vdl` (VisualDL) and older `--use_tb` flags: the
 * scalars pdseg logged (Train/loss, Train/lr, Train/speed, Evaluate/mean_iou, Evaluate/mean_acc)
 * plus seg's loss terms and per-class IoU, readable by TensorBoard (`tensorboard --logdir DIR`).
 *
 * Format: TFRecord framing (uint64 length, masked CRC-32C of the length, the bytes, masked CRC-32C
 * of the bytes, little-endian) around protobuf `Event` messages: the first holds
 * `file_version: "brain.Event:2"`, each later one a `Summary` of `simple_value` scalars.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeDirs } from '../util/atomic.js';
import { withPath } from '../util/errors.js';
import type { MetricRecord } from './metrics_log.js';

const CRC32C_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

/** CRC-32C (Castagnoli), as TFRecord uses. */
export function crc32c(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = (CRC32C_TABLE[(c ^ b) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const masked = (crc: number): number => (((crc >>> 15) | (crc << 17)) + 0xa282ead8) >>> 0;

function varint(n: number): number[] {
  const out: number[] = [];
  let v = n;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}

/** A length-delimited protobuf field. */
const lengthField = (field: number, bytes: Uint8Array | number[]): number[] => [(field << 3) | 2, ...varint(bytes.length), ...bytes];

/** An Event: wall_time (field 1, double), step (2, int64; omitted at 0, as proto3 writes it), then `body`. */
function eventBytes(wallTime: number, step: number, body: number[]): Uint8Array {
  const time = new Uint8Array(new Float64Array([wallTime]).buffer);
  return Uint8Array.from([0x09, ...time, ...(step === 0 ? [] : [0x10, ...varint(step)]), ...body]);
}

/** A Summary with one simple_value per tag (field 5 of Event). */
function summaryField(scalars: ReadonlyArray<[string, number]>): number[] {
  const values = scalars.flatMap(([tag, v]) => lengthField(1, [...lengthField(1, new TextEncoder().encode(tag)), 0x15, ...new Uint8Array(new Float32Array([v]).buffer)]));
  return lengthField(5, values);
}

/** One TFRecord of an Event holding `file_version` or a Summary of scalars (exported for the reference test). */
export function eventRecord(wallTime: number, step: number, content: { fileVersion: string } | { scalars: ReadonlyArray<[string, number]> }): Buffer {
  const body = 'fileVersion' in content ? lengthField(3, new TextEncoder().encode(content.fileVersion)) : summaryField(content.scalars);
  return record(eventBytes(wallTime, step, body));
}

function record(data: Uint8Array): Buffer {
  const head = Buffer.alloc(12);
  head.writeBigUInt64LE(BigInt(data.length), 0);
  head.writeUInt32LE(masked(crc32c(head.subarray(0, 8))), 8);
  const tail = Buffer.alloc(4);
  tail.writeUInt32LE(masked(crc32c(data)), 0);
  return Buffer.concat([head, data, tail]);
}

/** Appends scalar events to `<dir>/events.out.tfevents.<time>.<host>`, flushed with each write. */
export class EventWriter {
  readonly file: string;
  private readonly fd: number;

  constructor(dir: string) {
    makeDirs(dir);
    this.file = path.join(dir, `events.out.tfevents.${Math.floor(Date.now() / 1000)}.${os.hostname()}.seg`);
    try {
      this.fd = fs.openSync(this.file, 'a');
    } catch (e) {
      throw withPath(e, this.file);
    }
    this.append(eventRecord(Date.now() / 1000, 0, { fileVersion: 'brain.Event:2' }));
  }

  scalars(step: number, values: ReadonlyArray<[string, number]>): void {
    const finite = values.filter(([, v]) => Number.isFinite(v));
    if (finite.length > 0) this.append(eventRecord(Date.now() / 1000, step, { scalars: finite }));
  }

  /** A metrics.jsonl record as pdseg's VisualDL tags (and seg's loss terms and per-class IoU). */
  write(rec: MetricRecord): void {
    if (rec.type === 'train') {
      const extra: Array<[string, number]> = rec.miou === undefined ? [] : [['Train/mean_iou', rec.miou], ['Train/mean_acc', rec.acc ?? NaN]];
      this.scalars(rec.step, [['Train/loss', rec.loss], ['Train/lr', rec.lr], ['Train/speed', rec.steps_per_sec], ...Object.entries(rec.terms).map(([k, v]): [string, number] => [`Train/${k}`, v]), ...extra]);
    } else {
      const iou = rec.iou.flatMap((v, k): Array<[string, number]> => (v === null ? [] : [[`Evaluate/IoU_${k}`, v]]));
      this.scalars(rec.step, [['Evaluate/mean_iou', rec.miou], ['Evaluate/mean_acc', rec.acc], ['Evaluate/kappa', rec.kappa], ...iou, ...(rec.loss === undefined ? [] : [['Evaluate/loss', rec.loss] as [string, number]])]);
    }
  }

  close(): void {
    fs.closeSync(this.fd);
  }

  private append(rec: Buffer): void {
    try {
      fs.writeSync(this.fd, rec);
    } catch (e) {
      throw withPath(e, this.file);
    }
  }
}
