/** Printing configs and values: YAML or JSON for `seg config`, and values inside error messages. */
import * as yaml from 'js-yaml';
import type { SegConfig } from './schema.js';

export function configToYaml(cfg: SegConfig): string {
  return yaml.dump(cfg, { lineWidth: 120, noRefs: true, flowLevel: 2 });
}

export function configToJson(cfg: SegConfig): string {
  return JSON.stringify(cfg);
}

/** A value as it appears in an error message: `"abc" (string)`, `None`, `[1,2] (list)`. */
export function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'None';
  if (typeof v === 'string') return `${JSON.stringify(v)} (string)`;
  if (typeof v === 'number') return `${v} (number)`;
  if (typeof v === 'boolean') return `${v ? 'True' : 'False'} (boolean)`;
  if (Array.isArray(v)) return `${JSON.stringify(v)} (list)`;
  return `${JSON.stringify(v)} (mapping)`;
}
