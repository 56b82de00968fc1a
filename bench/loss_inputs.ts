/**
 * Synthetic logits and labels for the loss benchmarks (losses.ts, lovasz_share.ts), and timing
 * helpers. Never used by the tests.
 *
 * Scenarios: logits N(0, 2²) with labels uniform over the classes ('random': every class present,
 * the worst case for Lovász-Softmax, which sorts once per present class); 'voc': background plus
 * two object classes per image, as rectangles (VOC images show 1-3 classes); 'trained': uniform
 * labels, with logits that agree with the labels on 90% of the pixels by a margin > 1, as late in
 * training. Binary labels (C = 1) are 5% foreground (MiniDeepGlobe roads: 4.5%); 3% of all pixels
 * are ignored (255).
 */
import { Rng } from '../src/util/rng.js';

export type Scenario = 'random' | 'trained' | 'voc';
export const SCENARIOS: readonly Scenario[] = ['random', 'trained', 'voc'];

/** Logits [N, H, W, C] and labels [N, H, W] as typed arrays. */
export function makeLossInputs(N: number, H: number, W: number, C: number, scenario: Scenario, seed: number): { logits: Float32Array; labels: Int32Array } {
  const rng = new Rng(seed);
  const P = N * H * W;
  const labels = new Int32Array(P);
  const logits = new Float32Array(P * C);
  const boxes = Array.from({ length: N }, () =>
    Array.from({ length: 2 }, () => {
      const w = rng.int(W >> 3, W >> 1);
      const h = rng.int(H >> 3, H >> 1);
      const x0 = rng.int(0, W - w);
      const y0 = rng.int(0, H - h);
      return { c: rng.int(1, Math.max(1, C - 1)), x0, y0, x1: x0 + w, y1: y0 + h };
    }),
  );
  for (let j = 0; j < P; j++) {
    let y: number;
    if (rng.random() < 0.03) y = 255;
    else if (C === 1) y = rng.random() < 0.05 ? 1 : 0;
    else if (scenario === 'voc') {
      const n = Math.floor(j / (H * W));
      const r = Math.floor((j % (H * W)) / W);
      const col = j % W;
      y = 0;
      for (const b of boxes[n] ?? []) if (r >= b.y0 && r < b.y1 && col >= b.x0 && col < b.x1) y = b.c;
    } else y = rng.int(0, C - 1);
    labels[j] = y;
    const agree = scenario === 'trained' && y !== 255 && rng.random() < 0.9;
    for (let c = 0; c < C; c++) {
      let z = 2 * rng.normal();
      if (agree) {
        // Late in training: the right class wins by a margin (> 1 for the one-channel hinge).
        if (C === 1) z = (y === 1 ? 1 : -1) * (1.5 + Math.abs(z));
        else if (c === y) z = 4 + Math.abs(z);
      }
      logits[j * C + c] = z;
    }
  }
  return { logits, labels };
}

export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

/** Wall-clock and CPU milliseconds (this process, all threads) of one run of `f`. */
export function timed(f: () => void): { wall: number; cpu: number } {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  f();
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { wall, cpu: (c.user + c.system) / 1000 };
}

export interface Timing {
  /** Median wall-clock ms. */
  wall: number;
  /** Median CPU ms of this process (less sensitive to other processes on a shared machine). */
  cpu: number;
}

export function medians(ts: ReadonlyArray<{ wall: number; cpu: number }>): Timing {
  return { wall: median(ts.map((t) => t.wall)), cpu: median(ts.map((t) => t.cpu)) };
}
