/**
 * The optimisers of pdseg (reference §3), with their state kept explicitly so that a checkpoint
 * holds every slot and a resumed run continues exactly.
 *
 *   sgd   Momentum(MOMENTUM), non-Nesterov, Paddle's form:  v ← μ·v + g;  w ← w − lr·v
 *   adam  Adam(β1 = MOMENTUM, β2 = MOMENTUM2, ε = 1e-8):
 *         m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²;  w ← w − lr·m̂/(√v̂ + ε)
 * Both with coupled L2 weight decay, g ← g + WEIGHT_DECAY·w, applied to every trainable weight
 * except those `decays(name)` exempts (pdseg exempts the batch-norm scale and shift of the DeepLab
 * head, whose own L2 is 0).
 */
import * as tf from '@tensorflow/tfjs-core';
import { optimizerStep } from '../backend/kernels/optimizer.js';

export type OptimizerName = 'sgd' | 'adam';

/** Weights pdseg exempts from L2: the batch-norm scale/shift of the DeepLab head (not the backbone). */
export function decaysWeight(name: string): boolean {
  const isNorm = /\/(bn|gn|norm)[^/]*\/(gamma|beta)$/.test(name);
  return !(isNorm && !name.startsWith('backbone/'));
}

export interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}

export interface OptimizerOptions {
  name: OptimizerName;
  momentum: number;
  /** Adam's β2. */
  momentum2: number;
  weightDecay: number;
  epsilon?: number;
  /** Whether the weight called `name` gets L2 weight decay (default: all). */
  decays?: (name: string) => boolean;
}

interface Slot {
  name: string;
  variable: tf.Variable;
  m: tf.Variable;
  v: tf.Variable | undefined;
  decay: boolean;
}

export class Optimizer {
  readonly options: Readonly<OptimizerOptions>;
  private readonly slots: Slot[];
  private stepCount = 0;

  constructor(options: OptimizerOptions, params: ReadonlyArray<{ name: string; variable: tf.Variable }>) {
    this.options = { epsilon: 1e-8, ...options };
    const names = new Set<string>();
    this.slots = params.map(({ name, variable }) => {
      if (names.has(name)) throw new Error(`duplicate weight name ${name}`);
      names.add(name);
      return {
        name,
        variable,
        // Unnamed: tfjs names variables globally, and two optimisers may live in one process.
        m: tf.tidy(() => tf.variable(tf.zerosLike(variable), false)),
        v: options.name === 'adam' ? tf.tidy(() => tf.variable(tf.zerosLike(variable), false)) : undefined,
        decay: options.decays ? options.decays(name) : true,
      };
    });
  }

  /** Number of updates applied so far (Adam's bias correction uses it). */
  get step(): number {
    return this.stepCount;
  }

  /** Apply one update with learning rate `lr`; `grads` are keyed by weight name (missing = zero). */
  apply(grads: ReadonlyMap<string, tf.Tensor>, lr: number): void {
    const o = this.options;
    this.stepCount++;
    const t = this.stepCount;
    // seg's fused update kernel (one pass per weight) when the backend has it; the same formulas.
    const fused = tf.getKernel('SegOptimizerStep', tf.getBackend()) !== undefined;
    tf.tidy(() => {
      const bc1 = 1 - Math.pow(o.momentum, t);
      const bc2 = 1 - Math.pow(o.momentum2, t);
      for (const s of this.slots) {
        const g0 = grads.get(s.name);
        if (!g0) continue;
        if (fused) {
          const r = optimizerStep(s.variable, g0, s.m, s.v, {
            kind: o.name,
            lr,
            beta1: o.momentum,
            beta2: o.momentum2,
            epsilon: o.epsilon ?? 1e-8,
            bc1,
            bc2,
            weightDecay: s.decay ? o.weightDecay : 0,
          });
          s.variable.assign(r.w);
          s.m.assign(r.m);
          if (r.v && s.v) s.v.assign(r.v);
          continue;
        }
        const g = s.decay && o.weightDecay > 0 ? tf.add(g0, tf.mul(s.variable, o.weightDecay)) : g0;
        if (o.name === 'sgd') {
          const m = tf.add(tf.mul(s.m, o.momentum), g);
          s.m.assign(m);
          s.variable.assign(tf.sub(s.variable, tf.mul(m, lr)));
        } else {
          const v = s.v as tf.Variable;
          const m = tf.add(tf.mul(s.m, o.momentum), tf.mul(g, 1 - o.momentum));
          const vv = tf.add(tf.mul(v, o.momentum2), tf.mul(tf.square(g), 1 - o.momentum2));
          s.m.assign(m);
          v.assign(vv);
          const denom = tf.add(tf.sqrt(tf.div(vv, bc2)), o.epsilon ?? 1e-8);
          s.variable.assign(tf.sub(s.variable, tf.mul(tf.div(tf.div(m, bc1), denom), lr)));
        }
      }
    });
  }

  /** The state to checkpoint: every slot tensor, named `<weight>/m` and `<weight>/v`. */
  state(): { step: number; slots: NamedTensor[] } {
    const slots: NamedTensor[] = [];
    for (const s of this.slots) {
      slots.push({ name: `${s.name}/m`, tensor: s.m });
      if (s.v) slots.push({ name: `${s.name}/v`, tensor: s.v });
    }
    return { step: this.stepCount, slots };
  }

  /** Restore `state()`; every slot must be present with the right shape. */
  load(step: number, slots: ReadonlyArray<NamedTensor>): void {
    const byName = new Map(slots.map((s) => [s.name, s.tensor]));
    for (const s of this.slots) {
      for (const [suffix, target] of [['m', s.m], ['v', s.v]] as const) {
        if (!target) continue;
        const t = byName.get(`${s.name}/${suffix}`);
        if (!t) throw new Error(`optimizer state has no slot ${s.name}/${suffix}`);
        if (t.shape.join(',') !== target.shape.join(',')) {
          throw new Error(`optimizer slot ${s.name}/${suffix} has shape [${t.shape.join(', ')}], expected [${target.shape.join(', ')}]`);
        }
        target.assign(t);
      }
    }
    this.stepCount = step;
  }

  dispose(): void {
    for (const s of this.slots) {
      s.m.dispose();
      s.v?.dispose();
    }
  }
}
