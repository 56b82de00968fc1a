/**
 * Segmentation metrics from one confusion matrix, as pdseg's eval reports them (reference §4):
 * rows are labels, columns predictions, and pixels whose label is IGNORE_INDEX are not counted.
 *
 *   IoU_c       = M[c,c] / (row_c + col_c − M[c,c])
 *   precision_c = M[c,c] / col_c       (pdseg prints this as "Category Acc")
 *   recall_c    = M[c,c] / row_c
 *   acc         = trace / total
 *   kappa       = (po − pe) / (1 − pe), po = trace/total, pe = Σ row_c·col_c / total²
 *
 * A class absent from both the labels and the predictions has no IoU (null): mIoU is the mean over
 * the classes that have one (mmsegmentation's nanmean). pdseg counted such classes as IoU 0, which
 * lowers mIoU on data where a class never appears; `miouAllClasses` gives that number too.
 */
export interface SegMetrics {
  numClasses: number;
  /** Pixels counted (IGNORE_INDEX excluded). */
  pixels: number;
  /** Per-class IoU; null when the class is in neither the labels nor the predictions. */
  iou: Array<number | null>;
  miou: number;
  /** pdseg's mIoU: mean over all classes, absent ones counted as 0. */
  miouAllClasses: number;
  acc: number;
  /** Per-class precision (pdseg's "Category Acc"); null when the class is never predicted. */
  precision: Array<number | null>;
  /** Per-class recall; null when the class is not in the labels. */
  recall: Array<number | null>;
  /** Per-class Dice/F1 = 2·tp / (row + col); null when absent from both. */
  dice: Array<number | null>;
  kappa: number;
  /** Fraction of counted label pixels per class. */
  labelFraction: number[];
  /** The confusion matrix, row-major [label][prediction]. */
  confusion: number[][];
}

export class ConfusionMatrix {
  readonly numClasses: number;
  private readonly counts: Float64Array;

  constructor(numClasses: number) {
    if (!Number.isInteger(numClasses) || numClasses < 1) throw new RangeError(`numClasses must be a positive integer, got ${numClasses}`);
    this.numClasses = numClasses;
    this.counts = new Float64Array(numClasses * numClasses);
  }

  /**
   * Count `labels` against `predictions` (same length). Pixels whose label is `ignoreIndex` are
   * skipped; any other label or prediction outside [0, numClasses) is an error.
   */
  update(labels: ArrayLike<number>, predictions: ArrayLike<number>, ignoreIndex: number): void {
    if (labels.length !== predictions.length) throw new RangeError(`labels (${labels.length}) and predictions (${predictions.length}) differ in length`);
    const C = this.numClasses;
    const m = this.counts;
    for (let i = 0; i < labels.length; i++) {
      const l = labels[i] as number;
      if (l === ignoreIndex) continue;
      const p = predictions[i] as number;
      if (l < 0 || l >= C || p < 0 || p >= C || !Number.isInteger(l) || !Number.isInteger(p)) {
        throw new RangeError(`label ${l} / prediction ${p} at pixel ${i} is outside [0, ${C - 1}]`);
      }
      m[l * C + p] = (m[l * C + p] as number) + 1;
    }
  }

  /** Add another matrix's counts (e.g. from a flipped pass or another shard). */
  merge(other: ConfusionMatrix): void {
    if (other.numClasses !== this.numClasses) throw new RangeError('cannot merge confusion matrices of different sizes');
    for (let i = 0; i < this.counts.length; i++) this.counts[i] = (this.counts[i] as number) + (other.counts[i] as number);
  }

  reset(): void {
    this.counts.fill(0);
  }

  get(label: number, prediction: number): number {
    return this.counts[label * this.numClasses + prediction] as number;
  }

  metrics(): SegMetrics {
    const C = this.numClasses;
    const rows = new Array<number>(C).fill(0);
    const cols = new Array<number>(C).fill(0);
    let total = 0;
    let trace = 0;
    const confusion: number[][] = [];
    for (let l = 0; l < C; l++) {
      const row: number[] = [];
      for (let p = 0; p < C; p++) {
        const v = this.get(l, p);
        row.push(v);
        rows[l] = (rows[l] as number) + v;
        cols[p] = (cols[p] as number) + v;
        total += v;
        if (l === p) trace += v;
      }
      confusion.push(row);
    }
    const iou: Array<number | null> = [];
    const precision: Array<number | null> = [];
    const recall: Array<number | null> = [];
    const dice: Array<number | null> = [];
    for (let c = 0; c < C; c++) {
      const tp = this.get(c, c);
      const r = rows[c] as number;
      const k = cols[c] as number;
      const union = r + k - tp;
      iou.push(union > 0 ? tp / union : null);
      precision.push(k > 0 ? tp / k : null);
      recall.push(r > 0 ? tp / r : null);
      dice.push(r + k > 0 ? (2 * tp) / (r + k) : null);
    }
    const present = iou.filter((v): v is number => v !== null);
    const miou = present.length > 0 ? present.reduce((a, b) => a + b, 0) / present.length : 0;
    const miouAllClasses = iou.reduce<number>((a, b) => a + (b ?? 0), 0) / C;
    const po = total > 0 ? trace / total : 0;
    let pe = 0;
    if (total > 0) for (let c = 0; c < C; c++) pe += ((rows[c] as number) * (cols[c] as number)) / (total * total);
    const kappa = total > 0 && pe < 1 ? (po - pe) / (1 - pe) : total > 0 ? 1 : 0;
    return {
      numClasses: C,
      pixels: total,
      iou,
      miou,
      miouAllClasses,
      acc: po,
      precision,
      recall,
      dice,
      kappa,
      labelFraction: rows.map((r) => (total > 0 ? r / total : 0)),
      confusion,
    };
  }
}

/** The value TRAIN.BEST_METRIC names: miou, acc, kappa or iou_<k> (a missing IoU counts as 0). */
export function pickMetric(m: SegMetrics, name: string): number {
  if (name === 'miou') return m.miou;
  if (name === 'acc') return m.acc;
  if (name === 'kappa') return m.kappa;
  const k = /^iou_(\d+)$/.exec(name);
  if (k) return m.iou[Number(k[1])] ?? 0;
  throw new RangeError(`unknown metric ${name}`);
}
