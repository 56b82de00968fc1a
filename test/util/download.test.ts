/**
 * src/util/download.ts on its own, against a local HTTP server on 127.0.0.1 started here: what the
 * merged module does that neither of the former dataset and pretrained downloaders did alone
 * (Range resume across a redirect, MD5 and SHA-256 together, an idle timeout followed by a resume,
 * redirect targets checked like the URL), and archive extraction (zip, tar, tar.gz; formats told
 * from the content; unsafe members, CRC errors).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tar from 'tar';
import { downloadFile } from '../../src/util/download.js';
import { extractArchive, safeEntryPath } from '../../src/util/archive.js';
import type { Logger, ProgressFactory } from '../../src/util/context.js';
import { SegError } from '../../src/util/errors.js';
import { tmpDir } from '../helpers/cli.js';
import { zipStore } from '../checkpoint/fixtures.js';

const tmp = tmpDir('seg-util-download-');
const BODY = Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 7919) % 251));
const md5 = (b: Buffer): string => createHash('md5').update(b).digest('hex');
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Paths whose next response is cut after half its body: 'fin' closes the socket, 'stall' sends nothing more. */
const cut = new Map<string, 'fin' | 'stall'>();
const requests: Array<{ url: string; range: string | undefined }> = [];
let server: http.Server;
let base = '';

before(async () => {
  server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    requests.push({ url, range: req.headers.range });
    const redirect = /^\/redirect(\/.*)$/.exec(url);
    if (redirect) {
      res.writeHead(302, { location: redirect[1] }).end();
      return;
    }
    if (url === '/away') {
      res.writeHead(301, { location: 'http://example.com/file.bin' }).end();
      return;
    }
    if (url === '/local') {
      res.writeHead(302, { location: pathToFileURL(path.join(tmp.dir, 'secret')).toString() }).end();
      return;
    }
    if (url !== '/file.bin' && url !== '/always-cut.bin' && url !== '/stall.bin') {
      res.writeHead(404).end();
      return;
    }
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = m ? Number(m[1]) : 0;
    const chunk = BODY.subarray(start);
    res.writeHead(m ? 206 : 200, { 'content-length': chunk.length, ...(m ? { 'content-range': `bytes ${start}-${BODY.length - 1}/${BODY.length}` } : {}) });
    const how = url === '/always-cut.bin' ? 'fin' : cut.get(url);
    cut.delete(url);
    if (how === undefined) {
      res.end(chunk);
      return;
    }
    // Half the body, then a graceful close (FIN) or silence; the bytes sent arrive either way.
    res.write(chunk.subarray(0, Math.floor(chunk.length / 2)), () => {
      if (how === 'fin') res.socket?.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  tmp.cleanup();
});

/** A logger that records warnings and infos. */
function recordingLog(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return { lines, info: (m) => lines.push(m), warn: (m) => lines.push(m), debug() {} };
}

/** A progress factory that records each bar's label, total and last value. */
function recordingProgress(): { factory: ProgressFactory; bars: Array<{ label: string; total: number; value: number; stopped: boolean }> } {
  const bars: Array<{ label: string; total: number; value: number; stopped: boolean }> = [];
  const factory: ProgressFactory = (label, total) => {
    const bar = { label, total, value: 0, stopped: false };
    bars.push(bar);
    return {
      update: (v) => void (bar.value = v),
      increment: (d = 1) => void (bar.value += d),
      stop: () => void (bar.stopped = true),
    };
  };
  return { factory, bars };
}

const since = (n: number): Array<{ url: string; range: string | undefined }> => requests.slice(n);

describe('downloadFile', () => {
  test('a download cut mid-transfer resumes with Range through a redirect; MD5 and SHA-256 both returned', async () => {
    const dest = path.join(tmp.dir, 'resume', 'file.bin');
    cut.set('/file.bin', 'fin');
    const log = recordingLog();
    const { factory, bars } = recordingProgress();
    const n = requests.length;
    const r = await downloadFile(`${base}/redirect/file.bin`, dest, { md5: md5(BODY), sha256: sha256(BODY), log, progress: factory, label: 'fixture' });
    assert.ok(fs.readFileSync(dest).equals(BODY));
    assert.deepEqual(r, { bytes: BODY.length, md5: md5(BODY), sha256: sha256(BODY), resumedFrom: 0, attempts: 2 });
    assert.ok(!fs.existsSync(`${dest}.part`));
    const reqs = since(n);
    assert.deepEqual(reqs.map((q) => q.url), ['/redirect/file.bin', '/file.bin', '/redirect/file.bin', '/file.bin']);
    assert.equal(reqs[1]?.range, undefined);
    // The second attempt asks for the rest, on the redirect and on its target alike.
    const resumeAt = Number(/^bytes=(\d+)-$/.exec(reqs[3]?.range ?? '')?.[1]);
    assert.ok(resumeAt > 0 && resumeAt < BODY.length, `resumed at ${resumeAt}`);
    assert.equal(reqs[2]?.range, `bytes=${resumeAt}-`);
    assert.ok(log.lines.some((l) => /download of fixture interrupted at .* resuming \(1\/5\)/.test(l)), log.lines.join('\n'));
    assert.ok(log.lines.some((l) => /resuming fixture at/.test(l)));
    assert.equal(bars.length, 1);
    assert.equal(bars[0]?.label, 'downloading fixture (MB)');
    assert.equal(bars[0]?.value, 0.2);
    assert.equal(bars[0]?.stopped, true);
  });

  test('a .part left by an earlier call is resumed through a redirect', async () => {
    const dest = path.join(tmp.dir, 'part', 'file.bin');
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.writeFileSync(`${dest}.part`, BODY.subarray(0, 12_345));
    const n = requests.length;
    const r = await downloadFile(`${base}/redirect/file.bin`, dest, { sha256: sha256(BODY) });
    assert.equal(r.resumedFrom, 12_345);
    assert.equal(r.attempts, 1);
    assert.deepEqual(since(n).map((q) => q.range), ['bytes=12345-', 'bytes=12345-']);
    assert.ok(fs.readFileSync(dest).equals(BODY));
  });

  test('MD5 and SHA-256 are both checked: either mismatch is a data error and removes the download', async () => {
    const dir = path.join(tmp.dir, 'sums');
    const dest = path.join(dir, 'file.bin');
    await assert.rejects(
      downloadFile(`${base}/file.bin`, dest, { md5: md5(BODY), sha256: 'f'.repeat(64) }),
      (e: unknown) => e instanceof SegError && e.kind === 'data' && /checksum mismatch .*SHA-256 [0-9a-f]{64}, expected f{64}; the download was removed/.test(e.message) && /--sha256/.test(e.hint ?? ''),
    );
    await assert.rejects(
      downloadFile(`${base}/file.bin`, dest, { md5: 'A'.repeat(32), sha256: sha256(BODY) }),
      (e: unknown) => e instanceof SegError && e.kind === 'data' && /checksum mismatch .*MD5 [0-9a-f]{32}, expected a{32}; the download was removed/.test(e.message) && /--md5/.test(e.hint ?? ''),
    );
    assert.deepEqual(fs.readdirSync(dir), []);
    // Upper-case expected values are accepted.
    const r = await downloadFile(`${base}/file.bin`, dest, { md5: md5(BODY).toUpperCase(), sha256: sha256(BODY).toUpperCase() });
    assert.equal(r.sha256, sha256(BODY));
  });

  test('file:// URLs are copied and verified', async () => {
    const src = path.join(tmp.dir, 'local source.bin');
    fs.writeFileSync(src, BODY);
    const dest = path.join(tmp.dir, 'file', 'copy.bin');
    const r = await downloadFile(pathToFileURL(src).toString(), dest, { md5: md5(BODY), sha256: sha256(BODY) });
    assert.equal(r.bytes, BODY.length);
    assert.ok(fs.readFileSync(dest).equals(BODY));
    await assert.rejects(downloadFile(pathToFileURL(path.join(tmp.dir, 'missing.bin')).toString(), path.join(tmp.dir, 'file', 'x.bin')), (e: unknown) => e instanceof SegError && e.kind === 'runtime' && /ENOENT/.test(e.message));
  });

  test('no byte for idleTimeoutMs counts as a lost connection: the next attempt resumes', async () => {
    const dest = path.join(tmp.dir, 'idle', 'stall.bin');
    cut.set('/stall.bin', 'stall');
    const log = recordingLog();
    const n = requests.length;
    const r = await downloadFile(`${base}/stall.bin`, dest, { idleTimeoutMs: 300, log, sha256: sha256(BODY) });
    assert.equal(r.attempts, 2);
    assert.match(since(n)[1]?.range ?? '', /^bytes=[1-9]\d*-$/);
    assert.ok(log.lines.some((l) => /no data for 0\.3 s/.test(l)), log.lines.join('\n'));
    assert.ok(fs.readFileSync(dest).equals(BODY));
  });

  test('a download that keeps being cut: runtime error; the .part is kept to resume, unless keepPartial is false', async () => {
    const dest = path.join(tmp.dir, 'cut', 'always-cut.bin');
    await assert.rejects(
      downloadFile(`${base}/always-cut.bin`, dest, { attempts: 2 }),
      (e: unknown) => e instanceof SegError && e.kind === 'runtime' && new RegExp(`cut off after \\d+ of ${BODY.length} bytes \\(2 attempt`).test(e.message) && /resume from .*always-cut\.bin\.part/.test(e.hint ?? ''),
    );
    const kept = fs.statSync(`${dest}.part`).size;
    assert.ok(kept > 0 && kept < BODY.length);
    await assert.rejects(downloadFile(`${base}/always-cut.bin`, dest, { attempts: 1, keepPartial: false }), (e: unknown) => e instanceof SegError && e.kind === 'runtime' && /cut off after/.test(e.message));
    assert.deepEqual(fs.readdirSync(path.dirname(dest)), []);
  });

  test('an abort is "interrupted" and keeps what arrived', async () => {
    const dest = path.join(tmp.dir, 'abort', 'stall.bin');
    cut.set('/stall.bin', 'stall');
    const ac = new AbortController();
    // Abort once the half the server sends before it stalls is on disk.
    const half = Math.floor(BODY.length / 2);
    const poll = setInterval(() => {
      if (fs.existsSync(`${dest}.part`) && fs.statSync(`${dest}.part`).size === half) ac.abort();
    }, 10);
    try {
      await assert.rejects(downloadFile(`${base}/stall.bin`, dest, { signal: ac.signal, label: 'stalled' }), (e: unknown) => e instanceof SegError && e.kind === 'interrupted' && /download of stalled interrupted; 0\.1 MB kept in .*stall\.bin\.part/.test(e.message));
    } finally {
      clearInterval(poll);
    }
    assert.equal(fs.statSync(`${dest}.part`).size, half);
    assert.ok(!fs.existsSync(dest));
  });

  test('URLs and redirect targets are checked: httpsOnly refuses plain http off the loopback, nobody follows a redirect to file://', async () => {
    const dest = path.join(tmp.dir, 'refused', 'x.bin');
    await assert.rejects(downloadFile('http://example.com/x.bin', dest, { httpsOnly: true }), (e: unknown) => e instanceof SegError && e.exitCode === 2 && /only https:\/\/ URLs are allowed/.test(e.message));
    await assert.rejects(downloadFile(`${base}/away`, dest, { httpsOnly: true }), (e: unknown) => e instanceof SegError && e.exitCode === 2 && /refusing to download http:\/\/example\.com\/file\.bin/.test(e.message));
    await assert.rejects(downloadFile(pathToFileURL(dest).toString(), dest, { httpsOnly: true }), (e: unknown) => e instanceof SegError && e.exitCode === 2);
    fs.writeFileSync(path.join(tmp.dir, 'secret'), 'secret');
    await assert.rejects(downloadFile(`${base}/local`, dest), (e: unknown) => e instanceof SegError && e.kind === 'runtime' && /redirects to a local file/.test(e.message));
    await assert.rejects(downloadFile('ftp://127.0.0.1/x.bin', dest), (e: unknown) => e instanceof SegError && /unsupported protocol ftp:/.test(e.message));
    await assert.rejects(downloadFile(`${base}/nothing.bin`, dest), (e: unknown) => e instanceof SegError && e.kind === 'runtime' && /HTTP 404/.test(e.message));
    assert.ok(!fs.existsSync(dest) && !fs.existsSync(`${dest}.part`));
  });
});

describe('extractArchive', () => {
  const files: Record<string, Buffer> = { 'top/a.txt': Buffer.from('alpha'), 'top/sub/b.bin': BODY.subarray(0, 5000) };

  function checkTree(dir: string): void {
    for (const [name, data] of Object.entries(files)) assert.ok(fs.readFileSync(path.join(dir, name)).equals(data), name);
  }

  test('zip, tar and tar.gz, by extension or (without one) by content; the file count and progress', async () => {
    const src = path.join(tmp.dir, 'arch-src');
    for (const [name, data] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(src, name)), { recursive: true });
      fs.writeFileSync(path.join(src, name), data);
    }
    const zip = path.join(tmp.dir, 'a.zip');
    fs.writeFileSync(zip, zipStore(Object.entries(files)));
    const tarFile = path.join(tmp.dir, 'a.tar');
    await tar.c({ cwd: src, file: tarFile, portable: true }, ['top']);
    const tgz = path.join(tmp.dir, 'a.tgz');
    await tar.c({ cwd: src, file: tgz, gzip: true, portable: true }, ['top']);
    for (const archive of [zip, tarFile, tgz]) {
      for (const named of [archive, `${archive}-noext`]) {
        if (named !== archive) fs.copyFileSync(archive, named);
        const out = path.join(tmp.dir, 'out', path.basename(named));
        const { factory, bars } = recordingProgress();
        const n = await extractArchive(named, out, { progress: factory });
        assert.equal(n, 2, named);
        checkTree(out);
        assert.equal(bars.length, 1);
        assert.equal(bars[0]?.stopped, true);
        assert.equal(bars[0]?.label, archive === zip ? 'unpacking' : 'unpacking (MB)');
        if (archive === zip) assert.equal(bars[0]?.value, bars[0]?.total);
      }
    }
    // An explicit format wins over the name.
    const renamed = path.join(tmp.dir, 'really-a-zip.tar');
    fs.copyFileSync(zip, renamed);
    assert.equal(await extractArchive(renamed, path.join(tmp.dir, 'out', 'renamed'), { format: 'zip' }), 2);
  });

  test('members outside the target, a CRC mismatch, an unknown type and an abort are refused', async () => {
    // tar: '../evil.txt' (node-tar keeps it with preservePaths).
    const cwd = path.join(tmp.dir, 'evil', 'inner');
    fs.mkdirSync(cwd, { recursive: true });
    fs.writeFileSync(path.join(tmp.dir, 'evil', 'evil.txt'), 'x');
    const evilTar = path.join(tmp.dir, 'evil.tar');
    await tar.c({ cwd, file: evilTar, preservePaths: true }, ['../evil.txt']);
    const out = path.join(tmp.dir, 'evil-out', 'target');
    await assert.rejects(extractArchive(evilTar, out), (e: unknown) => e instanceof SegError && e.kind === 'data' && /member \.\.\/evil\.txt would be written outside/.test(e.message));
    assert.ok(!fs.existsSync(path.join(tmp.dir, 'evil-out', 'evil.txt')));
    // zip: '../evil.txt' (yauzl or seg refuses it, whichever looks first).
    const evilZip = path.join(tmp.dir, 'evil.zip');
    fs.writeFileSync(evilZip, zipStore([['../evil.txt', Buffer.from('x')]]));
    await assert.rejects(extractArchive(evilZip, out), (e: unknown) => e instanceof SegError && e.kind === 'data' && /invalid relative path: \.\.\/evil\.txt|would be written outside/.test(e.message));
    assert.ok(!fs.existsSync(path.join(tmp.dir, 'evil-out', 'evil.txt')));
    // zip: a damaged member.
    const bad = zipStore([['a.txt', Buffer.from('alpha')]]);
    const at = 30 + 'a.txt'.length; // the first byte of the stored data
    bad.writeUInt8(bad.readUInt8(at) ^ 0xff, at);
    const badZip = path.join(tmp.dir, 'bad.zip');
    fs.writeFileSync(badZip, bad);
    await assert.rejects(extractArchive(badZip, path.join(tmp.dir, 'bad-out')), (e: unknown) => e instanceof SegError && e.kind === 'data' && /CRC-32 mismatch/.test(e.message));
    // Neither zip nor tar; a zip that is not one.
    const junk = path.join(tmp.dir, 'junk.bin');
    fs.writeFileSync(junk, 'not an archive');
    await assert.rejects(extractArchive(junk, path.join(tmp.dir, 'junk-out')), (e: unknown) => e instanceof SegError && e.kind === 'data' && /unknown archive type/.test(e.message));
    await assert.rejects(extractArchive(junk, path.join(tmp.dir, 'junk-out'), { format: 'zip' }), (e: unknown) => e instanceof SegError && e.kind === 'data' && /cannot open zip archive/.test(e.message));
    // An abort.
    const ac = new AbortController();
    ac.abort();
    fs.writeFileSync(path.join(tmp.dir, 'ok.zip'), zipStore([['a.txt', Buffer.from('alpha')]]));
    await assert.rejects(extractArchive(path.join(tmp.dir, 'ok.zip'), path.join(tmp.dir, 'abort-out'), { signal: ac.signal }), (e: unknown) => e instanceof SegError && e.kind === 'interrupted');
  });

  test('safeEntryPath: relative and normalised, or undefined', () => {
    assert.equal(safeEntryPath('a/./b/../c.txt'), 'a/c.txt');
    assert.equal(safeEntryPath('a\\b.txt'), 'a/b.txt');
    for (const bad of ['/etc/passwd', '\\x', 'C:\\x', 'c:x', '..', '../x', 'a/../../x', 'a\\..\\..\\x']) assert.equal(safeEntryPath(bad), undefined, bad);
  });
});
