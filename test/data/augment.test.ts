import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { brightnessJitter, contrastJitter, gaussianBlur, gaussianSigma, saturationJitter } from '../../src/data/photometric.js';
import { View } from '../../src/data/view.js';
import {
  augmentTrain,
  EvalCropError,
  normalizationTables,
  normalizeInto,
  pipelineOptions,
  predictionToOriginal,
  prepareEval,
  randomScale,
  type PipelineOptions,
} from '../../src/data/augment.js';
import { readImage, readLabel } from '../../src/data/image_io.js';
import { Rng } from '../../src/util/rng.js';
import { tmpDir } from '../helpers/cli.js';
import { blockPattern, makeConfig, writeRaw } from './fixtures.js';

const IGN = 255;

/** Options for a plain pipeline (no rich crop), overridden per test. */
function opts(over: Partial<PipelineOptions> & { rich?: Partial<PipelineOptions['richCrop']> } = {}): PipelineOptions {
  const base = pipelineOptions(makeConfig({ DATASET: { NUM_CLASSES: 3 } }));
  const { rich, ...rest } = over;
  return { ...base, mirror: false, flip: false, ...rest, richCrop: { ...base.richCrop, ...rich } };
}

/** A real PNG pair (image + label) written with sharp and read back with the data module. */
async function realPair(w: number, h: number, classes = 3) {
  const { dir, cleanup } = tmpDir();
  const { rgb, label } = blockPattern(w, h, 10, classes);
  await writeRaw(path.join(dir, 'img.png'), rgb, w, h, 3);
  await writeRaw(path.join(dir, 'lab.png'), label, w, h, 1);
  const img = await readImage(path.join(dir, 'img.png'), 'rgb');
  const lab = await readLabel(path.join(dir, 'lab.png'));
  cleanup();
  return { image: { data: img.data, width: img.width, height: img.height, channels: 3 }, label: { data: lab.data, width: lab.width, height: lab.height }, rgb, labelValues: label };
}

/**
 * Independent sequential reference for the LABEL path of the plain pipeline (stepscaling, flip,
 * mirror, pad + crop), written step by step as pdseg does it, drawing the Rng in pdseg's order.
 * Nearest-neighbour with pixel centres: src = floor((i + 0.5) · old / new).
 */
function referenceLabel(src: Uint8Array, w: number, h: number, o: PipelineOptions, rng: Rng): { data: number[]; w: number; h: number } {
  let cur = Array.from(src);
  let cw = w;
  let ch = h;
  // 1. stepscaling
  const steps = Math.trunc((o.maxScale - o.minScale) / o.scaleStep + 1);
  const s = o.minScale === o.maxScale ? o.minScale : o.minScale + ((o.maxScale - o.minScale) * rng.int(0, steps - 1)) / (steps - 1);
  if (s !== 1) {
    const nw = Math.trunc(cw * s + 0.5);
    const nh = Math.trunc(ch * s + 0.5);
    const next: number[] = [];
    for (let y = 0; y < nh; y++) for (let x = 0; x < nw; x++) next.push(cur[Math.floor(((y + 0.5) * ch) / nh) * cw + Math.floor(((x + 0.5) * cw) / nw)] as number);
    cur = next;
    cw = nw;
    ch = nh;
  }
  // 3. flip (vertical), 4. mirror
  if (o.flip) {
    const n = o.flipRatio >= 1 ? 1 : Math.trunc(1 / o.flipRatio);
    if (rng.int(0, n - 1) === 0) {
      const next: number[] = [];
      for (let y = ch - 1; y >= 0; y--) next.push(...cur.slice(y * cw, (y + 1) * cw));
      cur = next;
    }
  }
  if (o.mirror && rng.int(0, 1) === 1) {
    const next: number[] = [];
    for (let y = 0; y < ch; y++) next.push(...cur.slice(y * cw, (y + 1) * cw).reverse());
    cur = next;
  }
  // 5. pad bottom/right with IGNORE, then crop
  const [tw, th] = o.trainCrop;
  if (cw === tw && ch === th) return { data: cur, w: cw, h: ch };
  const pw = Math.max(cw, tw);
  const ph = Math.max(ch, th);
  const padded: number[] = [];
  for (let y = 0; y < ph; y++) for (let x = 0; x < pw; x++) padded.push(y < ch && x < cw ? (cur[y * cw + x] as number) : IGN);
  const yOff = rng.int(0, ph - th);
  const xOff = rng.int(0, pw - tw);
  const out: number[] = [];
  for (let y = 0; y < th; y++) for (let x = 0; x < tw; x++) out.push(padded[(y + yOff) * pw + x + xOff] as number);
  return { data: out, w: tw, h: th };
}

test('train pipeline labels equal a step-by-step reference (stepscaling, flip, mirror, pad, crop; pdseg draw order)', async () => {
  const pair = await realPair(53, 41);
  const o = opts({ augMethod: 'stepscaling', minScale: 0.5, maxScale: 2.0, scaleStep: 0.25, flip: true, flipRatio: 0.5, mirror: true, trainCrop: [48, 40] });
  const seen = new Set<string>();
  for (let seed = 0; seed < 40; seed++) {
    const got = augmentTrain(pair.image, pair.label, o, new Rng(seed));
    const ref = referenceLabel(pair.labelValues, 53, 41, o, new Rng(seed));
    assert.equal(got.width, 48);
    assert.equal(got.height, 40);
    assert.deepEqual(Array.from(got.label), ref.data, `seed ${seed}`);
    seen.add(`${got.label.includes(IGN)}`);
  }
  assert.deepEqual([...seen].sort(), ['false', 'true'], 'both padded (scale < 1) and cropped samples occur');
});

test('image and label move together: pure crop, pad, flip and mirror reproduce the source pixels exactly', async () => {
  const pair = await realPair(30, 20);
  const px = (x: number, y: number): number[] => Array.from(pair.image.data.slice((y * 30 + x) * 3, (y * 30 + x) * 3 + 3));
  // Pad only (crop bigger than the image, no resize): top-left is the image, the rest padding/ignore.
  const pad = augmentTrain(pair.image, pair.label, opts({ augMethod: 'stepscaling', minScale: 1, maxScale: 1, trainCrop: [40, 24] }), new Rng(1));
  for (let y = 0; y < 24; y++) {
    for (let x = 0; x < 40; x++) {
      const got = Array.from(pad.image.slice((y * 40 + x) * 3, (y * 40 + x) * 3 + 3));
      if (x < 30 && y < 20) {
        assert.deepEqual(got, px(x, y));
        assert.equal(pad.label[y * 40 + x], pair.labelValues[y * 30 + x]);
      } else {
        assert.deepEqual(got, [128, 128, 128]); // PADDING_VALUE 127.5, rounded
        assert.equal(pad.label[y * 40 + x], IGN);
      }
    }
  }
  // FLIP_RATIO 1 always flips; with mirror: out(x, y) = in(W-1-x, H-1-y) or in(x, H-1-y).
  const kinds = new Set<string>();
  for (let seed = 0; seed < 12; seed++) {
    const f = augmentTrain(pair.image, pair.label, opts({ augMethod: 'stepscaling', minScale: 1, maxScale: 1, flip: true, flipRatio: 1, mirror: true, trainCrop: [30, 20] }), new Rng(seed));
    const mirrored = f.label[0] === pair.labelValues[19 * 30 + 29] && Array.from(f.image.slice(0, 3)).join() === px(29, 19).join();
    kinds.add(mirrored ? 'flip+mirror' : 'flip');
    for (let y = 0; y < 20; y++) {
      for (let x = 0; x < 30; x++) {
        const sx = mirrored ? 29 - x : x;
        assert.deepEqual(Array.from(f.image.slice((y * 30 + x) * 3, (y * 30 + x) * 3 + 3)), px(sx, 19 - y));
        assert.equal(f.label[y * 30 + x], pair.labelValues[(19 - y) * 30 + sx]);
      }
    }
  }
  assert.equal(kinds.size, 2, 'mirror happens about half of the time');
  // Crop only: the output is a window of the source at some offset.
  const c = augmentTrain(pair.image, pair.label, opts({ augMethod: 'stepscaling', minScale: 1, maxScale: 1, trainCrop: [16, 12] }), new Rng(5));
  let found = false;
  for (let oy = 0; oy <= 8 && !found; oy++) {
    for (let ox = 0; ox <= 14 && !found; ox++) {
      let ok = true;
      for (let y = 0; y < 12 && ok; y++) for (let x = 0; x < 16 && ok; x++) ok = px(x + ox, y + oy).join() === Array.from(c.image.slice((y * 16 + x) * 3, (y * 16 + x) * 3 + 3)).join() && c.label[y * 16 + x] === pair.labelValues[(y + oy) * 30 + x + ox];
      found = ok;
    }
  }
  assert.ok(found, 'the crop is a window of the source');
});

test('resize x2: labels become 2x2 blocks, image is bilinear with half-pixel centres (hand-derived)', () => {
  const src = new Uint8Array([0, 100, 200, 50]); // 4x1 gray as 1 channel
  const v = new View({ data: src, width: 4, height: 1, channels: 1 }, { data: new Uint8Array([0, 1, 2, 1]), width: 4, height: 1 });
  v.resize(8, 2);
  const r = v.render((n) => new Float32Array(n), [0], IGN);
  // out[x] samples u = (x + 0.5)/2 - 0.5: x=0 → -0.25 (edge: 0), x=1 → 0.25 → 0.75·0 + 0.25·100, x=2 → 0.75 → 75, ...
  assert.deepEqual(Array.from(r.image.slice(0, 8)), [0, 25, 75, 125, 175, 162.5, 87.5, 50]);
  assert.deepEqual(Array.from(r.image.slice(8, 16)), [0, 25, 75, 125, 175, 162.5, 87.5, 50]);
  assert.deepEqual(Array.from(r.label ?? []), [0, 0, 1, 1, 2, 2, 1, 1, 0, 0, 1, 1, 2, 2, 1, 1]);
});

test('rotation by 90° follows OpenCV\'s getRotationMatrix2D about (w//2, h//2) on pdseg\'s canvas (hand-derived)', () => {
  const v = new View({ data: new Float32Array([0, 1, 2, 3, 10, 11, 12, 13]), width: 4, height: 2, channels: 1 }, { data: new Int32Array([0, 1, 2, 3, 10, 11, 12, 13]), width: 4, height: 2 });
  v.rotate(90);
  assert.deepEqual([v.width, v.height], [2, 4]); // int(h·sin + w·cos), int(h·cos + w·sin)
  const r = v.render((n) => new Float32Array(n), [99], IGN);
  // dst = (y, 4 - x) for src (x, y): column x = 0 falls off the canvas, row 0 is corner fill.
  assert.deepEqual(Array.from(r.image), [99, 99, 3, 13, 2, 12, 1, 11]);
  assert.deepEqual(Array.from(r.label ?? []), [IGN, IGN, 3, 13, 2, 12, 1, 11]);
});

test('rotation corners are IGNORE_INDEX in the label and PADDING_VALUE in the image; geometry agrees under rich crop', async () => {
  const pair = await realPair(80, 60);
  const o = opts({
    augMethod: 'stepscaling',
    minScale: 0.75,
    maxScale: 1.25,
    scaleStep: 0.25,
    mirror: true,
    flip: true,
    trainCrop: [72, 72],
    rich: { enable: true, maxRotation: 40, minAreaRatio: 0.5, aspectRatio: 0.5, brightness: 0, saturation: 0, contrast: 0, blur: false },
  });
  let withCorners = 0;
  let agree = 0;
  let labelled = 0;
  for (let seed = 0; seed < 25; seed++) {
    const s = augmentTrain(pair.image, pair.label, o, new Rng(seed));
    assert.deepEqual([s.width, s.height], [72, 72]);
    let ign = 0;
    for (let i = 0; i < 72 * 72; i++) {
      const k = s.label[i] as number;
      const rgb = [s.image[i * 3], s.image[i * 3 + 1], s.image[i * 3 + 2]];
      if (k === IGN) {
        ign++;
        assert.deepEqual(rgb, [128, 128, 128], `seed ${seed}: an ignored pixel must be padding`);
      } else {
        labelled++;
        // The class is encoded in red (40 + 60·class); bilinear blending only blurs block borders.
        if (Math.abs((rgb[0] as number) - (40 + 60 * k)) <= 4) agree++;
      }
    }
    if (ign > 0) withCorners++;
  }
  assert.ok(withCorners >= 20, `rotations leave ignored corners (${withCorners}/25)`);
  assert.ok(agree / labelled > 0.9, `image colour matches the label on ${((100 * agree) / labelled).toFixed(1)}% of labelled pixels`);
});

test('stepscaling picks among int((max-min)/step+1) evenly spaced factors; rangescaling and unpadding sizes', () => {
  const o = opts({ minScale: 0.75, maxScale: 1.25, scaleStep: 0.05 });
  const seen = new Set<string>();
  for (let s = 0; s < 400; s++) seen.add(randomScale(o, new Rng(s)).toFixed(4));
  assert.deepEqual([...seen].sort(), ['0.7500', '0.8000', '0.8500', '0.9000', '0.9500', '1.0000', '1.0500', '1.1000', '1.1500', '1.2000', '1.2500']);
  const pair = { data: new Uint8Array(200 * 100 * 3), width: 200, height: 100, channels: 3 };
  const lab = { data: new Uint8Array(200 * 100), width: 200, height: 100 };
  const ev = prepareEval(pair, lab, opts({ augMethod: 'rangescaling', infResize: 150, evalCrop: [160, 90] }));
  assert.deepEqual([ev.validWidth, ev.validHeight, ev.width, ev.height], [150, 75, 160, 90]);
  assert.equal(ev.label[0], 0);
  assert.equal(ev.label[159], IGN); // right of the valid region
  assert.equal(ev.label[89 * 160], IGN); // below it
  const un = prepareEval(pair, lab, opts({ augMethod: 'unpadding', fixResize: [64, 32], evalCrop: [64, 64] }));
  assert.deepEqual([un.validWidth, un.validHeight], [64, 32]);
  assert.throws(() => prepareEval(pair, lab, opts({ augMethod: 'stepscaling', evalCrop: [128, 128] })), EvalCropError);
  // rangescaling at train time: long side int(U(MIN, MAX) + 0.5).
  for (let s = 0; s < 30; s++) {
    const t = augmentTrain(pair, lab, opts({ augMethod: 'rangescaling', minResize: 100, maxResize: 120, trainCrop: [130, 130] }), new Rng(s));
    let w = 0;
    for (let x = 0; x < 130; x++) if (t.label[x] !== IGN) w = x + 1;
    assert.ok(w >= 100 && w <= 120, `long side ${w}`);
  }
});

test('eval labels map back to the original image exactly (predictionToOriginal)', async () => {
  const pair = await realPair(50, 30);
  const ev = prepareEval(pair.image, pair.label, opts({ augMethod: 'unpadding', fixResize: [100, 60], evalCrop: [112, 64] }));
  const back = predictionToOriginal(ev.label, ev.width, ev);
  assert.deepEqual(Array.from(back), Array.from(pair.labelValues));
});

test('Gaussian blur uses OpenCV\'s kernel for sigma 0 (impulse response, hand-derived)', () => {
  assert.equal(gaussianSigma(3), 0.8);
  assert.ok(Math.abs(gaussianSigma(9) - 1.7) < 1e-12);
  const img = { data: new Float32Array(25), width: 5, height: 5, channels: 1 };
  img.data[12] = 1000;
  gaussianBlur(img, 3);
  const e = Math.exp(-1 / (2 * 0.64));
  const k = [e / (1 + 2 * e), 1 / (1 + 2 * e), e / (1 + 2 * e)]; // [0.23899, 0.52201, 0.23899]
  for (let y = 0; y < 5; y++) {
    for (let x = 0; x < 5; x++) {
      const want = Math.abs(x - 2) <= 1 && Math.abs(y - 2) <= 1 ? 1000 * (k[x - 1] as number) * (k[y - 1] as number) : 0;
      assert.ok(Math.abs((img.data[y * 5 + x] as number) - want) < 1e-3, `(${x},${y}) ${img.data[y * 5 + x]} vs ${want}`);
    }
  }
});

test('colour jitter formulas (hand-derived), clamped to [0, 255]', () => {
  const mk = () => ({ data: new Float32Array([200, 100, 50, 10, 20, 30]), width: 2, height: 1, channels: 3 });
  const b = mk();
  brightnessJitter(b, 0.25);
  assert.deepEqual(Array.from(b.data), [150, 75, 37.5, 7.5, 15, 22.5]);
  const b2 = mk();
  brightnessJitter(b2, -0.5);
  assert.deepEqual(Array.from(b2.data), [255, 150, 75, 15, 30, 45]);
  const s = mk();
  saturationJitter(s, 0.5);
  const g0 = 0.299 * 200 + 0.587 * 100 + 0.114 * 50; // 124.2
  const want = [200, 100, 50].map((v) => 0.5 * v + 0.5 * g0);
  want.forEach((w, i) => assert.ok(Math.abs((s.data[i] as number) - w) < 1e-3));
  const c = mk();
  contrastJitter(c, 0.5);
  const g1 = 0.299 * 10 + 0.587 * 20 + 0.114 * 30;
  const mean = (g0 + g1) / 2;
  [200, 100, 50, 10, 20, 30].forEach((v, i) => assert.ok(Math.abs((c.data[i] as number) - (0.5 * v + 0.5 * mean)) < 1e-3));
});

test('rich crop with blur and jitter is deterministic per seed and keeps the crop size', async () => {
  const pair = await realPair(64, 48);
  const o = opts({ augMethod: 'unpadding', fixResize: [70, 50], trainCrop: [56, 56], rich: { enable: true, blur: true, blurRatio: 1, maxRotation: 15 } });
  const a = augmentTrain(pair.image, pair.label, o, new Rng(9));
  const b = augmentTrain(pair.image, pair.label, o, new Rng(9));
  const c = augmentTrain(pair.image, pair.label, o, new Rng(10));
  assert.deepEqual([a.width, a.height, a.channels], [56, 56, 3]);
  assert.deepEqual(Array.from(a.image), Array.from(b.image));
  assert.deepEqual(Array.from(a.label), Array.from(b.label));
  assert.notDeepEqual(Array.from(a.image), Array.from(c.image));
});

test('normalisation: (x/255 - MEAN)/STD per channel', () => {
  const t = normalizationTables([0.5, 0.4, 0.3], [0.5, 0.2, 0.1]);
  const out = new Float32Array(8);
  normalizeInto(out, 2, new Uint8Array([255, 0, 51]), 3, t);
  assert.deepEqual(Array.from(out.slice(0, 2)), [0, 0]);
  assert.ok(Math.abs((out[2] as number) - 1) < 1e-6);
  assert.ok(Math.abs((out[3] as number) - -2) < 1e-6);
  assert.ok(Math.abs((out[4] as number) - (0.2 - 0.3) / 0.1) < 1e-5);
});

test('a whole-pixel translation (crop and pad, flips) renders the source pixels shifted, padding elsewhere', () => {
  const rng = new Rng(27);
  for (let t = 0; t < 60; t++) {
    const [w, h, C] = [3 + rng.int(0, 20), 3 + rng.int(0, 20), [1, 3, 4][t % 3] as number];
    const float = t % 2 === 0;
    const data = float ? Float32Array.from({ length: w * h * C }, () => rng.uniform(0, 255)) : Uint8Array.from({ length: w * h * C }, () => rng.int(0, 255));
    const lab = Uint8Array.from({ length: w * h }, () => rng.int(0, 4));
    const v = new View({ data, width: w, height: h, channels: C }, { data: lab, width: w, height: h });
    const flipX = t % 5 === 0;
    const flipY = t % 7 === 0;
    if (flipX) v.flipHorizontal();
    if (flipY) v.flipVertical();
    const [x0, y0, cw, ch] = [rng.int(0, 4), rng.int(0, 4), 2 + rng.int(0, 30), 2 + rng.int(0, 30)];
    v.cropPad(x0, y0, cw, ch);
    const fill = t % 4 === 0 ? [127.5] : [1, 2, 3, 4];
    const out = v.render((n) => (float ? new Float32Array(n) : new Uint8ClampedArray(n)), fill, 255);
    for (let y = 0; y < ch; y++) {
      for (let x = 0; x < cw; x++) {
        const [sx, sy] = [x + x0, y + y0];
        const inside = sx < w && sy < h;
        const [ix, iy] = [flipX ? w - 1 - sx : sx, flipY ? h - 1 - sy : sy];
        for (let c = 0; c < C; c++) {
          const want = inside ? (data[(iy * w + ix) * C + c] as number) : (fill[c] ?? (fill[0] as number));
          const got = out.image[(y * cw + x) * C + c] as number;
          assert.equal(got, float ? Math.fround(want) : Math.min(255, Math.max(0, Math.round(want))), `case ${t} (${x}, ${y}, ${c})`);
        }
        assert.equal(out.label?.[y * cw + x], inside ? lab[iy * w + ix] : 255, `case ${t} label (${x}, ${y})`);
      }
    }
  }
});
