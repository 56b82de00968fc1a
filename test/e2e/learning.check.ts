/**
 * Training learns: `seg train` (a real process, wasm backend) on the shapes task
 * (test/helpers/shapes_dataset.ts: thin bars vs squares of the same colour, so only spatial features
 * separate them) must reach a foreground IoU that an untrained, frozen or mislabelled network cannot:
 * predicting everything as bars, or as background, or by colour alone gives IoU ≤ the share of bars
 * among bright pixels, MAX_BY_COLOUR below, measured on the generated val set by the test itself.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runSeg, tmpDir } from '../helpers/cli.js';
import { makeShapesDataset, shapesConfig } from '../helpers/shapes_dataset.js';
import { readLabel } from '../../src/data/image_io.js';

interface Head {
  name: string;
  classes: 2 | 3;
  loss: string;
  /** IoU of the bar class (1) that the trained model must exceed. */
  threshold: number;
  todo?: string;
}

const EPOCHS = 12;
const HEADS: Head[] = [
  { name: '1-channel BCE', classes: 2, loss: '["bce_loss"]', threshold: 0.5 },
  { name: '1-channel Lovász hinge + BCE', classes: 2, loss: '["lovasz_hinge_loss", "bce_loss"]', threshold: 0.5 },
  { name: 'softmax, 3 classes', classes: 3, loss: '["softmax_loss"]', threshold: 0.5 },
  { name: 'Lovász-Softmax + softmax, 3 classes', classes: 3, loss: '["lovasz_softmax_loss", "softmax_loss"]', threshold: 0.5 },
];

/**
 * IoU of "every bright pixel is a bar" on the 3-class val labels (the binary set has the same images,
 * seed and all, with squares as background): what colour alone can reach.
 */
async function colourOnlyIoU(dir: string): Promise<number> {
  const lines = fs.readFileSync(path.join(dir, 'val.txt'), 'utf8').trim().split('\n');
  let bars = 0;
  let bright = 0;
  for (const line of lines) {
    const [, lab] = line.split('|');
    const label = await readLabel(path.join(dir, lab!));
    for (const v of label.data) {
      if (v === 1) bars++;
      if (v !== 0) bright++;
    }
  }
  return bars / bright;
}

describe('training learns the shapes task (seg train, wasm)', () => {
  const tmp = tmpDir('seg-learning-');
  const data = (classes: number) => path.join(tmp.dir, `shapes_${classes}`);
  let maxByColour = 1;
  before(async () => {
    await makeShapesDataset(data(2), { classes: 2, train: 96, val: 32 });
    await makeShapesDataset(data(3), { classes: 3, train: 96, val: 32 });
    maxByColour = await colourOnlyIoU(data(3));
  });
  after(() => tmp.cleanup());

  for (const h of HEADS) {
    test(h.name, { todo: h.todo }, async () => {
      const run = path.join(tmp.dir, h.name.replace(/[^a-z0-9]+/gi, '_'));
      const cfg = `${run}.yaml`;
      fs.writeFileSync(cfg, shapesConfig(data(h.classes), run, { classes: h.classes, loss: h.loss, epochs: EPOCHS }));
      const r = await runSeg(['train', '--cfg', cfg, '--do_eval', '--seed', '1', '--backend', 'wasm', '--log_steps', '1000']);
      assert.equal(r.code, 0, r.stderr);
      const evals = fs
        .readFileSync(path.join(run, 'metrics.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { type: string; iou?: Array<number | null> })
        .filter((e) => e.type === 'eval');
      const iou = evals.at(-1)?.iou?.[1] ?? 0;
      assert.ok(maxByColour < h.threshold, `the threshold ${h.threshold} must exceed what colour alone gives (${maxByColour.toFixed(3)})`);
      assert.ok(iou > h.threshold, `bar IoU ${iou.toFixed(3)} after ${EPOCHS} epochs, needs > ${h.threshold} (colour alone: ${maxByColour.toFixed(3)})`);
    });
  }
});
