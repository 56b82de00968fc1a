/** Images and labels as the augmentation sees them: interleaved typed arrays with their size. */

/** Interleaved pixels, HWC. */
export type Pixels = Uint8Array | Uint8ClampedArray | Float32Array;
/** One class index per pixel. */
export type LabelValues = Uint8Array | Uint16Array | Int32Array;

/** An image plane: `channels` interleaved values per pixel, row-major. */
export interface ImagePlane {
  data: Pixels;
  width: number;
  height: number;
  channels: number;
}

/** A label plane (same width and height as its image). */
export interface LabelPlane {
  data: LabelValues;
  width: number;
  height: number;
}
