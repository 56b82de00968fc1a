/**
 * `seg pretrained download` against a local HTTP server on 127.0.0.1 started by the test: fixture
 * archives (.tar.gz and .zip of a Keras MobileNetV2 in tfjs layers format, built here), a bare
 * model.json + shard, redirects, a wrong checksum, a truncated download and a 404. The real network
 * path (the catalog's https URL) is not exercised here.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import * as tar from 'tar';
import { initBackend } from '../../src/backend/index.js';
import { downloadPretrained, loadPretrained } from '../../src/checkpoint/index.js';
import { buildModel } from '../../src/models/build.js';
import { quietContext } from '../../src/util/context.js';
import { SegError } from '../../src/util/errors.js';
import { runSeg, tmpDir } from '../helpers/cli.js';
import { config } from '../models/helpers.js';
import { writeKerasMobileNetV2, zipStore } from './fixtures.js';

const tmp = tmpDir('seg-download-');
const files = new Map<string, Buffer>();
let server: http.Server;
let base = '';
const hits: string[] = [];
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

before(async () => {
  await initBackend({ backend: 'cpu' });
  // The fixture: a Keras MobileNetV2 (alpha 0.5) in tfjs layers format, packed three ways.
  const src = path.join(tmp.dir, 'fixture', 'mobilenet_v2_0.50');
  writeKerasMobileNetV2(src, '0.5', 11);
  const tgz = path.join(tmp.dir, 'fixture', 'mnv2.tar.gz');
  await tar.c({ gzip: true, file: tgz, cwd: path.dirname(src), portable: true }, ['mobilenet_v2_0.50']);
  files.set('/archives/mnv2.tar.gz', fs.readFileSync(tgz));
  const modelJson = fs.readFileSync(path.join(src, 'model.json'));
  const shard = fs.readFileSync(path.join(src, 'group1-shard1of1.bin'));
  files.set('/archives/mnv2.zip', zipStore([['model.json', modelJson], ['group1-shard1of1.bin', shard]]));
  files.set('/tfjs/mnv2/model.json', modelJson);
  files.set('/tfjs/mnv2/group1-shard1of1.bin', shard);
  files.set('/tfjs/graph/model.json', Buffer.from(JSON.stringify({ format: 'graph-model', modelTopology: { node: [] }, weightsManifest: [{ paths: [], weights: [] }] })));

  server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    hits.push(url);
    if (url === '/redirect/mnv2.tar.gz') {
      res.writeHead(302, { location: '/archives/mnv2.tar.gz' });
      res.end();
      return;
    }
    if (url === '/truncated/mnv2.tar.gz') {
      const body = files.get('/archives/mnv2.tar.gz')!;
      res.writeHead(200, { 'content-length': String(body.length) });
      res.write(body.subarray(0, Math.floor(body.length / 2)), () => res.socket?.destroy());
      return;
    }
    const body = files.get(url);
    if (!body) {
      res.writeHead(404);
      res.end('not found');
      return;
    }
    res.writeHead(200, { 'content-length': String(body.length) });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  tmp.cleanup();
});

/** Every backbone weight of a DEPTH_MULTIPLIER 0.5 model loads from `dir`. */
function checkLoads(dir: string): void {
  const model = buildModel(config({ 'MODEL.DEEPLAB.DEPTH_MULTIPLIER': 0.5 }));
  const report = loadPretrained(model, dir);
  assert.equal(report.loaded.length, model.weights.filter((w) => w.name.startsWith('backbone/')).length);
  model.dispose();
}

describe('download, verify, unpack, convert (library)', () => {
  test('a .tar.gz with the right checksum becomes pretrained_model/NAME with seg weights', async () => {
    const root = path.join(tmp.dir, 'root1');
    const archive = files.get('/archives/mnv2.tar.gz')!;
    const r = await downloadPretrained('mnv2_tgz', { root, url: `${base}/archives/mnv2.tar.gz`, sha256: sha(archive) }, quietContext());
    assert.equal(r.dir, path.join(root, 'mnv2_tgz'));
    assert.equal(r.verified, true);
    assert.equal(r.sha256, sha(archive));
    assert.equal(r.format, 'keras-layers');
    assert.deepEqual(r.unused.sort(), ['Conv_1/kernel', 'Conv_1_bn/beta', 'Conv_1_bn/gamma', 'Conv_1_bn/moving_mean', 'Conv_1_bn/moving_variance']);
    assert.deepEqual(fs.readdirSync(r.dir).sort(), ['group1-shard1of1.bin', 'model.json', 'pretrained.json', 'source']);
    assert.equal(JSON.parse(fs.readFileSync(path.join(r.dir, 'model.json'), 'utf8')).format, 'seg-weights');
    assert.deepEqual(fs.readdirSync(root), ['mnv2_tgz'], 'no temporary leftovers');
    checkLoads(r.dir);
    // A second call finds the folder and downloads nothing.
    const n = hits.length;
    const again = await downloadPretrained('mnv2_tgz', { root, url: `${base}/archives/mnv2.tar.gz` }, quietContext());
    assert.equal(again.existed, true);
    assert.equal(hits.length, n);
    // --force downloads again and replaces the folder.
    const forced = await downloadPretrained('mnv2_tgz', { root, url: `${base}/archives/mnv2.tar.gz`, force: true }, quietContext());
    assert.equal(forced.existed, false);
    assert.equal(hits.length, n + 1);
    assert.deepEqual(fs.readdirSync(root), ['mnv2_tgz']);
    checkLoads(forced.dir);
  });

  test('a local copy via file:// (the offline route the docs give)', async () => {
    const root = path.join(tmp.dir, 'root_file');
    const local = path.join(tmp.dir, 'fixture', 'mnv2.tar.gz');
    const r = await downloadPretrained('mnv2_file', { root, url: pathToFileURL(local).toString(), sha256: sha(fs.readFileSync(local)) }, quietContext());
    assert.equal(r.verified, true);
    checkLoads(r.dir);
  });

  test('a .zip, a redirect, and a bare tfjs model.json with its shard', async () => {
    const root = path.join(tmp.dir, 'root2');
    const zip = await downloadPretrained('mnv2_zip', { root, url: `${base}/archives/mnv2.zip`, sha256: sha(files.get('/archives/mnv2.zip')!) }, quietContext());
    checkLoads(zip.dir);
    const redirected = await downloadPretrained('mnv2_redirect', { root, url: `${base}/redirect/mnv2.tar.gz` }, quietContext());
    assert.equal(redirected.verified, false);
    checkLoads(redirected.dir);
    const bare = await downloadPretrained('mnv2_json', { root, url: `${base}/tfjs/mnv2/model.json`, sha256: sha(files.get('/tfjs/mnv2/model.json')!) }, quietContext());
    assert.ok(hits.includes('/tfjs/mnv2/group1-shard1of1.bin'));
    checkLoads(bare.dir);
  });

  test('a wrong checksum is a data error and leaves nothing behind', async () => {
    const root = path.join(tmp.dir, 'root3');
    await assert.rejects(
      downloadPretrained('bad', { root, url: `${base}/archives/mnv2.tar.gz`, sha256: '0'.repeat(64) }, quietContext()),
      (e: unknown) => e instanceof SegError && e.kind === 'data' && /checksum mismatch .*expected 0{64}/.test(e.message),
    );
    assert.deepEqual(fs.readdirSync(root), []);
  });

  test('a download cut short is a runtime error and leaves nothing behind', async () => {
    const root = path.join(tmp.dir, 'root4');
    const size = files.get('/archives/mnv2.tar.gz')!.length;
    await assert.rejects(
      downloadPretrained('cut', { root, url: `${base}/truncated/mnv2.tar.gz` }, quietContext()),
      (e: unknown) => e instanceof SegError && e.kind === 'runtime' && new RegExp(`cut off after \\d+ of ${size} bytes`).test(e.message),
    );
    assert.deepEqual(fs.readdirSync(root), []);
  });

  test('HTTP 404, a graph model and unknown names are explained', async () => {
    const root = path.join(tmp.dir, 'root5');
    await assert.rejects(downloadPretrained('x', { root, url: `${base}/nothing.tar.gz` }, quietContext()), (e: unknown) => e instanceof SegError && e.kind === 'runtime' && /HTTP 404/.test(e.message));
    await assert.rejects(downloadPretrained('g', { root, url: `${base}/tfjs/graph/model.json` }, quietContext()), (e: unknown) => e instanceof SegError && e.kind === 'data' && /graph model/.test(e.message));
    await assert.rejects(downloadPretrained('mobilenetv2-1-0_imagenet_kera', { root }, quietContext()), (e: unknown) => e instanceof SegError && e.kind === 'usage' && /did you mean mobilenetv2-1-0_imagenet_keras/.test(e.message));
    await assert.rejects(downloadPretrained('deeplabv3p_xception65_bn_coco', { root }, quietContext()), (e: unknown) => e instanceof SegError && /holds weights of a model seg does not build/.test(e.message));
    assert.deepEqual(fs.readdirSync(root), []);
  });
});

describe('seg pretrained (CLI)', () => {
  test('download with --url and --sha256: exit 0, the folder, a usable summary', async () => {
    const cwd = path.join(tmp.dir, 'cli');
    fs.mkdirSync(cwd);
    const archive = files.get('/archives/mnv2.tar.gz')!;
    const r = await runSeg(['pretrained', 'download', 'mnv2', '--url', `${base}/archives/mnv2.tar.gz`, '--sha256', sha(archive)], { cwd });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`pretrained_model/mnv2: \\d+ weights \\(Keras names mapped onto the backbone; \\d+ unused\\); SHA-256 ${sha(archive)} verified`));
    assert.match(r.stdout, /TRAIN\.PRETRAINED_MODEL_DIR pretrained_model\/mnv2/);
    assert.match(r.stderr, /downloading mnv2 from http:\/\/127\.0\.0\.1/);
    assert.ok(fs.existsSync(path.join(cwd, 'pretrained_model', 'mnv2', 'model.json')));
  });

  test('a wrong checksum exits 3; a bad --sha256 and an unknown name exit 2; list prints the catalog', async () => {
    const cwd = path.join(tmp.dir, 'cli2');
    fs.mkdirSync(cwd);
    const bad = await runSeg(['pretrained', 'download', 'mnv2', '--url', `${base}/archives/mnv2.tar.gz`, '--sha256', 'a'.repeat(64)], { cwd });
    assert.equal(bad.code, 3);
    assert.match(bad.stderr, /seg: data error: checksum mismatch/);
    assert.match(bad.stderr, /hint: /);
    assert.ok(!fs.existsSync(path.join(cwd, 'pretrained_model', 'mnv2')));
    const short = await runSeg(['pretrained', 'download', 'mnv2', '--url', `${base}/archives/mnv2.tar.gz`, '--sha256', 'abc'], { cwd });
    assert.equal(short.code, 2);
    assert.match(short.stderr, /--sha256 expects 64 hexadecimal digits/);
    const unknown = await runSeg(['pretrained', 'download', 'no_such_model'], { cwd });
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown pretrained model "no_such_model"/);
    const list = await runSeg(['pretrained', 'list'], { cwd });
    assert.equal(list.code, 0);
    assert.match(list.stdout, /mobilenetv2-1-0_imagenet_keras/);
  });
});
