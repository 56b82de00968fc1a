/**
 * metrics.jsonl: one JSON object per line, appended as training runs. `seg plot` and
 * `seg experiment` read it back.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { dataError } from '../util/errors.js';

export interface TrainRecord {
  type: 'train';
  epoch: number;
  /** Global step, 1-based (the number of updates done). */
  step: number;
  /** Step within the epoch, 1-based. */
  epoch_step: number;
  lr: number;
  /** Mean total loss over the steps since the previous train record. */
  loss: number;
  /** Mean of each weighted loss term (before weighting) over the same window. */
  terms: Record<string, number>;
  steps_per_sec: number;
  images_per_sec: number;
  elapsed_s: number;
  /** With --debug: running train accuracy and mIoU over the window. */
  acc?: number;
  miou?: number;
}

export interface EvalRecord {
  type: 'eval';
  epoch: number;
  step: number;
  split: string;
  miou: number;
  acc: number;
  kappa: number;
  iou: Array<number | null>;
  precision: Array<number | null>;
  recall: Array<number | null>;
  loss?: number;
  elapsed_s: number;
}

export type MetricRecord = TrainRecord | EvalRecord;

/** Where else each record goes (TensorBoard events, tensorboard.ts). */
export interface RecordSink {
  write(record: MetricRecord): void;
  close(): void;
}

export class MetricsLog {
  readonly file: string;
  private fd: number;

  constructor(
    dir: string,
    opts: { append: boolean },
    private readonly mirror?: RecordSink,
  ) {
    this.file = path.join(dir, 'metrics.jsonl');
    this.fd = fs.openSync(this.file, opts.append ? 'a' : 'w');
  }

  write(record: MetricRecord): void {
    fs.writeSync(this.fd, `${JSON.stringify(record)}\n`);
    this.mirror?.write(record);
  }

  close(): void {
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
    this.mirror?.close();
  }
}

/** Read a run's metrics.jsonl (a run folder or the file itself). A torn last line is skipped. */
export function readMetrics(runOrFile: string): MetricRecord[] {
  const file = fs.existsSync(runOrFile) && fs.statSync(runOrFile).isDirectory() ? path.join(runOrFile, 'metrics.jsonl') : runOrFile;
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw dataError(`no metrics at ${file}`, { file, hint: 'give a run folder (TRAIN.MODEL_SAVE_DIR) written by `seg train`' });
  }
  const out: MetricRecord[] = [];
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      const rec = JSON.parse(line) as MetricRecord;
      if (rec.type === 'train' || rec.type === 'eval') out.push(rec);
    } catch (e) {
      // The last line of a run killed mid-write may be torn: skip it; anything else is an error.
      if (i < lines.length - 2) throw dataError(`${file}:${i + 1}: not valid JSON`, { file, line: i + 1, hint: 'the metrics file is corrupt', cause: e });
    }
  });
  return out;
}
