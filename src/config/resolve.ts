/**
 * Config resolution, in pdseg's order: schema defaults → the `--cfg` YAML file → `KEY VALUE`
 * overrides → derived values (pdseg's `check_and_infer`, without its quirks) → validation.
 * Every failure is a SegError naming the dotted key, file, line and a hint.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as yaml from 'js-yaml';
import type { z } from 'zod';
import { ConfigSchema, type SegConfig } from './schema.js';
import { allKeys, describeType, type JsonSchemaNode } from './keys.js';
import { parseLiteral, type Literal } from './literal.js';
import { deriveConfig } from './derive.js';
import { validateConfig } from './validate.js';
import { configError, nearest, SegError, usageError } from '../util/errors.js';
import { show } from './format.js';

export interface ResolveOptions {
  /** The `--cfg` YAML file (optional: without it only defaults and overrides apply). */
  cfgFile?: string | undefined;
  /** Trailing `KEY VALUE` tokens from the command line. */
  overrides?: readonly string[];
  /** Values set by dedicated flags (e.g. `--seed` → SEED), applied after the overrides. */
  flagValues?: Readonly<Record<string, Literal>>;
  /** Working directory for relative file lists (default: process.cwd()). */
  cwd?: string;
}

export interface ResolvedConfig {
  config: SegConfig;
  /** Dotted keys the user set (file, overrides or flags); derived values leave user choices alone. */
  explicit: ReadonlySet<string>;
  /** Where each explicit key came from, for messages: a file path or 'command line'. */
  origins: ReadonlyMap<string, string>;
  /** Settings that are valid but probably not what the user meant (e.g. a weight of an unused loss). */
  warnings: string[];
  /** What seg does instead of what a pdseg key asks for (ignored keys, SYNC_BATCH_NORM). */
  notes: string[];
}

type Raw = { [key: string]: unknown };

export function resolveConfig(opts: ResolveOptions = {}): ResolvedConfig {
  const cwd = opts.cwd ?? process.cwd();
  const raw: Raw = {};
  const origins = new Map<string, string>();

  if (opts.cfgFile !== undefined) {
    const file = opts.cfgFile;
    const doc = readYaml(file);
    for (const [key, value] of flattenYaml(doc, file)) {
      setPath(raw, key, value);
      origins.set(key, file);
    }
  }

  for (const [key, value] of parseOverrides(opts.overrides ?? [])) {
    setPath(raw, key, value);
    origins.set(key, 'command line');
  }
  for (const [key, value] of Object.entries(opts.flagValues ?? {})) {
    setPath(raw, key, value);
    origins.set(key, 'command line');
  }

  const parsed = ConfigSchema.safeParse(raw);
  if (!parsed.success) throw formatZodError(parsed.error, raw, origins);
  const explicit = new Set(origins.keys());
  const config = deriveConfig(parsed.data, explicit, cwd);
  const { warnings, notes } = validateConfig(config, origins);
  return { config, explicit, origins, warnings, notes };
}

function readYaml(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const what = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a folder' : code === 'EACCES' ? 'permission denied' : (code ?? String(e));
    throw configError(`cannot read config file ${file}: ${what}`, { file, hint: readHint(file, code), cause: e });
  }
  try {
    // No aliases (*name): a few nested ones expand a 1 KB file into gigabytes, and pdseg's configs use none.
    return yaml.load(text, { filename: file, maxAliases: 0 }) ?? {};
  } catch (e) {
    if (e instanceof yaml.YAMLException) {
      const line = e.mark ? e.mark.line + 1 : undefined;
      const col = e.mark ? e.mark.column + 1 : undefined;
      const alias = /maxAliases/.test(e.reason);
      throw configError(`${file}${line !== undefined ? `:${line}:${col}` : ''}: ${alias ? 'YAML aliases (*name) are not allowed in a config' : `YAML syntax error: ${e.reason}`}`, {
        file,
        ...(line !== undefined ? { line } : {}),
        hint: alias ? 'write the value out where the alias stands (an anchor &name alone is fine)' : 'fix the YAML at that line and column (indentation, brackets, quotes)',
        cause: e,
      });
    }
    throw e;
  }
}

function readHint(file: string, code: string | undefined): string {
  if (code === 'ENOENT') return `check the path; shipped configs are in ${path.join('configs', '')}`;
  if (code === 'EISDIR') {
    let yamls: string[] = [];
    try {
      yamls = fs.readdirSync(file).filter((f) => /\.ya?ml$/i.test(f)).slice(0, 3);
    } catch {
      // an unreadable folder: no examples to offer
    }
    return yamls.length > 0 ? `--cfg takes a YAML file, e.g. ${yamls.map((f) => path.join(file, f)).join(', ')}` : '--cfg takes a YAML file, not a folder';
  }
  return code === 'EACCES' ? 'check the file permissions' : 'check that the file is readable';
}

/** Flatten the YAML mapping to [dotted key, value] pairs, checking every key against the schema. */
function flattenYaml(doc: unknown, file: string): Array<[string, unknown]> {
  if (!isPlainObject(doc)) {
    throw configError(`${file}: the top level must be a mapping of config keys`, { file, hint: 'see configs/ for examples' });
  }
  const out: Array<[string, unknown]> = [];
  const keys = allKeys();
  const walk = (obj: Raw, prefix: string): void => {
    for (const [name, value] of Object.entries(obj)) {
      const key = prefix === '' ? name : `${prefix}.${name}`;
      const info = keys.get(key);
      if (!info) throw unknownKeyError(key, file);
      if (info.section) {
        if (isPlainObject(value)) walk(value, key);
        else if (value === null) continue; // an empty section (`SOLVER:` with nothing under it)
        else throw configError(`${key}: expected a mapping of keys, got ${show(value)}`, { key, file, hint: `write ${key} as a section with keys under it` });
      } else {
        out.push([key, coerce(value)]);
      }
    }
  };
  walk(doc, '');
  return out;
}

/** pdseg applies `literal_eval` to every string value (and keeps the raw string when that fails). */
function coerce(value: unknown): unknown {
  return typeof value === 'string' ? parseLiteral(value) : value;
}

/** `KEY VALUE` pairs from the command line. */
export function parseOverrides(tokens: readonly string[]): Array<[string, unknown]> {
  if (tokens.length % 2 !== 0) {
    throw usageError(`KEY VALUE overrides need an even number of tokens, got ${tokens.length}: ${tokens.join(' ')}`, {
      hint: 'give each key a value, e.g. SOLVER.LR 0.01 BATCH_SIZE 4 (flags go before the overrides)',
    });
  }
  const keys = allKeys();
  const out: Array<[string, unknown]> = [];
  for (let i = 0; i < tokens.length; i += 2) {
    const key = tokens[i] as string;
    const value = tokens[i + 1] as string;
    if (key.startsWith('-')) {
      throw usageError(`unexpected flag ${key} among the KEY VALUE overrides`, { hint: 'put flags before the KEY VALUE overrides' });
    }
    const info = keys.get(key);
    if (!info) throw unknownKeyError(key, undefined);
    const v = coerce(value);
    if (info.section) {
      // A whole section given as a mapping literal, e.g. SOLVER.LOSS_WEIGHT "{'BCE_LOSS': 0.3}".
      if (!isPlainObject(v)) throw configError(`${key} is a section; give one of its keys, e.g. ${firstChild(key)}`, { key, hint: `set ${key}.<KEY> VALUE` });
      const nested: Raw = {};
      setPath(nested, key, v);
      for (const pair of flattenYaml(nested, 'command line')) out.push(pair);
    } else {
      out.push([key, v]);
    }
  }
  return out;
}

function firstChild(section: string): string {
  for (const k of allKeys().keys()) if (k.startsWith(`${section}.`)) return k;
  return `${section}.<KEY>`;
}

function unknownKeyError(key: string, file: string | undefined): SegError {
  const keys = [...allKeys().keys()];
  // Suggest among keys at the same depth first (a typo usually keeps the structure), then anywhere.
  const depth = key.split('.').length;
  const suggestion = nearest(key, keys.filter((k) => k.split('.').length === depth)) ?? nearest(key, keys);
  const where = file !== undefined && file !== 'command line' ? ` in ${file}` : ' on the command line';
  return configError(`unknown config key ${key}${where}${suggestion ? `; did you mean ${suggestion}?` : ''}`, {
    key,
    ...(file !== undefined && file !== 'command line' ? { file } : {}),
    hint: suggestion ? `replace ${key} with ${suggestion}` : 'run `seg config --cfg FILE` to see every key, or see docs/config.md',
  });
}

function formatZodError(error: z.ZodError, raw: Raw, origins: Map<string, string>): SegError {
  const issue = error.issues[0];
  if (!issue) return configError('invalid configuration');
  // Point at the config key: for items of a list (LOSS_STAGES.0.LOSS) keep the list key.
  const segments = issue.path.map(String);
  const key = segments.join('.');
  let schemaKey = '';
  for (const s of segments) {
    const next = schemaKey === '' ? s : `${schemaKey}.${s}`;
    if (!allKeys().has(next)) break;
    schemaKey = next;
  }
  const node: JsonSchemaNode | undefined = allKeys().get(schemaKey)?.node;
  const given = getPath(raw, segments);
  const origin = origins.get(schemaKey);
  const from = origin === undefined ? '' : origin === 'command line' ? ' (from the command line)' : ` (from ${origin})`;
  let what: string;
  if (issue.code === 'unrecognized_keys') {
    return unknownKeyError(`${key === '' ? '' : `${key}.`}${issue.keys[0] ?? ''}`, origin);
  }
  const where = key === schemaKey ? '' : `item ${segments.slice(schemaKey.split('.').length).join('.')}: `;
  if (issue.code === 'invalid_value' && typeof given === 'string') {
    const values = issue.values.map(String);
    const suggestion = nearest(given, values);
    what = `${where}${JSON.stringify(given)} is not one of ${values.map((v) => JSON.stringify(v)).join(', ')}${suggestion ? `; did you mean ${JSON.stringify(suggestion)}?` : ''}`;
  } else if (['invalid_type', 'invalid_union', 'invalid_value', 'too_small', 'too_big'].includes(issue.code) && !(issue.code === 'too_small' && Array.isArray(given))) {
    const items = node?.items !== undefined && !Array.isArray(node.items) ? node.items : undefined;
    const typeNode = schemaKey === key ? node : segments.length === schemaKey.split('.').length + 1 ? items : undefined;
    const expected = typeNode ? describeType(typeNode) : issue.message.replace(/^Invalid (input|option): (expected )?/, '');
    what = `${where}expected ${expected}, got ${show(given)}`;
  } else {
    what = `${where}${issue.message}, got ${show(given)}`;
  }
  return configError(`${schemaKey || key}: ${what}${from}`, {
    key: schemaKey || key,
    ...(origin !== undefined && origin !== 'command line' ? { file: origin } : {}),
    hint: node?.description ? `${schemaKey || key}: ${node.description}` : 'see docs/config.md for the valid values',
  });
}

function isPlainObject(v: unknown): v is Raw {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function setPath(obj: Raw, key: string, value: unknown): void {
  const parts = key.split('.');
  let cur = obj;
  for (const p of parts.slice(0, -1)) {
    const next = cur[p];
    if (!isPlainObject(next)) cur[p] = {};
    cur = cur[p] as Raw;
  }
  cur[parts[parts.length - 1] as string] = value;
}

function getPath(obj: unknown, parts: readonly string[]): unknown {
  let cur: unknown = obj;
  for (const p of parts) {
    if (Array.isArray(cur)) cur = cur[Number(p)];
    else if (isPlainObject(cur)) cur = cur[p];
    else return undefined;
  }
  return cur;
}
