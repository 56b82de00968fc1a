/** How `seg eval` prints its result: a per-class table, or one JSON object. */
import type { EvaluateResult } from './evaluate.js';

const f4 = (v: number | null): string => (v === null ? '     -' : v.toFixed(4));

export function formatMetricsTable(r: EvaluateResult, classNames: readonly string[] | null): string {
  const m = r.metrics;
  const names = Array.from({ length: m.numClasses }, (_, c) => classNames?.[c] ?? `class ${c}`);
  const w = Math.max(5, ...names.map((n) => n.length));
  const lines = [
    `${'class'.padEnd(w)}  IoU     precision  recall  dice    pixels`,
    ...names.map((n, c) => `${n.padEnd(w)}  ${f4(m.iou[c] ?? null)}  ${f4(m.precision[c] ?? null)}     ${f4(m.recall[c] ?? null)}  ${f4(m.dice[c] ?? null)}  ${((m.labelFraction[c] ?? 0) * 100).toFixed(2)}%`),
    '',
    `mIoU ${m.miou.toFixed(4)}  accuracy ${m.acc.toFixed(4)}  kappa ${m.kappa.toFixed(4)}${r.loss !== undefined ? `  loss ${r.loss.toFixed(4)}` : ''}  (${r.images} images, ${m.pixels} labelled pixels)`,
    `mIoU averages the classes present in the labels or the predictions; counting absent classes as 0 (pdseg) gives ${m.miouAllClasses.toFixed(4)}`,
  ];
  return lines.join('\n');
}

export function metricsJson(r: EvaluateResult, extra: { model: string; list: string; classNames: readonly string[] | null; flip: boolean }): Record<string, unknown> {
  const m = r.metrics;
  return {
    model: extra.model,
    list: extra.list,
    images: r.images,
    pixels: m.pixels,
    flip: extra.flip,
    miou: m.miou,
    miou_all_classes: m.miouAllClasses,
    acc: m.acc,
    kappa: m.kappa,
    loss: r.loss ?? null,
    classes: Array.from({ length: m.numClasses }, (_, c) => ({
      index: c,
      name: extra.classNames?.[c] ?? null,
      iou: m.iou[c] ?? null,
      precision: m.precision[c] ?? null,
      recall: m.recall[c] ?? null,
      dice: m.dice[c] ?? null,
      label_fraction: m.labelFraction[c] ?? 0,
    })),
    confusion: m.confusion,
    seconds: r.seconds,
  };
}
