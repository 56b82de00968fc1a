/**
 * pdseg's annotation tools: polygons drawn exactly as Pillow draws them (the masks of
 * scripts/reference/polygon_reference.py), and `seg dataset labelme|jingling|pseudo-color` as
 * real processes on files the test writes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { decode as decodePng } from 'fast-png';
import { fillPolygon } from '../../src/data/datasets/annotations.js';
import { readLabel, writeLabelPng } from '../../src/data/image_io.js';
import { REPO_ROOT, runSeg, tmpDir } from '../helpers/cli.js';

interface Golden {
  width: number;
  height: number;
  shapes: Array<{ name: string; points: Array<[number, number]>; mask: number[] }>;
  label: number[];
}
const golden = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'test', 'golden', 'polygon_reference.json'), 'utf8')) as Golden;
const { width: W, height: H } = golden;
const shape = (name: string) => golden.shapes.find((s) => s.name === name) as Golden['shapes'][number];

test('polygons are filled pixel for pixel as Pillow fills them (float and integer vertices, concave, thin, star)', () => {
  const all = new Uint8Array(W * H);
  golden.shapes.forEach((s, k) => {
    const m = new Uint8Array(W * H);
    fillPolygon(m, W, H, s.points, 1);
    assert.deepEqual([...m], s.mask, s.name);
    fillPolygon(all, W, H, s.points, k + 1);
  });
  assert.deepEqual([...all], golden.label, 'later shapes over earlier ones');
});

/** The label PNG: indices and whether it carries a palette. */
function readPng(file: string): { data: number[]; palette: boolean } {
  const png = decodePng(fs.readFileSync(file));
  return { data: [...(png.data as Uint8Array)], palette: png.palette !== undefined };
}

test('seg dataset labelme: label PNGs (VOC palette, class indices), class_names.txt, rectangles and circles, lines skipped', async () => {
  const tmp = tmpDir('seg-labelme-');
  try {
    const dir = tmp.dir;
    const poly = (label: string, name: string) => ({ label, points: shape(name).points, shape_type: 'polygon' });
    fs.writeFileSync(path.join(dir, 'a.json'), JSON.stringify({ imagePath: 'a.jpg', imageWidth: W, imageHeight: H, shapes: [poly('road', 'triangle'), poly('building', 'concave')] }));
    fs.writeFileSync(
      path.join(dir, 'b.json'),
      JSON.stringify({
        imagePath: 'b.jpg',
        imageWidth: W,
        imageHeight: H,
        shapes: [poly('road', 'star'), { label: 'tree', points: [[2, 2], [8, 6]], shape_type: 'rectangle' }, { label: 'pond', points: [[40, 28], [43, 28]], shape_type: 'circle' }, { label: 'wire', points: [[0, 0], [10, 10]], shape_type: 'line' }],
      }),
    );
    const r = await runSeg(['dataset', 'labelme', dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /warning: .*b\.json: shape 3 \("wire", line\): no area to label, skipped/);
    assert.equal(fs.readFileSync(path.join(dir, 'class_names.txt'), 'utf8'), '_background_\nroad\nbuilding\ntree\npond');

    const a = readPng(path.join(dir, 'annotations', 'a.png'));
    assert.ok(a.palette, 'a palette PNG, as pdseg writes');
    const expectA = new Uint8Array(W * H);
    fillPolygon(expectA, W, H, shape('triangle').points, 1);
    fillPolygon(expectA, W, H, shape('concave').points, 2);
    assert.deepEqual(a.data, [...expectA]);
    assert.equal(a.data.filter((v) => v === 2).length, shape('concave').mask.reduce((n, v) => n + v, 0), 'the later shape is whole');

    const b = readPng(path.join(dir, 'annotations', 'b.png')).data;
    for (let y = 2; y <= 6; y++) for (let x = 2; x <= 8; x++) assert.equal(b[y * W + x], 3, `rectangle pixel ${x},${y}`);
    assert.equal(b[28 * W + 40], 4, 'circle centre');
    assert.equal(b[28 * W + 43], 4, 'circle edge (radius 3)');
    assert.equal(b[28 * W + 44], shape('star').mask[28 * W + 44] ? 1 : 0, 'outside the circle');
    assert.equal((await readLabel(path.join(dir, 'annotations', 'b.png'))).kind, 'palette', 'seg reads them back as indices');
  } finally {
    tmp.cleanup();
  }
});

test('seg dataset jingling: JingLing objects as polygons; files without a size are skipped as pdseg does', async () => {
  const tmp = tmpDir('seg-jingling-');
  try {
    const pts = shape('star').points;
    const polygon = Object.fromEntries(pts.flatMap(([x, y], i) => [[`x${i + 1}`, x], [`y${i + 1}`, y]]));
    fs.writeFileSync(path.join(tmp.dir, 'img1.json'), JSON.stringify({ size: { width: W, height: H, depth: 3 }, outputs: { object: [{ name: 'star', polygon }] } }));
    fs.writeFileSync(path.join(tmp.dir, 'nosize.json'), JSON.stringify({ outputs: { object: [] } }));
    const r = await runSeg(['dataset', 'jingling', tmp.dir, '--json'], { cwd: tmp.dir });
    assert.equal(r.code, 0, r.stderr);
    const res = JSON.parse(r.stdout) as { classNames: string[]; written: string[] };
    assert.deepEqual(res.classNames, ['_background_', 'star']);
    assert.equal(res.written.length, 1);
    assert.deepEqual(readPng(path.join(tmp.dir, 'annotations', 'img1.png')).data, shape('star').mask);
  } finally {
    tmp.cleanup();
  }
});

test('annotation errors: a polygon under 3 points and a broken JSON name the file (exit 3); no JSON at all', async () => {
  const tmp = tmpDir('seg-ann-bad-');
  try {
    fs.writeFileSync(path.join(tmp.dir, 'x.json'), JSON.stringify({ imageWidth: 4, imageHeight: 4, shapes: [{ label: 'a', points: [[0, 0], [1, 1]], shape_type: 'polygon' }] }));
    let r = await runSeg(['dataset', 'labelme', tmp.dir]);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /x\.json: shape 0 \("a", polygon\) has 2 points; a polygon needs at least 3/);
    fs.writeFileSync(path.join(tmp.dir, 'x.json'), '{ not json');
    r = await runSeg(['dataset', 'labelme', tmp.dir]);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /cannot read annotation .*x\.json/);
    fs.rmSync(path.join(tmp.dir, 'x.json'));
    r = await runSeg(['dataset', 'labelme', tmp.dir]);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /no \*\.json annotation files in/);
  } finally {
    tmp.cleanup();
  }
});

test('seg dataset pseudo-color: a folder and a file list of gray labels become palette PNGs with the same indices; paths leaving the output are refused', async () => {
  const tmp = tmpDir('seg-pseudo-');
  try {
    const gray = path.join(tmp.dir, 'gray');
    const label = Uint8Array.from({ length: 12 }, (_, i) => i % 4);
    await writeLabelPng(path.join(gray, 'sub', 'l1.png'), label, 4, 3);
    await writeLabelPng(path.join(gray, 'l2.png'), label.map((v) => 3 - v), 4, 3);
    const out = path.join(tmp.dir, 'colour');
    let r = await runSeg(['dataset', 'pseudo-color', gray, out]);
    assert.equal(r.code, 0, r.stderr);
    for (const [f, want] of [['sub/l1.png', label], ['l2.png', label.map((v) => 3 - v)]] as const) {
      const png = readPng(path.join(out, f));
      assert.ok(png.palette, f);
      assert.deepEqual(png.data, [...want], f);
    }
    const list = path.join(tmp.dir, 'train.txt');
    fs.writeFileSync(list, 'img/a.jpg|sub/l1.png\n');
    r = await runSeg(['dataset', 'pseudo-color', list, path.join(tmp.dir, 'c2'), '--dataset_dir', gray, '--file_separator', '|']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(readPng(path.join(tmp.dir, 'c2', 'sub', 'l1.png')).data, [...label]);
    fs.writeFileSync(list, 'img/a.jpg|../gray/l2.png\n');
    r = await runSeg(['dataset', 'pseudo-color', list, path.join(tmp.dir, 'c3'), '--dataset_dir', gray, '--separator', '|']);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /would be written outside/);
    r = await runSeg(['dataset', 'pseudo-color', list, path.join(tmp.dir, 'c4')]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /is a file list: give --dataset_dir and --separator too/);
  } finally {
    tmp.cleanup();
  }
});
