/**
 * Creating the model's variables: hierarchical names, seeded initialisation.
 *
 * Each variable's initial value is drawn with a seed derived from the model seed and a hash of
 * the variable's name (deriveSeed), so the same seed gives the same weights, and a weight's
 * initial value does not depend on which other layers the config builds.
 */
import * as tf from '@tensorflow/tfjs-core';
import { deriveSeed } from '../util/rng.js';
import type { NamedVariable } from './types.js';

/** FNV-1a hash of a string (32 bits). */
export function hashName(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

interface Shared {
  list: NamedVariable[];
  names: Set<string>;
}

export class VariableStore {
  private constructor(
    private readonly seed: number,
    private readonly prefix: string,
    private readonly shared: Shared,
  ) {}

  /** A store for a model whose initialisation derives from `seed`. */
  static create(seed: number): VariableStore {
    return new VariableStore(seed >>> 0, '', { list: [], names: new Set() });
  }

  /** A view that prefixes names with `name/`. */
  scope(name: string): VariableStore {
    return new VariableStore(this.seed, `${this.prefix}${name}/`, this.shared);
  }

  /** Every variable created so far (all scopes), in creation order. */
  get variables(): readonly NamedVariable[] {
    return this.shared.list;
  }

  /** The seed of the variable called `name` in this scope (never 0: tfjs treats seed 0 as "unseeded"). */
  seedFor(name: string): number {
    return deriveSeed(this.seed, hashName(this.prefix + name)) || 1;
  }

  private add(name: string, init: () => tf.Tensor, trainable: boolean): tf.Variable {
    const full = this.prefix + name;
    if (this.shared.names.has(full)) throw new Error(`duplicate weight name ${full}`);
    this.shared.names.add(full);
    // tfjs variable names are process-global, so the tfjs name stays automatic; ours is in NamedVariable.
    const variable = tf.tidy(() => tf.variable(init(), trainable));
    this.shared.list.push({ name: full, variable, trainable });
    return variable;
  }

  /** He initialisation, N(0, 2/fanIn) untruncated: Paddle's default conv initialiser, which pdseg's convs get. */
  heNormal(name: string, shape: readonly number[], fanIn: number): tf.Variable {
    const std = Math.sqrt(2 / fanIn);
    return this.add(name, () => tf.randomNormal([...shape], 0, std, 'float32', this.seedFor(name)), true);
  }

  /** Truncated normal initialisation with standard deviation `std`. */
  truncatedNormal(name: string, shape: readonly number[], std: number): tf.Variable {
    return this.add(name, () => tf.truncatedNormal([...shape], 0, std, 'float32', this.seedFor(name)), true);
  }

  zeros(name: string, shape: readonly number[], trainable = true): tf.Variable {
    return this.add(name, () => tf.zeros([...shape]), trainable);
  }

  ones(name: string, shape: readonly number[], trainable = true): tf.Variable {
    return this.add(name, () => tf.ones([...shape]), trainable);
  }
}
