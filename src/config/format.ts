/** Printing configs and values: YAML or JSON for `seg config`, and values inside error messages. */
import * as yaml from 'js-yaml';
import type { SegConfig } from './schema.js';

export function configToYaml(cfg: SegConfig): string {
  return yaml.dump(cfg, { lineWidth: 120, noRefs: true, flowLevel: 2 });
}

export function configToJson(cfg: SegConfig): string {
  return JSON.stringify(cfg);
}

/** Longest text of a value shown in a message; longer ones are cut with their length. */
const SHOW_LIMIT = 200;

/** A value as it appears in an error message: `"abc" (string)`, `None`, `[1,2] (list)`; long ones cut. */
export function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'None';
  if (typeof v === 'string') return v.length > SHOW_LIMIT ? `${JSON.stringify(v.slice(0, SHOW_LIMIT))}… (string of ${v.length} characters)` : `${JSON.stringify(v)} (string)`;
  if (typeof v === 'number') return `${v} (number)`;
  if (typeof v === 'boolean') return `${v ? 'True' : 'False'} (boolean)`;
  return `${brief(v)} (${Array.isArray(v) ? 'list' : 'mapping'})`;
}

/** JSON of a list or mapping, written only up to SHOW_LIMIT characters (never the whole of a huge value). */
function brief(v: unknown): string {
  let out = '';
  const full = (): boolean => out.length > SHOW_LIMIT;
  const write = (x: unknown): void => {
    if (typeof x !== 'object' || x === null) {
      out += JSON.stringify(x) ?? 'null';
      return;
    }
    const list = Array.isArray(x);
    out += list ? '[' : '{';
    let first = true;
    for (const k in x) {
      if (full()) return;
      out += `${first ? '' : ','}${list ? '' : `${JSON.stringify(k)}:`}`;
      first = false;
      write((x as Record<string, unknown>)[k]);
    }
    out += list ? ']' : '}';
  };
  write(v);
  return full() ? `${out.slice(0, SHOW_LIMIT)}…` : out;
}
