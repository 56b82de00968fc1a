import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { renderConfigDocs } from '../../scripts/gen_config_docs.js';
import { leafKeys } from '../../src/config/keys.js';
import { REPO_ROOT } from '../helpers/cli.js';

test('docs/config.md is generated from the schema and up to date', () => {
  const onDisk = fs.readFileSync(path.join(REPO_ROOT, 'docs', 'config.md'), 'utf8');
  assert.equal(onDisk, renderConfigDocs(), 'docs/config.md is stale: run `npm run docs:config`');
  for (const key of leafKeys()) assert.ok(onDisk.includes(`\`${key}\``), `${key} missing from docs/config.md`);
});
