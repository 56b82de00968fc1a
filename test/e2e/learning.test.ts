/**
 * Training learns: `seg train` (a real process, wasm backend) on the shapes task
 * (test/helpers/shapes_dataset.ts: thin bars are the foreground, squares of the same colour are
 * background, so only spatial features separate them) must reach a bar IoU that no broken step can:
 *   - colour alone ("every bright pixel is a bar") gives the share of bars among bright pixels,
 *     measured on the generated val set by the test itself, and the threshold lies above it;
 *   - the same run at learning rate 0 (the network as initialised) must stay below the threshold,
 *     so the threshold is one that only the optimiser's steps can reach.
 * Every head and loss family must learn it: the 1-channel head under BCE and under Lovász hinge +
 * BCE (bars vs background), and the 3-class softmax head (bars 1, squares 2) under softmax and under
 * Lovász-Softmax + softmax.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runSeg, tmpDir } from '../helpers/cli.js';
import { makeShapesDataset, shapesConfig } from '../helpers/shapes_dataset.js';
import { readImage, readLabel } from '../../src/data/image_io.js';

const EPOCHS = 16;
/** Bar IoU a trained model must exceed. */
const THRESHOLD = 0.6;
interface Head {
  name: string;
  classes: 2 | 3;
  loss: string[];
  weights?: number[];
}
const HEADS: Head[] = [
  { name: '1-channel head, BCE', classes: 2, loss: ['bce_loss'] },
  { name: '1-channel head, Lovász hinge + BCE', classes: 2, loss: ['lovasz_hinge_loss', 'bce_loss'], weights: [0.5, 0.5] },
  { name: '3-class softmax head, softmax', classes: 3, loss: ['softmax_loss'] },
  { name: '3-class softmax head, Lovász-Softmax + softmax', classes: 3, loss: ['lovasz_softmax_loss', 'softmax_loss'], weights: [0.5, 0.5] },
];

/** Grey level between the shapes' colour (165-215) and the background's (50-110). */
const BRIGHT = 138;

/** IoU of "every bright pixel is a bar" over the val set: what colour alone can reach. */
async function colourOnlyIoU(dir: string): Promise<number> {
  let inter = 0;
  let union = 0;
  for (const line of fs.readFileSync(path.join(dir, 'val.txt'), 'utf8').trim().split('\n')) {
    const [img, lab] = line.split('|');
    const image = await readImage(path.join(dir, img!), 'rgb');
    const label = await readLabel(path.join(dir, lab!));
    label.data.forEach((v, i) => {
      const bright = image.data[3 * i]! + image.data[3 * i + 1]! + image.data[3 * i + 2]! > 3 * BRIGHT;
      if (bright && v === 1) inter++;
      if (bright || v === 1) union++;
    });
  }
  return inter / union;
}

/** Trains one config and returns the bar IoU of its last evaluation. */
async function trainedIoU(cfgPath: string, runDir: string): Promise<number> {
  const r = await runSeg(['train', '--cfg', cfgPath, '--do_eval', '--seed', '1', '--backend', 'wasm', '--log_steps', '1000'], { timeoutMs: 300_000 });
  assert.equal(r.code, 0, r.stderr);
  const evals = fs
    .readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { type: string; iou?: Array<number | null> })
    .filter((e) => e.type === 'eval');
  assert.ok(evals.length > 0, 'the run evaluated');
  return evals.at(-1)?.iou?.[1] ?? 0;
}

describe('training learns the shapes task (seg train, wasm)', () => {
  const tmp = tmpDir('seg-learning-');
  /** The same images (same seed) with binary labels and with 3-class labels. */
  const data = { 2: path.join(tmp.dir, 'shapes2'), 3: path.join(tmp.dir, 'shapes3') } as const;
  let byColour = 1;
  before(async () => {
    for (const classes of [2, 3] as const) await makeShapesDataset(data[classes], { classes, train: 96, val: 32 });
    byColour = await colourOnlyIoU(data[2]);
    assert.ok(byColour < THRESHOLD - 0.1, `the threshold ${THRESHOLD} must lie well above what colour alone gives (${byColour.toFixed(3)})`);
  });
  after(() => tmp.cleanup());

  const run = async (h: Head, epochs: number, lr?: number): Promise<number> => {
    const dir = path.join(tmp.dir, h.name.replace(/[^a-z0-9]+/gi, '_'));
    const cfg = `${dir}.yaml`;
    fs.writeFileSync(cfg, shapesConfig(data[h.classes], dir, { ...h, epochs, ...(lr === undefined ? {} : { lr }) }));
    return trainedIoU(cfg, dir);
  };

  test('at learning rate 0 the network stays below the threshold', async (t) => {
    const iou = await run({ name: 'frozen', classes: 2, loss: ['bce_loss'] }, 1, 0);
    t.diagnostic(`bar IoU ${iou.toFixed(3)}`);
    assert.ok(iou < THRESHOLD, `untrained bar IoU ${iou.toFixed(3)}`);
  });

  for (const h of HEADS) {
    test(h.name, async (t) => {
      const iou = await run(h, EPOCHS);
      t.diagnostic(`bar IoU ${iou.toFixed(3)} (colour alone ${byColour.toFixed(3)})`);
      assert.ok(iou > THRESHOLD, `bar IoU ${iou.toFixed(3)} after ${EPOCHS} epochs, needs > ${THRESHOLD} (colour alone: ${byColour.toFixed(3)})`);
    });
  }
});
