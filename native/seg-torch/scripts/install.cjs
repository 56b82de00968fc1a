// `npm install` of seg-torch: build the addon with node-gyp where libtorch is installed, and fail
// otherwise, so that npm drops this optional dependency and seg runs on its npm-only (wasm) path.
//
//   LIBTORCH=<dir>      build against a libtorch distribution instead of the system's (libtorch-dev)
//   SEG_TORCH_BUILD=0   do not build (npm then drops the package, as when libtorch is absent)
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { check } = require('./libtorch.cjs');

const pkg = path.resolve(__dirname, '..');

function fail(msg) {
  console.error(`seg-torch: ${msg}; the optional native backend is not installed (seg uses its wasm backend).`);
  process.exit(1);
}

if (process.env.SEG_TORCH_BUILD === '0') fail('SEG_TORCH_BUILD=0');
const found = check();
if (!found.ok) fail(`${found.message} (install libtorch-dev, or set LIBTORCH to a libtorch directory)`);
console.error(`seg-torch: ${found.message}`);

// node-gyp: the one npm runs lifecycle scripts with, else npm's bundled copy, else a local one
function nodeGyp() {
  const candidates = [process.env.npm_config_node_gyp];
  const npmDir = process.env.npm_execpath ? path.resolve(path.dirname(process.env.npm_execpath), '..') : undefined;
  if (npmDir) candidates.push(path.join(npmDir, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  candidates.push(path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  try {
    candidates.push(require.resolve('node-gyp/bin/node-gyp.js'));
  } catch {
    /* not installed locally */
  }
  return candidates.find((c) => c && fs.existsSync(c));
}

const gyp = nodeGyp();
if (!gyp) fail('node-gyp not found');
const args = [gyp, 'rebuild', '--jobs', 'max'];
// Node's own headers, when they are installed beside it (distribution packages, official tarballs):
// no download needed
const prefix = path.resolve(path.dirname(process.execPath), '..');
if (fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`);
const r = spawnSync(process.execPath, args, { cwd: pkg, stdio: 'inherit' });
if (r.status !== 0) fail('the build failed');

// load it once in a separate process, resolving every symbol now (LD_BIND_NOW): a libtorch that does
// not match (C++ ABI, version) fails here rather than at the first call
const load = spawnSync(process.execPath, ['-e', "const a = require('./index.cjs'); console.error('seg-torch: built for ' + a.config())"], {
  cwd: pkg,
  stdio: 'inherit',
  env: { ...process.env, LD_BIND_NOW: '1' },
});
if (load.status !== 0) fail('the addon was built but does not load');
