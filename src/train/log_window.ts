/**
 * The trainer's logging window: losses and images summed over the steps since the last train
 * record, turned into a metrics.jsonl record and the fields of the progress line.
 */
import type { ConfusionMatrix } from '../metrics/confusion.js';
import { formatDuration } from '../util/text.js';
import type { TrainRecord } from './metrics_log.js';

export class LogWindow {
  private n = 0;
  private images = 0;
  private loss = 0;
  private terms: Record<string, number> = {};
  private t0 = Date.now();

  /** `debug`: the running train confusion matrix (--debug), reported and reset with each record. */
  constructor(private readonly debug?: ConfusionMatrix) {}

  add(loss: number, terms: Readonly<Record<string, number>>, images: number): void {
    this.n++;
    this.images += images;
    this.loss += loss;
    for (const [k, v] of Object.entries(terms)) this.terms[k] = (this.terms[k] ?? 0) + v;
  }

  /** The record of the window (means over its steps), which then starts anew. */
  take(at: Pick<TrainRecord, 'epoch' | 'step' | 'epoch_step' | 'lr' | 'elapsed_s'>): TrainRecord {
    const secs = Math.max(1e-9, (Date.now() - this.t0) / 1000);
    const rec: TrainRecord = {
      type: 'train',
      ...at,
      loss: this.loss / this.n,
      terms: Object.fromEntries(Object.entries(this.terms).map(([k, v]) => [k, v / this.n])),
      steps_per_sec: this.n / secs,
      images_per_sec: this.images / secs,
    };
    if (this.debug) {
      const m = this.debug.metrics();
      rec.acc = m.acc;
      rec.miou = m.miou;
      this.debug.reset();
    }
    this.n = 0;
    this.images = 0;
    this.loss = 0;
    this.terms = {};
    this.t0 = Date.now();
    return rec;
  }
}

/** The fields of a progress line for `rec` (the loss terms only when there are several). */
export function progressFields(rec: TrainRecord, stepsPerEpoch: number, etaSeconds: number): Record<string, string | number> {
  const f: Record<string, string | number> = { epoch: rec.epoch, step: `${rec.epoch_step}/${stepsPerEpoch}`, lr: rec.lr.toPrecision(4), loss: rec.loss.toFixed(4) };
  const terms = Object.entries(rec.terms);
  if (terms.length > 1) for (const [k, v] of terms) f[k] = v.toFixed(4);
  f['step/s'] = rec.steps_per_sec.toFixed(3);
  if (rec.acc !== undefined) f['acc'] = rec.acc.toFixed(4);
  if (rec.miou !== undefined) f['mIoU'] = rec.miou.toFixed(4);
  f['eta'] = formatDuration(etaSeconds);
  return f;
}
