/** pdseg's pixel operations of AUG.RICH_CROP (augment.ts), on rendered float32 HWC images. */
import type { ImagePlane } from './planes.js';

/** OpenCV's sigma for a Gaussian kernel of size k when sigma is 0. */
export function gaussianSigma(k: number): number {
  return 0.3 * ((k - 1) * 0.5 - 1) + 0.8;
}

/** Gaussian blur with a k×k kernel (OpenCV's GaussianBlur(img, (k, k), 0): reflect-101 borders). */
export function gaussianBlur(img: ImagePlane & { data: Float32Array }, k: number): void {
  const { width: W, height: H, channels: C, data } = img;
  const r = (k - 1) / 2;
  const sigma = gaussianSigma(k);
  const kernel = new Float64Array(k);
  let sum = 0;
  for (let i = 0; i < k; i++) {
    kernel[i] = Math.exp(-((i - r) ** 2) / (2 * sigma * sigma));
    sum += kernel[i] as number;
  }
  for (let i = 0; i < k; i++) kernel[i] = (kernel[i] as number) / sum;
  const reflect = (i: number, n: number): number => {
    if (n === 1) return 0;
    while (i < 0 || i >= n) i = i < 0 ? -i : 2 * n - 2 - i;
    return i;
  };
  const tmp = new Float32Array(data.length);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      for (let c = 0; c < C; c++) {
        let acc = 0;
        for (let t = 0; t < k; t++) acc += (kernel[t] as number) * (data[(y * W + reflect(x + t - r, W)) * C + c] as number);
        tmp[(y * W + x) * C + c] = acc;
      }
    }
  }
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      for (let c = 0; c < C; c++) {
        let acc = 0;
        for (let t = 0; t < k; t++) acc += (kernel[t] as number) * (tmp[(reflect(y + t - r, H) * W + x) * C + c] as number);
        data[(y * W + x) * C + c] = acc;
      }
    }
  }
}

const clamp255 = (v: number): number => (v < 0 ? 0 : v > 255 ? 255 : v);
const gray = (d: Float32Array, o: number): number => 0.299 * (d[o] as number) + 0.587 * (d[o + 1] as number) + 0.114 * (d[o + 2] as number);

/** Saturation jitter: img·(1−a) + a·gray (colour channels only). */
export function saturationJitter(img: ImagePlane & { data: Float32Array }, a: number): void {
  const { data, channels: C } = img;
  if (C < 3) return;
  for (let o = 0; o < data.length; o += C) {
    const g = gray(data, o);
    for (let c = 0; c < 3; c++) data[o + c] = clamp255((data[o + c] as number) * (1 - a) + a * g);
  }
}

/** Brightness jitter: img·(1−a). */
export function brightnessJitter(img: ImagePlane & { data: Float32Array }, a: number): void {
  const { data, channels: C } = img;
  const cc = Math.min(3, C);
  for (let o = 0; o < data.length; o += C) for (let c = 0; c < cc; c++) data[o + c] = clamp255((data[o + c] as number) * (1 - a));
}

/** Contrast jitter: img·(1−a) + a·mean(gray). */
export function contrastJitter(img: ImagePlane & { data: Float32Array }, a: number): void {
  const { data, channels: C } = img;
  const cc = Math.min(3, C);
  let mean = 0;
  const n = data.length / C;
  for (let o = 0; o < data.length; o += C) mean += C >= 3 ? gray(data, o) : (data[o] as number);
  mean /= n;
  for (let o = 0; o < data.length; o += C) for (let c = 0; c < cc; c++) data[o + c] = clamp255((data[o + c] as number) * (1 - a) + a * mean);
}
