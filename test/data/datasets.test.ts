import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import * as tar from 'tar';
import { REPO_ROOT, runSeg, tmpDir } from '../helpers/cli.js';
import { labelFromIntensity, loadMnist, MNIST_SIZE, renderDigitsTile, renderRoadTile, stampDigit } from '../../src/data/datasets/mnist.js';
import { readLabel } from '../../src/data/image_io.js';
import { vocPalette } from '../../src/data/palette.js';
import { Rng } from '../../src/util/rng.js';
import { quietContext } from '../../src/util/context.js';
import { SegError } from '../../src/util/errors.js';
import { fetchDataset } from '../../src/data/datasets/fetch.js';
import { makeDataset } from '../../src/data/datasets/make.js';
import { blockPattern, writePalettePng, writeRaw, writeZip } from './fixtures.js';

function listFiles(dir: string, base = ''): string[] {
  return fs.readdirSync(path.join(dir, base), { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? listFiles(dir, path.join(base, e.name)) : [path.join(base, e.name)])).sort();
}

test('seg dataset make: same seed → byte-identical files; another seed → other data; manifest, licence, lists', async () => {
  const { dir, cleanup } = tmpDir();
  try {
    const run = (seed: number, out: string) => runSeg(['dataset', 'make', 'mnist_roads', '--seed', String(seed), '--count', '6', '--dir', out, '--json'], { cwd: dir });
    const [a, b, mc] = await Promise.all([run(11, 'A'), run(11, 'B'), makeDataset('mnist_roads', { outDir: path.join(dir, 'C', 'mnist_roads'), seed: 12, count: 6 }, quietContext())]);
    for (const r of [a, b]) assert.equal(r.code, 0, r.stderr);
    const fa = listFiles(path.join(dir, 'A', 'mnist_roads'));
    assert.deepEqual(fa, listFiles(path.join(dir, 'B', 'mnist_roads')));
    assert.equal(fa.filter((f) => f.endsWith('.jpg')).length, 8, '6 train + 2 val tiles');
    for (const f of fa) assert.ok(fs.readFileSync(path.join(dir, 'A', 'mnist_roads', f)).equals(fs.readFileSync(path.join(dir, 'B', 'mnist_roads', f))), `${f} differs between two runs with the same seed`);
    const ma = JSON.parse(a.stdout) as { content_sha256: string; seed: number; splits: { train: { count: number } }; source: { licence: string } };
    assert.equal(ma.seed, 11);
    assert.equal(ma.splits.train.count, 6);
    assert.equal(ma.source.licence, 'CC BY-SA 3.0');
    assert.notEqual(ma.content_sha256, mc.content_sha256);
    // The manifest's hash is over the files as written.
    const h = createHash('sha256');
    const root = path.join(dir, 'A', 'mnist_roads');
    for (const f of fa.filter((x) => x.startsWith('images') || x.startsWith('labels')).map((x) => x.split(path.sep).join('/')).sort()) {
      h.update(f);
      h.update('\0');
      h.update(fs.readFileSync(path.join(root, f)));
    }
    assert.equal(h.digest('hex'), ma.content_sha256);
    assert.match(fs.readFileSync(path.join(root, 'LICENSE.txt'), 'utf8'), /CC BY-SA 3\.0/);
    assert.equal(fs.readFileSync(path.join(root, 'train.txt'), 'utf8').split('\n')[0], 'images/train/00000.jpg|labels/train/00000.png');
    const again = await run(11, 'A');
    assert.equal(again.code, 2, 'an existing folder is not replaced without --force');
    assert.match(again.stderr, /already exists/);
  } finally {
    cleanup();
  }
});

test('MNIST masks: stroke ≥128 foreground, 1-127 IGNORE_INDEX; digits are stamped exactly at scale 1', () => {
  assert.deepEqual([0, 0.4, 0.6, 1, 127, 127.4, 127.6, 128, 255].map((v) => labelFromIntensity(v, 3, 255)), [0, 0, 255, 255, 255, 255, 3, 3, 3]);
  const m = loadMnist('test');
  assert.equal(m.count, 10000);
  const st = stampDigit(m, 17, { cx: 40, cy: 30, scale: 1, degrees: 0 }, 100, 80);
  // The digit's 28x28 grid lands on tile pixels [26, 54) x [16, 44), pixel centres aligned: exact copy.
  for (let j = 0; j < MNIST_SIZE; j++) {
    for (let i = 0; i < MNIST_SIZE; i++) {
      const tx = 26 + i - st.x0;
      const ty = 16 + j - st.y0;
      assert.equal(st.intensity[ty * st.bw + tx], m.images[17 * 784 + j * 28 + i]);
    }
  }
});

test('mnist_roads: ~4.5% foreground, some empty tiles, and no global colour threshold separates strokes from clutter', () => {
  const m = loadMnist('train');
  const tiles = Array.from({ length: 150 }, (_, i) => renderRoadTile(m, 128, new Rng(500 + i)));
  let fg = 0;
  let all = 0;
  let empty = 0;
  const hist = [new Float64Array(256), new Float64Array(256)];
  for (const t of tiles) {
    let f = 0;
    for (let i = 0; i < t.label.length; i++) {
      const k = t.label[i] as number;
      all++;
      if (k === 1) f++;
      if (k === 255) continue;
      const lum = Math.round(0.299 * (t.rgb[i * 3] as number) + 0.587 * (t.rgb[i * 3 + 1] as number) + 0.114 * (t.rgb[i * 3 + 2] as number));
      const h = hist[k] as Float64Array;
      h[lum] = (h[lum] ?? 0) + 1;
    }
    fg += f;
    if (f === 0) empty++;
    assert.equal(t.digits.length === 0, f === 0);
  }
  assert.ok(fg / all > 0.035 && fg / all < 0.055, `foreground ${((100 * fg) / all).toFixed(2)}%`);
  assert.ok(empty >= 8 && empty <= 45, `${empty} empty tiles of 150`);
  // The best global luminance threshold (either direction) reaches a low IoU on the road class.
  const totalFg = (hist[1] as Float64Array).reduce((a, b) => a + b, 0);
  let best = 0;
  for (let t = 0; t <= 256; t++) {
    for (const up of [true, false]) {
      let tp = 0;
      let fp = 0;
      for (let v = 0; v < 256; v++) {
        if (up ? v >= t : v < t) {
          tp += (hist[1] as Float64Array)[v] as number;
          fp += (hist[0] as Float64Array)[v] as number;
        }
      }
      best = Math.max(best, tp / (totalFg + fp));
    }
  }
  assert.ok(best < 0.35, `a plain luminance threshold reaches IoU ${best.toFixed(3)}`);
});

test('mnist_digits: 11 classes, several digits per tile, label classes are the digits drawn + 1', () => {
  const m = loadMnist('train');
  const classes = new Set<number>();
  for (let i = 0; i < 60; i++) {
    const t = renderDigitsTile(m, 128, new Rng(i));
    assert.ok(t.digits.length >= 2 && t.digits.length <= 6, `${t.digits.length} digits`);
    const inLabel = new Set([...t.label].filter((v) => v !== 0 && v !== 255));
    assert.deepEqual([...inLabel].sort((a, b) => a - b), [...new Set(t.digits.map((d) => d.digit + 1))].sort((a, b) => a - b));
    for (const d of t.digits) assert.equal(d.digit, m.labels[d.index]);
    for (const v of inLabel) classes.add(v);
  }
  assert.deepEqual([...classes].sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
});

/** A local HTTP server for fixture archives: Range support, optional cut-off of a file's first response. */
async function fixtureServer(files: Record<string, Buffer>, cutFirst: Set<string>): Promise<{ url: string; requests: Array<{ path: string; range: string | undefined }>; close: () => Promise<void> }> {
  const requests: Array<{ path: string; range: string | undefined }> = [];
  const server = http.createServer((req, res) => {
    const name = decodeURIComponent((req.url ?? '').replace(/^\/files\//, ''));
    requests.push({ path: name, range: req.headers.range });
    const body = files[name];
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = m ? Number(m[1]) : 0;
    if (start >= body.length) {
      res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
      return;
    }
    const chunk = body.subarray(start);
    res.writeHead(m ? 206 : 200, { 'content-length': chunk.length, ...(m ? { 'content-range': `bytes ${start}-${body.length - 1}/${body.length}` } : {}) });
    if (cutFirst.has(name)) {
      cutFirst.delete(name);
      // Close gracefully (FIN, not RST) after half the body, so the bytes sent do arrive before the cut.
      res.write(chunk.subarray(0, Math.floor(chunk.length / 2)), () => res.socket?.end());
      return;
    }
    res.end(chunk);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/files`, requests, close: () => new Promise((r) => server.close(() => r())) };
}

/** A MiniDeepGlobeRoadExtraction-shaped zip of 3 tiles (2 train, 1 val) at dir/mini.zip; its list lines. */
async function writeMiniZip(dir: string): Promise<{ zip: Buffer; lines: string[]; fx: string }> {
  const fx = path.join(dir, 'fx');
  const entries: Array<{ name: string; data?: Uint8Array }> = [{ name: 'MiniDeepGlobeRoadExtraction/' }];
  const lines: string[] = [];
  for (let k = 0; k < 3; k++) {
    const { rgb, label } = blockPattern(64, 64, 8, 2);
    await writeRaw(path.join(fx, `${k}_sat.jpg`), rgb, 64, 64, 3);
    await writeRaw(path.join(fx, `${k}_mask.png`), label, 64, 64, 1);
    entries.push({ name: `MiniDeepGlobeRoadExtraction/train/${k}_sat.jpg`, data: fs.readFileSync(path.join(fx, `${k}_sat.jpg`)) });
    entries.push({ name: `MiniDeepGlobeRoadExtraction/train/${k}_mask.png`, data: fs.readFileSync(path.join(fx, `${k}_mask.png`)) });
    lines.push(`train/${k}_sat.jpg|train/${k}_mask.png`);
  }
  entries.push({ name: 'MiniDeepGlobeRoadExtraction/train.txt', data: Buffer.from(`${lines.slice(0, 2).join('\n')}\n`) });
  entries.push({ name: 'MiniDeepGlobeRoadExtraction/val.txt', data: Buffer.from(`${lines[2]}\n`) });
  writeZip(path.join(dir, 'mini.zip'), entries);
  return { zip: fs.readFileSync(path.join(dir, 'mini.zip')), lines, fx };
}

const md5 = (b: Buffer): string => createHash('md5').update(b).digest('hex');

test('seg dataset download mini_deepglobe_road: zip over HTTP, cut mid-transfer and resumed with Range, verified, unpacked', async () => {
  const { dir, cleanup } = tmpDir();
  try {
    const { zip, lines, fx } = await writeMiniZip(dir);
    const bad = Buffer.from(zip);
    writeZip(path.join(dir, 'evil.zip'), [{ name: '../evil.txt', data: Buffer.from('x') }]);
    const srv = await fixtureServer({ 'MiniDeepGlobeRoadExtraction.zip': zip, 'evil.zip': fs.readFileSync(path.join(dir, 'evil.zip')), 'bad.zip': bad }, new Set(['MiniDeepGlobeRoadExtraction.zip']));
    try {
      const r = await runSeg(['dataset', 'download', 'mini_deepglobe_road', '--url', `${srv.url}/MiniDeepGlobeRoadExtraction.zip`, '--md5', md5(zip)], { cwd: dir });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /interrupted at .* resuming/);
      const gets = srv.requests.filter((q) => q.path === 'MiniDeepGlobeRoadExtraction.zip');
      assert.equal(gets.length, 2);
      assert.equal(gets[0]?.range, undefined);
      assert.match(gets[1]?.range ?? '', /^bytes=\d+-$/);
      assert.ok(Number(/\d+/.exec(gets[1]?.range ?? '')?.[0]) > 0, 'the second request resumes after the bytes received');
      const ds = path.join(dir, 'dataset', 'MiniDeepGlobeRoadExtraction');
      assert.equal(fs.readFileSync(path.join(ds, 'train.txt'), 'utf8'), `${lines.slice(0, 2).join('\n')}\n`);
      assert.ok(fs.readFileSync(path.join(ds, 'train', '1_sat.jpg')).equals(fs.readFileSync(path.join(fx, '1_sat.jpg'))));
      assert.match(r.stdout, /train\.txt: 2 lines/);
      assert.ok(!fs.existsSync(path.join(dir, 'dataset', '.downloads')), 'the archive is removed once unpacked');
      // The rest in-process (same code path, without a process start each).
      const ctx = quietContext();
      const root = path.join(dir, 'dataset');
      await assert.rejects(fetchDataset('mini_deepglobe_road', { root, url: `${srv.url}/MiniDeepGlobeRoadExtraction.zip` }, ctx), (e: unknown) => e instanceof SegError && e.kind === 'usage' && /already exists/.test(e.message));
      // A wrong checksum: data error, nothing kept.
      await assert.rejects(
        fetchDataset('mini_deepglobe_road', { root, force: true, url: `${srv.url}/MiniDeepGlobeRoadExtraction.zip`, md5: '0'.repeat(32) }, ctx),
        (e: unknown) => e instanceof SegError && e.kind === 'data' && /checksum mismatch .* expected 0{32}; the download was removed/.test(e.message),
      );
      assert.ok(!fs.existsSync(path.join(root, '.downloads', 'MiniDeepGlobeRoadExtraction.zip.part')));
      assert.ok(!fs.existsSync(path.join(root, '.downloads', 'MiniDeepGlobeRoadExtraction.zip')));
      // A member escaping the target folder.
      await assert.rejects(fetchDataset('mini_deepglobe_road', { root, force: true, url: `${srv.url}/evil.zip` }, ctx), (e: unknown) => e instanceof SegError && e.kind === 'data' && /invalid relative path: \.\.\/evil\.txt|would be written outside/.test(e.message));
      assert.ok(!fs.existsSync(path.join(root, 'evil.txt')) && !fs.existsSync(path.join(dir, 'evil.txt')));
      // The dataset installed first is still there after the failed replacements.
      assert.ok(fs.existsSync(path.join(ds, 'val.txt')));
    } finally {
      await srv.close();
    }
    // Plain http to another host is refused (no network needed).
    await assert.rejects(fetchDataset('voc2012', { root: path.join(dir, 'dataset'), url: 'http://example.com/VOC.tar' }, quietContext()), (e: unknown) => e instanceof SegError && e.exitCode === 2 && /only https:\/\/ URLs are allowed/.test(e.message));
  } finally {
    cleanup();
  }
});

test('seg dataset download: a file name from the URL cannot reach outside --dir (no read as cache, no write, no delete)', async () => {
  const { dir, cleanup } = tmpDir();
  try {
    const { zip } = await writeMiniZip(dir);
    const outside = path.join(dir, 'outside');
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(outside, 'x.zip'), zip); // a valid archive where the decoded name points
    const srv = await fixtureServer({ '../../outside/x.zip': zip }, new Set());
    try {
      const r = await runSeg(['dataset', 'download', 'mini_deepglobe_road', '--url', `${srv.url}/..%2F..%2Foutside%2Fx.zip`, '--dir', path.join(dir, 'D')], { cwd: dir });
      assert.equal(r.code, 0, r.stderr);
      assert.doesNotMatch(r.stderr, /downloaded before/, 'nothing outside --dir is taken as a cache');
      assert.equal(srv.requests.length, 1, 'the archive was downloaded');
      assert.deepEqual(fs.readdirSync(outside), ['x.zip'], 'nothing written beside it');
      assert.ok(fs.readFileSync(path.join(outside, 'x.zip')).equals(zip), 'the outside file is neither deleted nor changed');
      assert.ok(fs.existsSync(path.join(dir, 'D', 'MiniDeepGlobeRoadExtraction', 'train.txt')));
      assert.deepEqual(fs.readdirSync(dir).sort(), ['D', 'fx', 'mini.zip', 'outside']);
    } finally {
      await srv.close();
    }
  } finally {
    cleanup();
  }
});

test('seg dataset download voc2012: tar resumed from a .part left by a killed run; palette labels → index PNGs; lists; seg check passes', async () => {
  const { dir, cleanup } = tmpDir();
  try {
    const voc = path.join(dir, 'src', 'VOCdevkit', 'VOC2012');
    const ids = ['2007_000032', '2007_000039', '2007_000063'];
    const pal = vocPalette().map((c) => [...c]);
    const expected: Record<string, number[]> = {};
    for (const [k, id] of ids.entries()) {
      const { rgb } = blockPattern(48, 40, 8, 3);
      await writeRaw(path.join(voc, 'JPEGImages', `${id}.jpg`), rgb, 48, 40, 3);
      const idx = new Uint8Array(48 * 40).map((_, i) => [0, 15, k + 1, 255][(i >> 4) % 4] as number);
      expected[id] = [...idx];
      writePalettePng(path.join(voc, 'SegmentationClass', `${id}.png`), idx, 48, 40, pal);
    }
    fs.mkdirSync(path.join(voc, 'ImageSets', 'Segmentation'), { recursive: true });
    fs.writeFileSync(path.join(voc, 'ImageSets', 'Segmentation', 'train.txt'), `${ids[0]}\n${ids[1]}\n`);
    fs.writeFileSync(path.join(voc, 'ImageSets', 'Segmentation', 'val.txt'), `${ids[2]}\n`);
    fs.writeFileSync(path.join(voc, 'ImageSets', 'Segmentation', 'trainval.txt'), `${ids.join('\n')}\n`);
    await tar.c({ cwd: path.join(dir, 'src'), file: path.join(dir, 'voc.tar'), portable: true }, ['VOCdevkit']);
    const tarball = fs.readFileSync(path.join(dir, 'voc.tar'));
    // A previous run was killed after 3000 bytes.
    fs.mkdirSync(path.join(dir, 'dataset', '.downloads'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'dataset', '.downloads', 'VOCtrainval_11-May-2012.tar.part'), tarball.subarray(0, 3000));
    const srv = await fixtureServer({ 'VOCtrainval_11-May-2012.tar': tarball }, new Set());
    try {
      const r = await runSeg(['dataset', 'download', 'voc2012', '--url', `${srv.url}/VOCtrainval_11-May-2012.tar`, '--md5', md5(tarball)], { cwd: dir });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(srv.requests.map((q) => q.range), ['bytes=3000-']);
      assert.match(r.stderr, /resuming voc2012 at/);
      assert.match(r.stdout, /converted 3 palette labels to index PNGs/);
    } finally {
      await srv.close();
    }
    const out = path.join(dir, 'dataset', 'VOCtrainval_11-May-2012', 'VOC2012');
    for (const id of ids) {
      const l = await readLabel(path.join(out, 'SegmentationClassAug', `${id}.png`));
      assert.equal(l.kind, 'gray');
      assert.deepEqual([...l.data], expected[id]);
    }
    const sets = path.join(out, 'ImageSets', 'Segmentation');
    assert.equal(fs.readFileSync(path.join(sets, 'train.list'), 'utf8'), `JPEGImages/${ids[0]}.jpg SegmentationClassAug/${ids[0]}.png\nJPEGImages/${ids[1]}.jpg SegmentationClassAug/${ids[1]}.png\n`);
    assert.equal(fs.readFileSync(path.join(sets, 'val.list'), 'utf8'), `JPEGImages/${ids[2]}.jpg SegmentationClassAug/${ids[2]}.png\n`);
    assert.equal(fs.readFileSync(path.join(sets, 'trainval.list'), 'utf8').trim().split('\n').length, 3);
    // The shipped VOC config reads it as is.
    fs.mkdirSync(path.join(dir, 'configs'));
    fs.copyFileSync(path.join(REPO_ROOT, 'configs', 'lovasz_softmax_voc.yaml'), path.join(dir, 'configs', 'voc.yaml'));
    const c = await runSeg(['check', '--cfg', 'configs/voc.yaml'], { cwd: dir });
    assert.equal(c.code, 0, c.stdout + c.stderr);
    assert.match(c.stdout, /All checks PASS/);
  } finally {
    cleanup();
  }
});

test('seg dataset list: pairs images and labels by name per split, image-only splits, mismatches named', async () => {
  const { dir, cleanup } = tmpDir();
  try {
    const px = new Uint8Array(8 * 8 * 3);
    const lab = new Uint8Array(8 * 8);
    for (const f of ['train/b', 'train/a', 'train/sub/c', 'val/d']) {
      await writeRaw(path.join(dir, 'images', `${f}.jpg`), px, 8, 8, 3);
      await writeRaw(path.join(dir, 'annotations', `${f}.png`), lab, 8, 8, 1);
    }
    await writeRaw(path.join(dir, 'images', 'test', 'e.jpg'), px, 8, 8, 3);
    const r = await runSeg(['dataset', 'list', dir, '--separator', ' '], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(fs.readFileSync(path.join(dir, 'train.txt'), 'utf8'), 'images/train/a.jpg annotations/train/a.png\nimages/train/b.jpg annotations/train/b.png\nimages/train/sub/c.jpg annotations/train/sub/c.png\n');
    assert.equal(fs.readFileSync(path.join(dir, 'val.txt'), 'utf8'), 'images/val/d.jpg annotations/val/d.png\n');
    assert.equal(fs.readFileSync(path.join(dir, 'test.txt'), 'utf8'), 'images/test/e.jpg\n');
    assert.match(r.stdout, /test\.txt: 1 lines \(images only\)/);
    fs.rmSync(path.join(dir, 'annotations', 'train', 'b.png'));
    const bad = await runSeg(['dataset', 'list', dir], { cwd: dir });
    assert.equal(bad.code, 3);
    assert.match(bad.stderr, /train: 3 images but 2 labels; image .*images\/train\/b\.jpg has no label .*annotations\/train\/b\.png/);
  } finally {
    cleanup();
  }
});
