/**
 * Gradients seg registers in place of tfjs-core's, once kernels are registered for a backend.
 *
 * Conv2D, DepthwiseConv2dNative: tfjs-core's gradients refuse dilation rates > 1. seg's backprop
 * kernels (conv.ts, depthwise.ts) handle dilation, so these gradients pass `dilations` on to them
 * and atrous convolutions can be trained directly. With dilation 1 they run exactly the kernels
 * the stock gradients run. On a backend without seg's kernels a dilated gradient still throws.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { NamedAttrMap, NamedTensorMap, Tensor } from '@tensorflow/tfjs-core';

type Pair = number | [number, number];

function allOne(v: unknown): boolean {
  if (v == null) return true;
  if (typeof v === 'number') return v === 1;
  return Array.isArray(v) && v.every((d) => d === 1);
}

function run(name: string, inputs: NamedTensorMap, attrs: NamedAttrMap): Tensor {
  const out = tf.engine().runKernel(name, inputs, attrs);
  if (Array.isArray(out)) throw new Error(`seg gradients: ${name} returned several outputs`);
  return out as Tensor;
}

let registered = false;

/**
 * Register the gradients once per process. `hasSegKernels(name)` tells whether seg's kernels
 * are registered for backend `name` (the dilated path needs them).
 */
export function registerSegGradients(hasSegKernels: (backendName: string) => boolean): void {
  if (registered) return;
  registered = true;

  const checkDilation = (op: string, dilations: unknown): void => {
    if (!allOne(dilations) && !hasSegKernels(tf.getBackend())) {
      throw new Error(`Error in gradient of ${op}: dilation rates greater than 1 need seg's kernels, which are not registered for the ${tf.getBackend()} backend`);
    }
  };

  tf.registerGradient({
    kernelName: 'Conv2D',
    inputsToSave: ['x', 'filter'],
    gradFunc: (dy, saved, attrs) => {
      const [x, filter] = saved as [Tensor, Tensor];
      const { dilations, strides, pad, dataFormat, dimRoundingMode } = attrs as Record<string, unknown>;
      checkDilation('conv2D', dilations);
      const common: NamedAttrMap = { strides: strides as Pair, pad: pad as string, dataFormat: (dataFormat ?? 'NHWC') as string };
      if (dimRoundingMode != null) common['dimRoundingMode'] = dimRoundingMode as string;
      if (!allOne(dilations)) common['dilations'] = dilations as Pair;
      return {
        x: () => run('Conv2DBackpropInput', { dy: dy as Tensor, filter }, { ...common, inputShape: x.shape }),
        filter: () => run('Conv2DBackpropFilter', { x, dy: dy as Tensor }, { ...common, filterShape: filter.shape }),
      };
    },
  });

  tf.registerGradient({
    kernelName: 'DepthwiseConv2dNative',
    inputsToSave: ['x', 'filter'],
    gradFunc: (dy, saved, attrs) => {
      const [x, filter] = saved as [Tensor, Tensor];
      const { dilations, strides, pad, dimRoundingMode } = attrs as Record<string, unknown>;
      checkDilation('depthwiseConv2dNative', dilations);
      const common: NamedAttrMap = { strides: strides as Pair, pad: pad as string, dilations: (dilations ?? [1, 1]) as Pair };
      if (dimRoundingMode != null) common['dimRoundingMode'] = dimRoundingMode as string;
      return {
        x: () => run('DepthwiseConv2dNativeBackpropInput', { dy: dy as Tensor, filter }, { ...common, inputShape: x.shape }),
        filter: () => run('DepthwiseConv2dNativeBackpropFilter', { x, dy: dy as Tensor }, { ...common, filterShape: filter.shape }),
      };
    },
  });
}
