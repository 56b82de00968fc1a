/**
 * Backpropagation that frees memory as it goes, as PyTorch's autograd does.
 *
 * tfjs-core's `gradients` walks the tape backwards and keeps every node's incoming gradients (dy)
 * and every tensor saved for the backward pass until the walk ends, so a training step's peak holds
 * the saved activations and, on top, nearly as much again in gradients (at 2×512² on the torch
 * backend: 1.0 GB live at the end of the forward pass, 2.1 GB during the backward pass). A node's
 * dy and saved tensors are never read again once its own gradient has run: the walk visits each
 * node once, and tfjs saves a private clone per node (sharing the data) for its gradient alone.
 *
 * `releaseTapeEagerly()` wraps each tape node's gradient function as it is recorded; when the walk
 * calls the next node's gradient, the previous node's dys and saved tensors are disposed, except a
 * tensor its gradient returned as an input's gradient (which the walk accumulates). Nodes recorded
 * inside a nested gradient computation (gradients of gradients) are left alone, since their saved
 * tensors serve the outer one. The values computed are unchanged; only when memory is freed.
 */
import * as tf from '@tensorflow/tfjs-core';

/** The parts of tfjs-core's Engine and tape nodes used here (internal API of tfjs-core 4.x). */
interface TapeNode {
  saved?: tf.Tensor[];
  gradient?: (dys: tf.Tensor[]) => Record<string, () => tf.Tensor>;
}
interface EngineInternals {
  addTapeNode(kernelName: string, inputs: unknown, outputs: tf.Tensor[], gradientsFunc: unknown, saved: tf.Tensor[], attrs: unknown): void;
  state: { activeTape: TapeNode[] | null; gradientDepth: number };
}

/** The node whose gradient ran last, with what to free and what to keep. */
let pending: { tensors: tf.Tensor[]; returned: Set<tf.Tensor> } | undefined;

function releasePending(): void {
  const p = pending;
  pending = undefined;
  if (!p) return;
  for (const t of p.tensors) if (!p.returned.has(t) && !t.isDisposed) t.dispose();
}

/**
 * The gradient function of `node`, made to release the previously run node first and itself next.
 * Only dys made after the node's own outputs are released: the walk's, never one the caller of
 * `gradients` passed in.
 */
function releasing(node: TapeNode, outputs: readonly tf.Tensor[], gradient: NonNullable<TapeNode['gradient']>): TapeNode['gradient'] {
  const newest = Math.max(...outputs.map((o) => o.id));
  return (dys) => {
    releasePending();
    const fns = gradient(dys);
    const returned = new Set<tf.Tensor>();
    const wrapped: Record<string, () => tf.Tensor> = {};
    for (const [name, fn] of Object.entries(fns)) {
      wrapped[name] = () => {
        const dx = fn();
        returned.add(dx);
        return dx;
      };
    }
    pending = { tensors: [...dys.filter((d): d is tf.Tensor => d != null && d.id > newest), ...(node.saved ?? [])], returned };
    return wrapped;
  };
}

/** Switch for tests and measurements: nodes recorded while it is off keep tfjs's behaviour. */
export const tapeRelease = { enabled: true };

let installed = false;

/** Install the wrapping on tfjs-core's engine (once per process; a no-op on an unknown engine). */
export function releaseTapeEagerly(): void {
  if (installed) return;
  const engine = tf.engine() as unknown as Partial<EngineInternals>;
  const add = engine.addTapeNode;
  if (typeof add !== 'function' || engine.state === undefined) return;
  installed = true;
  const e = engine as EngineInternals;
  e.addTapeNode = function (this: EngineInternals, ...args: Parameters<EngineInternals['addTapeNode']>) {
    add.apply(this, args);
    const tape = this.state.activeTape;
    const node = tape?.[tape.length - 1];
    if (tapeRelease.enabled && node?.gradient && this.state.gradientDepth === 1) node.gradient = releasing(node, args[2], node.gradient);
  };
}
