import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { decode as decodePng } from 'fast-png';
import { applyOrientation, encodeLabelPng, readImage, readLabel, writeImage, writeLabelPng, writeSvgAsPng } from '../../src/data/image_io.js';
import { overlay, vocPalette } from '../../src/data/palette.js';
import { SegError } from '../../src/util/errors.js';
import { REPO_ROOT, tmpDir } from '../helpers/cli.js';
import { writePalettePng, writeRaw } from './fixtures.js';

const W = 37;
const H = 23;
function rgbPattern(): Uint8Array {
  const d = new Uint8Array(W * H * 3);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
    const i = (y * W + x) * 3;
    d[i] = x * 6;
    d[i + 1] = y * 10;
    d[i + 2] = x * 3 + y * 5;
  }
  return d;
}

async function expectDataError(p: Promise<unknown>, pattern: RegExp): Promise<SegError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof SegError, `expected a SegError, got ${String(e)}`);
    assert.equal(e.kind, 'data');
    assert.equal(e.exitCode, 3);
    assert.match(e.message, pattern);
    return e;
  }
  assert.fail('expected a data error');
}

test('readImage decodes PNG exactly and JPEG/WebP/TIFF closely, always 3 RGB channels for rgb', async () => {
  const { dir, cleanup } = tmpDir();
  try {
    const rgb = rgbPattern();
    for (const [ext, tol] of [['png', 0], ['tif', 0], ['webp', 0], ['jpg', 24]] as const) {
      const f = path.join(dir, `a.${ext}`);
      await writeRaw(f, rgb, W, H, 3, { lossless: true });
      const img = await readImage(f, 'rgb');
      assert.equal(img.width, W);
      assert.equal(img.height, H);
      assert.equal(img.channels, 3);
      assert.equal(img.storedChannels, 3);
      let maxErr = 0;
      let sumErr = 0;
      for (let i = 0; i < rgb.length; i++) {
        const e = Math.abs((img.data[i] as number) - (rgb[i] as number));
        maxErr = Math.max(maxErr, e);
        sumErr += e;
      }
      if (tol === 0) assert.equal(maxErr, 0, `${ext} must be lossless`);
      else assert.ok(sumErr / rgb.length < 8 && maxErr <= 96, `${ext}: mean error ${sumErr / rgb.length}`);
    }
  } finally {
    cleanup();
  }
});

test('gray images become 3 equal channels; RGBA keeps alpha for rgba and drops it for rgb; rgba needs alpha', async () => {
  const { dir, cleanup } = tmpDir();
  try {
    const g = new Uint8Array(W * H).map((_, i) => (i * 7) % 256);
    await writeRaw(path.join(dir, 'g.png'), g, W, H, 1);
    const img = await readImage(path.join(dir, 'g.png'), 'gray');
    assert.equal(img.channels, 3);
    assert.equal(img.storedChannels, 1);
    for (let i = 0; i < W * H; i++) for (let c = 0; c < 3; c++) assert.equal(img.data[i * 3 + c], g[i]);

    const rgba = new Uint8Array(W * H * 4).map((_, i) => (i % 4 === 3 ? 100 + (i % 50) : (i * 3) % 256));
    await writeRaw(path.join(dir, 'a.png'), rgba, W, H, 4);
    const four = await readImage(path.join(dir, 'a.png'), 'rgba');
    assert.equal(four.channels, 4);
    assert.deepEqual([...four.data.slice(0, 8)], [...rgba.slice(0, 8)]);
    const three = await readImage(path.join(dir, 'a.png'), 'rgb');
    assert.equal(three.channels, 3);
    assert.deepEqual([...three.data.slice(0, 6)], [rgba[0], rgba[1], rgba[2], rgba[4], rgba[5], rgba[6]]);

    await writeRaw(path.join(dir, 'c.png'), rgbPattern(), W, H, 3);
    const e = await expectDataError(readImage(path.join(dir, 'c.png'), 'rgba', { listFile: 'list.txt', line: 7 }), /c\.png \(list\.txt:7\) has 3 channel\(s\) and no alpha, but DATASET\.IMAGE_TYPE is rgba/);
    assert.equal(e.file, 'list.txt');
    assert.equal(e.line, 7);
  } finally {
    cleanup();
  }
});

test('labels: gray PNG values, palette PNG indices (8- and 4-bit, checked against sharp\'s colour expansion), 16-bit values, JPEG gray', async () => {
  const { dir, cleanup } = tmpDir();
  try {
    const idx = new Uint8Array(W * H).map((_, i) => [0, 1, 2, 255, 7][i % 5] as number);
    await writeRaw(path.join(dir, 'gray.png'), idx, W, H, 1);
    const gray = await readLabel(path.join(dir, 'gray.png'));
    assert.equal(gray.kind, 'gray');
    assert.equal(gray.format, 'png');
    assert.deepEqual([...gray.data], [...idx]);

    // A VOC-style palette PNG: indices 0, 1, 15, 255 with VOC colours.
    const pal = vocPalette();
    const pidx = new Uint8Array(W * H).map((_, i) => [0, 1, 15, 255][(i * 13) % 4] as number);
    writePalettePng(path.join(dir, 'pal.png'), pidx, W, H, pal.map((c) => [...c]));
    const p = await readLabel(path.join(dir, 'pal.png'));
    assert.equal(p.kind, 'palette');
    assert.deepEqual([...p.data], [...pidx]);
    // Independent check: sharp expands the same file to the palette colours of those indices.
    const { data: rgb } = await sharp(path.join(dir, 'pal.png')).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    for (let i = 0; i < W * H; i++) assert.deepEqual([rgb[i * 3], rgb[i * 3 + 1], rgb[i * 3 + 2]], [...(pal[pidx[i] as number] as readonly number[])]);

    // 4-bit palette (indices packed two per byte).
    const p4 = new Uint8Array(W * H).map((_, i) => i % 11);
    const pal16 = Array.from({ length: 16 }, (_, k) => [k * 16, 255 - k * 16, (k * 40) % 256]);
    writePalettePng(path.join(dir, 'pal4.png'), p4, W, H, pal16, 4);
    assert.deepEqual([...(await readLabel(path.join(dir, 'pal4.png'))).data], [...p4]);
    const { data: rgb4 } = await sharp(path.join(dir, 'pal4.png')).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    for (let i = 0; i < W * H; i++) assert.equal(rgb4[i * 3], (pal16[p4[i] as number] as number[])[0]);

    // A palette PNG written by sharp (libimagequant picks the palette): indices through the file's palette give sharp's colours.
    const few = new Uint8Array(W * H * 3).map((_, i) => [[0, 0, 0], [200, 30, 30], [30, 200, 30]][Math.floor(i / 3) % 3]![i % 3] as number);
    await sharp(Buffer.from(few), { raw: { width: W, height: H, channels: 3 } }).png({ palette: true, colours: 4, dither: 0 }).toFile(path.join(dir, 'sharp_pal.png'));
    const sp = await readLabel(path.join(dir, 'sharp_pal.png'));
    assert.equal(sp.kind, 'palette');
    const filePalette = decodePng(fs.readFileSync(path.join(dir, 'sharp_pal.png'))).palette as number[][];
    const { data: srgb } = await sharp(path.join(dir, 'sharp_pal.png')).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    for (let i = 0; i < W * H; i++) assert.deepEqual((filePalette[sp.data[i] as number] as number[]).slice(0, 3), [srgb[i * 3], srgb[i * 3 + 1], srgb[i * 3 + 2]]);

    // 16-bit gray keeps its values.
    const v16 = new Uint16Array(W * H).map((_, i) => (i * 997) % 65536);
    const { encode } = await import('fast-png');
    fs.writeFileSync(path.join(dir, 'g16.png'), encode({ width: W, height: H, data: v16, depth: 16, channels: 1 }));
    const l16 = await readLabel(path.join(dir, 'g16.png'));
    assert.ok(l16.data instanceof Uint16Array);
    assert.deepEqual([...l16.data], [...v16]);

    // A gray JPEG label is readable (seg check reports it as not PNG).
    const flat = new Uint8Array(W * H).fill(1);
    await writeRaw(path.join(dir, 'lab.jpg'), flat, W, H, 1);
    const j = await readLabel(path.join(dir, 'lab.jpg'));
    assert.equal(j.format, 'jpeg');
    assert.equal(j.kind, 'gray');
    assert.ok(j.data.every((v) => v === 1));

    // RGB labels: equal channels read as gray, real colours flagged.
    const eq = new Uint8Array(W * H * 3).map((_, i) => idx[Math.floor(i / 3)] as number);
    await writeRaw(path.join(dir, 'eq.png'), eq, W, H, 3);
    const le = await readLabel(path.join(dir, 'eq.png'));
    assert.equal(le.kind, 'gray-colour');
    assert.deepEqual([...le.data], [...idx]);
    await writeRaw(path.join(dir, 'col.png'), rgbPattern(), W, H, 3);
    assert.equal((await readLabel(path.join(dir, 'col.png'))).kind, 'colour');
  } finally {
    cleanup();
  }
});

test('EXIF orientation 1-8 is applied to labels exactly as sharp applies it to images', async () => {
  const { dir, cleanup } = tmpDir();
  try {
    const lab = new Uint8Array(W * H).map((_, i) => i % 251);
    for (let o = 1; o <= 8; o++) {
      const f = path.join(dir, `o${o}.png`);
      await writeRaw(f, lab, W, H, 1, { orientation: o });
      const mine = await readLabel(f);
      assert.equal(mine.orientation, o);
      const { data, info } = await sharp(f).autoOrient().extractChannel(0).raw().toBuffer({ resolveWithObject: true });
      assert.equal(mine.width, info.width, `orientation ${o}`);
      assert.equal(mine.height, info.height, `orientation ${o}`);
      assert.deepEqual([...mine.data], [...data], `orientation ${o}`);
      // The image reader applies it too (dimensions swap for 5-8).
      const jf = path.join(dir, `o${o}.jpg`);
      await writeRaw(jf, rgbPattern(), W, H, 3, { orientation: o });
      const img = await readImage(jf, 'rgb');
      assert.deepEqual([img.width, img.height], o >= 5 ? [H, W] : [W, H]);
    }
    // applyOrientation 6 on a 3x2 plane by hand: rotate 90° clockwise.
    const r = applyOrientation(new Uint8Array([1, 2, 3, 4, 5, 6]), 3, 2, 6);
    assert.deepEqual([r.width, r.height], [2, 3]);
    assert.deepEqual([...r.data], [4, 1, 5, 2, 6, 3]);
  } finally {
    cleanup();
  }
});

test('missing, truncated and undecodable files are data errors naming the file and the list line', async () => {
  const { dir, cleanup } = tmpDir();
  try {
    const ref = { listFile: 'train.txt', line: 3 };
    await expectDataError(readImage(path.join(dir, 'nope.jpg'), 'rgb', ref), /cannot read image .*nope\.jpg \(train\.txt:3\): no such file/);
    await expectDataError(readLabel(path.join(dir, 'nope.png'), ref), /cannot read label .*nope\.png \(train\.txt:3\): no such file/);

    const big = new Uint8Array(200 * 150 * 3).map((_, i) => (i * 31) % 251);
    await writeRaw(path.join(dir, 'full.jpg'), big, 200, 150, 3);
    const bytes = fs.readFileSync(path.join(dir, 'full.jpg'));
    fs.writeFileSync(path.join(dir, 'trunc.jpg'), bytes.subarray(0, Math.floor(bytes.length / 2)));
    await expectDataError(readImage(path.join(dir, 'trunc.jpg'), 'rgb', ref), /trunc\.jpg \(train\.txt:3\): truncated or corrupt file/);

    const lab = new Uint8Array(200 * 150).map((_, i) => i % 2);
    await writeRaw(path.join(dir, 'lab.png'), lab, 200, 150, 1);
    const lb = fs.readFileSync(path.join(dir, 'lab.png'));
    fs.writeFileSync(path.join(dir, 'trunc.png'), lb.subarray(0, Math.floor(lb.length * 0.7)));
    await expectDataError(readLabel(path.join(dir, 'trunc.png'), ref), /trunc\.png \(train\.txt:3\): truncated or corrupt file/);

    fs.writeFileSync(path.join(dir, 'junk.jpg'), 'not an image at all');
    await expectDataError(readImage(path.join(dir, 'junk.jpg'), 'rgb', ref), /cannot decode image .*junk\.jpg \(train\.txt:3\)/);
  } finally {
    cleanup();
  }
});

test('writers: label PNGs (gray and VOC palette), images, SVG to PNG, overlay', async () => {
  const { dir, cleanup } = tmpDir();
  try {
    const idx = new Uint8Array(W * H).map((_, i) => [0, 1, 2, 255][i % 4] as number);
    await writeLabelPng(path.join(dir, 'out', 'gray.png'), idx, W, H);
    assert.deepEqual([...(await readLabel(path.join(dir, 'out', 'gray.png'))).data], [...idx]);
    const pal = vocPalette();
    await writeLabelPng(path.join(dir, 'pal.png'), idx, W, H, pal);
    const back = await readLabel(path.join(dir, 'pal.png'));
    assert.equal(back.kind, 'palette');
    assert.deepEqual([...back.data], [...idx]);
    const { data } = await sharp(path.join(dir, 'pal.png')).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([data[3], data[4], data[5]], [128, 0, 0]); // VOC class 1
    assert.deepEqual([data[9], data[10], data[11]], [224, 224, 192]); // VOC 255
    assert.deepEqual(pal[2], [0, 128, 0]);
    assert.equal(encodeLabelPng(idx, W, H).length > 0, true);

    await writeImage(path.join(dir, 'img.png'), { data: rgbPattern(), width: W, height: H, channels: 3 });
    assert.deepEqual([...(await readImage(path.join(dir, 'img.png'), 'rgb')).data], [...rgbPattern()]);
    await writeImage(path.join(dir, 'img.jpg'), { data: rgbPattern(), width: W, height: H, channels: 3 });
    assert.equal((await sharp(path.join(dir, 'img.jpg')).metadata()).format, 'jpeg');
    assert.deepEqual(fs.readdirSync(dir).filter((f) => f.includes('.tmp-')), [], 'no temporary files left');

    await writeSvgAsPng(path.join(dir, 'plot.png'), '<svg xmlns="http://www.w3.org/2000/svg" width="60" height="40"><rect x="0" y="0" width="30" height="40" fill="#ff0000"/><rect x="30" y="0" width="30" height="40" fill="#0000ff"/></svg>');
    const plot = await readImage(path.join(dir, 'plot.png'), 'rgb');
    assert.deepEqual([plot.width, plot.height], [60, 40]);
    assert.deepEqual([...plot.data.slice(0, 3)], [255, 0, 0]);
    assert.deepEqual([...plot.data.slice((20 * 60 + 50) * 3, (20 * 60 + 50) * 3 + 3)], [0, 0, 255]);

    const base = { data: new Uint8Array(4 * 3).fill(100), width: 2, height: 2, channels: 3 };
    const o = overlay(base, [0, 1, 2, 255], pal, { alpha: 0.5 });
    assert.deepEqual([...o.data], [100, 100, 100, 114, 50, 50, 50, 114, 50, 162, 162, 146]);
  } finally {
    cleanup();
  }
});

test('BMP (read by pdseg through OpenCV): 1-, 8-bit gray and palette, 24- and 32-bit files as Pillow decodes them', async () => {
  const dir = path.join(REPO_ROOT, 'test', 'data', 'bmp');
  const expected = JSON.parse(fs.readFileSync(path.join(dir, 'expected.json'), 'utf8')) as { files: Record<string, { width: number; height: number; rgb: number[] }> };
  assert.equal(Object.keys(expected.files).length, 5);
  for (const [name, e] of Object.entries(expected.files)) {
    const img = await readImage(path.join(dir, name), 'rgb');
    assert.deepEqual([img.width, img.height, img.channels, img.format], [e.width, e.height, 3, 'bmp'], name);
    assert.deepEqual([...img.data], e.rgb, `${name}: pixels as Pillow reads them`);
  }
  const gray = await readLabel(path.join(dir, 'gray8.bmp'));
  assert.equal(gray.format, 'bmp');
  assert.deepEqual([...gray.data], (expected.files['gray8.bmp']?.rgb ?? []).filter((_, i) => i % 3 === 0), 'a gray BMP label gives its gray values');
});

test('a run-length-encoded or truncated BMP is a data error naming the file', async () => {
  const { dir, cleanup } = tmpDir();
  try {
    const bmp = fs.readFileSync(path.join(REPO_ROOT, 'test', 'data', 'bmp', 'gray8.bmp'));
    const rle = Buffer.from(bmp);
    rle.writeUInt32LE(1, 30); // BI_RLE8
    fs.writeFileSync(path.join(dir, 'rle.bmp'), rle);
    await expectDataError(readImage(path.join(dir, 'rle.bmp'), 'rgb'), /rle\.bmp: run-length-encoded BMP is not supported/);
    fs.writeFileSync(path.join(dir, 'cut.bmp'), bmp.subarray(0, bmp.length - 20));
    await expectDataError(readImage(path.join(dir, 'cut.bmp'), 'rgb'), /cannot decode image .*cut\.bmp/);
  } finally {
    cleanup();
  }
});
