/**
 * Writes docs/config.md from the zod schema: every key, its type, default and description.
 * Run `npm run docs:config`; test/config/docs.test.ts fails when docs/config.md is stale.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { allKeys, describeType } from '../src/config/keys.js';

export function renderConfigDocs(): string {
  const lines: string[] = [
    '# Config keys',
    '',
    'Generated from `src/config/schema.ts` by `npm run docs:config`; do not edit by hand.',
    '',
    'Every key can be set in the `--cfg` YAML file (nested sections) or on the command line as a',
    '`KEY VALUE` pair with the dotted key (`SOLVER.LR 0.01`). Values accept pdseg\'s Python-literal',
    'forms: `(769, 769)`, `[769, 769]`, `"[\'lovasz_hinge_loss\',\'bce_loss\']"`, `u"stepscaling"`, `True`,',
    '`False`, `None`, `1e-4`. Keys marked (seg) are not in pdseg. An unknown key is an error.',
    '',
  ];
  let section = '';
  for (const info of allKeys().values()) {
    if (info.section) continue;
    const parts = info.key.split('.');
    const sec = parts.length > 1 ? parts.slice(0, -1).join('.') : '(top level)';
    if (sec !== section) {
      section = sec;
      lines.push('', `## ${sec}`, '', '| key | type | default | description |', '|---|---|---|---|');
    }
    const def = info.node.default === undefined ? '' : `\`${JSON.stringify(info.node.default)}\``;
    const desc = (info.node.description ?? '').replace(/\|/g, '\\|');
    lines.push(`| \`${info.key}\` | ${describeType(info.node).replace(/\|/g, '\\|')} | ${def} | ${desc} |`);
  }
  return `${lines.join('\n')}\n`;
}

const here = path.dirname(fileURLToPath(import.meta.url));
if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = path.resolve(here, '..', '..', 'docs', 'config.md');
  fs.writeFileSync(out, renderConfigDocs());
  process.stdout.write(`wrote ${out}\n`);
}
