/**
 * The convolution and resize cases every registered kernel is checked on: the strides, paddings,
 * dilations and odd sizes DeepLabv3+/MobileNetV2 uses (stride-2 'same' with asymmetric padding,
 * pointwise, atrous depthwise), plus explicit padding, 'valid', channel multipliers and non-square
 * filters and strides.
 */
type Pad = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];

export interface ConvCase {
  name: string;
  x: [number, number, number, number];
  /** [KH, KW, Cin, Cout] for dense, [KH, KW, C, multiplier] for depthwise. */
  w: [number, number, number, number];
  strides: [number, number];
  pad: Pad;
  dilations: [number, number];
}

export const DENSE_CASES: readonly ConvCase[] = [
  { name: '3x3 s2 same, odd size', x: [2, 7, 9, 3], w: [3, 3, 3, 5], strides: [2, 2], pad: 'same', dilations: [1, 1] },
  { name: '3x3 s2 same, even size (asymmetric pad)', x: [2, 8, 8, 4], w: [3, 3, 4, 6], strides: [2, 2], pad: 'same', dilations: [1, 1] },
  { name: '1x1 s1 pointwise', x: [2, 6, 5, 8], w: [1, 1, 8, 7], strides: [1, 1], pad: 'same', dilations: [1, 1] },
  { name: '1x1 s1 pointwise, wide output', x: [1, 4, 3, 3], w: [1, 1, 3, 9], strides: [1, 1], pad: 'valid', dilations: [1, 1] },
  { name: '1x1 s2 strided', x: [1, 7, 6, 5], w: [1, 1, 5, 4], strides: [2, 2], pad: 'same', dilations: [1, 1] },
  { name: '3x3 s1 valid', x: [2, 5, 6, 3], w: [3, 3, 3, 4], strides: [1, 1], pad: 'valid', dilations: [1, 1] },
  { name: '2x3 stride [2,1] explicit pad', x: [1, 9, 7, 2], w: [2, 3, 2, 3], strides: [2, 1], pad: [[0, 0], [1, 0], [2, 1], [0, 0]], dilations: [1, 1] },
  { name: '3x3 dilation 2 same', x: [1, 9, 8, 3], w: [3, 3, 3, 4], strides: [1, 1], pad: 'same', dilations: [2, 2] },
  { name: '3x3 dilation [2,3] valid', x: [2, 10, 11, 2], w: [3, 3, 2, 3], strides: [1, 1], pad: 'valid', dilations: [2, 3] },
];

export const DEPTHWISE_CASES: readonly ConvCase[] = [
  { name: 'dw 3x3 s2 same, odd size', x: [2, 7, 9, 6], w: [3, 3, 6, 1], strides: [2, 2], pad: 'same', dilations: [1, 1] },
  { name: 'dw 3x3 s2 same, even size (asymmetric pad)', x: [2, 8, 8, 5], w: [3, 3, 5, 1], strides: [2, 2], pad: 'same', dilations: [1, 1] },
  { name: 'dw 3x3 s1 same', x: [1, 6, 5, 4], w: [3, 3, 4, 1], strides: [1, 1], pad: 'same', dilations: [1, 1] },
  { name: 'dw 5x5 s1 valid, multiplier 2', x: [1, 7, 7, 3], w: [5, 5, 3, 2], strides: [1, 1], pad: 'valid', dilations: [1, 1] },
  { name: 'dw 3x3 s2 explicit pad, multiplier 3', x: [2, 9, 8, 2], w: [3, 3, 2, 3], strides: [2, 2], pad: [[0, 0], [0, 1], [1, 1], [0, 0]], dilations: [1, 1] },
  { name: 'dw 3x3 dilation 2 same (atrous)', x: [2, 9, 9, 4], w: [3, 3, 4, 1], strides: [1, 1], pad: 'same', dilations: [2, 2] },
  { name: 'dw 3x3 dilation 6 same, rate larger than half the map', x: [1, 8, 10, 3], w: [3, 3, 3, 1], strides: [1, 1], pad: 'same', dilations: [6, 6] },
  { name: 'dw 3x3 dilation [3,2] valid', x: [1, 11, 9, 2], w: [3, 3, 2, 1], strides: [1, 1], pad: 'valid', dilations: [3, 2] },
];

export interface ResizeCase {
  name: string;
  x: [number, number, number, number];
  size: [number, number];
  alignCorners: boolean;
  halfPixelCenters: boolean;
}

export const RESIZE_CASES: readonly ResizeCase[] = [
  { name: 'x4 half-pixel, square', x: [2, 4, 4, 3], size: [16, 16], alignCorners: false, halfPixelCenters: true },
  { name: 'half-pixel, non-square, non-integer scale', x: [2, 5, 6, 3], size: [17, 23], alignCorners: false, halfPixelCenters: true },
  { name: 'half-pixel downsample', x: [1, 9, 7, 2], size: [4, 3], alignCorners: false, halfPixelCenters: true },
  { name: 'align corners, non-square', x: [1, 5, 6, 2], size: [9, 11], alignCorners: true, halfPixelCenters: false },
  { name: 'legacy, square', x: [2, 5, 5, 2], size: [10, 10], alignCorners: false, halfPixelCenters: false },
  { name: 'legacy, non-square', x: [1, 3, 5, 4], size: [7, 12], alignCorners: false, halfPixelCenters: false },
];
