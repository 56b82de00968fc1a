/**
 * Introspection of the schema: the tree of config keys, their defaults, types and descriptions,
 * read from zod's JSON Schema so that nothing here repeats the schema.
 */
import { z } from 'zod';
import { ConfigSchema } from './schema.js';

/** The subset of JSON Schema that zod emits for this schema. */
export interface JsonSchemaNode {
  type?: string | string[];
  description?: string;
  default?: unknown;
  properties?: Record<string, JsonSchemaNode>;
  additionalProperties?: boolean | JsonSchemaNode;
  items?: JsonSchemaNode | JsonSchemaNode[];
  prefixItems?: JsonSchemaNode[];
  anyOf?: JsonSchemaNode[];
  oneOf?: JsonSchemaNode[];
  allOf?: JsonSchemaNode[];
  enum?: unknown[];
  const?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minItems?: number;
  maxItems?: number;
  maxLength?: number;
  pattern?: string;
}

export interface KeyInfo {
  /** Dotted path, e.g. `SOLVER.LOSS_WEIGHT.BCE_LOSS`. */
  key: string;
  /** True for sections (mappings of keys); false for leaves. */
  section: boolean;
  node: JsonSchemaNode;
}

let cachedRoot: JsonSchemaNode | undefined;

export function rootSchema(): JsonSchemaNode {
  cachedRoot ??= z.toJSONSchema(ConfigSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchemaNode;
  return cachedRoot;
}

const isSection = (n: JsonSchemaNode): boolean => n.type === 'object' && n.properties !== undefined;

let cachedKeys: Map<string, KeyInfo> | undefined;

/** Every key of the config, sections included, in schema order. */
export function allKeys(): Map<string, KeyInfo> {
  if (cachedKeys) return cachedKeys;
  const out = new Map<string, KeyInfo>();
  const walk = (node: JsonSchemaNode, prefix: string): void => {
    for (const [name, child] of Object.entries(node.properties ?? {})) {
      const key = prefix === '' ? name : `${prefix}.${name}`;
      const section = isSection(child);
      out.set(key, { key, section, node: child });
      if (section) walk(child, key);
    }
  };
  walk(rootSchema(), '');
  cachedKeys = out;
  return out;
}

export const leafKeys = (): string[] => [...allKeys().values()].filter((k) => !k.section).map((k) => k.key);

/** A human description of the type a JSON Schema node accepts, e.g. `integer > 0` or `one of "a", "b"`. */
export function describeType(node: JsonSchemaNode): string {
  if (node.anyOf ?? node.oneOf) return (node.anyOf ?? node.oneOf ?? []).map(describeType).join(' or ');
  if (node.const !== undefined) return JSON.stringify(node.const);
  if (node.enum) return `one of ${node.enum.map((v) => JSON.stringify(v)).join(', ')}`;
  const t = Array.isArray(node.type) ? node.type.join(' or ') : node.type;
  switch (t) {
    case 'integer':
    case 'number': {
      const max = node.maximum !== undefined && node.maximum < Number.MAX_SAFE_INTEGER ? node.maximum : undefined;
      // An integer > 0 is >= 1: with a maximum, say it as a range.
      const min = node.minimum !== undefined && node.minimum > -Number.MAX_SAFE_INTEGER ? node.minimum : t === 'integer' && node.exclusiveMinimum !== undefined ? node.exclusiveMinimum + 1 : undefined;
      if (min !== undefined && max !== undefined) return `${t} from ${min} to ${max}`;
      const bounds: string[] = [];
      if (node.exclusiveMinimum !== undefined) bounds.push(`> ${node.exclusiveMinimum}`);
      else if (min !== undefined) bounds.push(`>= ${min}`);
      if (max !== undefined) bounds.push(`<= ${max}`);
      if (node.exclusiveMaximum !== undefined) bounds.push(`< ${node.exclusiveMaximum}`);
      return [t, ...bounds].join(' ');
    }
    case 'boolean':
      return 'boolean (True/False)';
    case 'null':
      return 'None';
    case 'string':
      return node.pattern ? `string matching ${node.pattern}` : node.maxLength !== undefined ? `string of at most ${node.maxLength} characters` : 'string';
    case 'array': {
      const items = Array.isArray(node.items) ? undefined : node.items;
      return items ? `list of ${plural(describeType(items))}` : 'list';
    }
    case 'object':
      return 'mapping';
    default:
      return 'value';
  }
}

const plural = (s: string): string => (/^(integer|number|string|boolean)/.test(s) ? s.replace(/^(\w+)/, '$1s') : s);

/** The default of a key, from the schema (undefined for keys without one). */
export function defaultOf(key: string): unknown {
  return allKeys().get(key)?.node.default;
}
