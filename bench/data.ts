/**
 * Data-loader benchmark: training samples per second, decoded (sharp JPEG + fast-png label) and
 * augmented (pdseg's road pipeline: stepscaling 0.5-2.0, FLIP, MIRROR, random crop), at 512×512 and
 * 769×769 crops, with 0 (main thread), 1 and 2 worker threads.
 *
 *   node dist/bench/data.js [--images 8] [--size 1024] [--samples 48] [--workers 0,1,2] [--crops 512,769] [--rich]
 *
 * Besides the table it prints one `RESULT {json}` line, {rates: {crop: {workers: images/s}}, ...},
 * which bench.ts reads for its "loader img/s" column.
 *
 * The images are generated once in a temporary folder: --images textured 1024×1024 JPEGs
 * (DeepGlobe tiles are 1024×1024) with 0/1 PNG road masks. Each measurement runs --samples
 * samples after one warm-up batch (worker start-up excluded), through DataLoader.trainBatches,
 * so it includes batching and normalisation on the main thread. Timing on a shared VM is noisy:
 * the load average is printed. Never run by the tests.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigSchema, type SegConfig } from '../src/config/schema.js';
import { DataLoader } from '../src/data/loader.js';
import { writeImage, writeLabelPng } from '../src/data/image_io.js';
import { Rng } from '../src/util/rng.js';
import { printResult } from './cli.js';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? (process.argv[i + 1] as string) : def;
}
const nums = (s: string): number[] => s.split(',').map(Number);

async function makeImages(dir: string, n: number, size: number): Promise<void> {
  const lines: string[] = [];
  for (let k = 0; k < n; k++) {
    const rng = new Rng(k);
    const rgb = new Uint8Array(size * size * 3);
    const lab = new Uint8Array(size * size);
    const fx = rng.uniform(0.01, 0.05);
    const fy = rng.uniform(0.01, 0.05);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const i = y * size + x;
        const road = Math.abs(((x + 2 * y + k * 37) % 160) - 80) < 5 || Math.abs(((3 * x - y) % 220) - 110) < 4;
        const t = 30 * Math.sin(x * fx) * Math.cos(y * fy);
        rgb[i * 3] = Math.max(0, Math.min(255, (road ? 190 : 90) + t + rng.normal() * 12));
        rgb[i * 3 + 1] = Math.max(0, Math.min(255, (road ? 185 : 110) + t + rng.normal() * 12));
        rgb[i * 3 + 2] = Math.max(0, Math.min(255, (road ? 170 : 70) + t + rng.normal() * 12));
        lab[i] = road ? 1 : 0;
      }
    }
    await writeImage(path.join(dir, 'images', `${k}_sat.jpg`), { data: rgb, width: size, height: size, channels: 3 });
    await writeLabelPng(path.join(dir, 'labels', `${k}_mask.png`), lab, size, size);
    lines.push(`images/${k}_sat.jpg|labels/${k}_mask.png`);
  }
  fs.writeFileSync(path.join(dir, 'train.txt'), `${lines.join('\n')}\n`);
}

function config(dir: string, crop: number, batch: number, rich: boolean): SegConfig {
  const cfg = ConfigSchema.parse({
    TRAIN_CROP_SIZE: [crop, crop],
    EVAL_CROP_SIZE: [1025, 1025],
    BATCH_SIZE: batch,
    DATASET: { DATA_DIR: dir, TRAIN_FILE_LIST: path.join(dir, 'train.txt'), VAL_FILE_LIST: path.join(dir, 'train.txt'), NUM_CLASSES: 2, SEPARATOR: '|' },
    AUG: { AUG_METHOD: 'stepscaling', MIN_SCALE_FACTOR: 0.5, MAX_SCALE_FACTOR: 2.0, SCALE_STEP_SIZE: 0.25, FLIP: true, MIRROR: true, RICH_CROP: { ENABLE: rich } },
  });
  cfg.DATASET.PADDING_VALUE = cfg.MEAN.map((m) => m * 255);
  return cfg;
}

async function measure(cfg: SegConfig, workers: number, samples: number): Promise<number> {
  const loader = new DataLoader(cfg, { workers });
  const B = cfg.BATCH_SIZE;
  const n = cfg.DATASET.TRAIN_TOTAL_IMAGES;
  const perEpoch = Math.floor(n / B) * B;
  try {
    // Warm-up (starts the workers, loads sharp in them).
    for await (const _b of loader.trainBatches({ seed: 1, epoch: 0 })) break;
    let done = 0;
    const t0 = process.hrtime.bigint();
    for (let epoch = 1; done < samples; epoch++) {
      for await (const b of loader.trainBatches({ seed: 1, epoch })) {
        done += b.n;
        if (done >= samples) break;
      }
      if (perEpoch === 0) break;
    }
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    return done / secs;
  } finally {
    await loader.close();
  }
}

async function main(): Promise<void> {
  const images = Number(arg('images', '8'));
  const size = Number(arg('size', '1024'));
  const samples = Number(arg('samples', '48'));
  const workerList = nums(arg('workers', '0,1,2'));
  const crops = nums(arg('crops', '512,769'));
  const rich = process.argv.includes('--rich');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seg-bench-data-'));
  try {
    process.stderr.write(`generating ${images} ${size}x${size} JPEG/PNG pairs in ${dir}\n`);
    await makeImages(dir, images, size);
    const load = os.loadavg().map((v) => v.toFixed(2)).join(' ');
    const rows: string[] = [];
    const rates: Record<string, Record<string, number>> = {};
    for (const crop of crops) {
      const cells: string[] = [];
      for (const w of workerList) {
        const cfg = config(dir, crop, 4, rich);
        cfg.DATASET.TRAIN_TOTAL_IMAGES = images;
        const rate = await measure(cfg, w, samples);
        process.stderr.write(`crop ${crop}, workers ${w}: ${rate.toFixed(1)} images/s\n`);
        cells.push(rate.toFixed(1));
        (rates[String(crop)] ??= {})[String(w)] = rate;
      }
      rows.push(`| ${crop}×${crop} | ${cells.join(' | ')} |`);
    }
    const out = [
      `Data loader: samples/s decoded + augmented (${size}×${size} JPEG + PNG mask, stepscaling 0.5-2.0, flip, mirror${rich ? ', rich crop' : ''}, random crop, batch 4)`,
      `CPUs: ${os.cpus().length} (${os.cpus()[0]?.model ?? '?'}), load average before: ${load}`,
      '',
      `| crop | ${workerList.map((w) => (w === 0 ? 'main thread' : `${w} worker${w > 1 ? 's' : ''}`)).join(' | ')} |`,
      `|---|${workerList.map(() => '---').join('|')}|`,
      ...rows,
    ];
    process.stdout.write(`${out.join('\n')}\n`);
    printResult({ images, size, samples, rich, loadBefore: load, rates });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
