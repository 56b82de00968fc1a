/**
 * `npm run bench`: ms per training step of DeepLabv3+/MobileNetV2 on every path available here,
 * side by side with PyTorch, as ONE table.
 *
 *   node dist/bench/bench.js [--sizes 256,512] [--batch 2] [--warmup 5] [--reps 7]
 *                            [--paths torch,torch-malloc,seg-torch,wasm,wasm-threads2,cpu,tensorflow] [--json <file>]
 *                            [--timeout <s per run>] [--no-lovasz] [--no-loader] [--use-mpio]
 *                            [--lovasz-classes 21] [--lovasz-scenario random|trained|voc] [--no-loop]
 *
 * Each (path, size) runs in its own process (bench/step.ts, or bench/torch_step.py under
 * /usr/bin/python3 when it has torch), so peak RSS is per run and one crash (e.g. the 4 GB wasm
 * heap) does not end the benchmark. Where the wasm heap cannot hold the batch, the run is repeated
 * with micro-batches (gradients of batch/k images summed, then one update) and the table says so.
 * `torch` is PyTorch (the reference) as it runs by default; `torch-malloc` is the same run with glibc's
 * malloc told to keep freed memory (TORCH_MALLOC_TUNABLES): on this VM every first touch of fresh
 * memory costs ≈ 3 ms/MiB, and PyTorch's 512² step is 5–6× faster so. seg-torch keeps its memory from
 * inside (mallopt, and a caching allocator for libtorch: native/seg-torch/src/alloc.cc).
 * The ×torch column is the ratio to the faster of the two at that size. `seg-torch` is seg's optional
 * libtorch addon (`--backend torch`, src/backend/native), measured where it is installed.
 * `wasm-threadsN` is the opt-in threaded wasm build with N threads (src/backend/kernels/wasm/threads.ts).
 * The `cpu` path (pure JS, ~80 s/step at 256²) only runs when named in --paths.
 *
 * The two right-hand columns:
 *   Lovász share   forward + backward of lovasz_hinge_loss (1-channel head) and of
 *                  lovasz_softmax_loss (--lovasz-classes, 21 by default: VOC) on the step's batch
 *                  and crop, on the same path (backend, threads), as a % of that path's measured
 *                  step (wall clock, medians): bench/lovasz_share.ts, one process per (path, size).
 *   loader img/s   training samples per second decoded + augmented by src/data's loader at the
 *                  crop size (bench/data.ts: 1024² JPEG + PNG, pdseg's road augmentation), with the
 *                  worker count `seg train` uses (defaultWorkers: 0 = the main thread, or
 *                  DATALOADER.NUM_WORKERS capped at the CPU count with --use-mpio). The loader does
 *                  not depend on the compute backend: one measurement per size, shown on every seg row.
 *   seg train      `seg train`'s steady-state step (bench/loop.ts: a real process on generated
 *                  JPEG/PNG data, loader, loss assembly, optimiser and logging included), and its
 *                  ratio to the bare step of the same path;
 *   seg eval       `seg eval`'s images/s at the crop size, and its pixels/s over training's.
 *
 * Every path gets the same 5 warm-up steps, then the median of 7: a steady state, as a training run
 * sees it (seg-torch's caching allocator and oneDNN's primitive cache, PyTorch's, fill over the
 * first steps; with 2 warm-up steps seg-torch's 2×256² median read 239 ms where 8 gave 203).
 * Timing on a shared 2-core VM is noisy: the load average before the runs is printed; do not run
 * anything else meanwhile.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigSchema } from '../src/config/schema.js';
import { defaultWorkers } from '../src/data/loader.js';
import { loadTorchAddon } from '../src/backend/native/addon.js';
import { flagReader, parseResult } from './cli.js';
import type { LoopResult } from './loop.js';

const HERE = path.dirname(fileURLToPath(import.meta.url)); // dist/bench
const REPO = path.resolve(HERE, '..', '..');
const PYTHON = '/usr/bin/python3';
/**
 * glibc's tunables for the `torch-malloc` path: what an environment variable alone can do for PyTorch
 * (seg-torch's mallopt settings, and mmap off, which for PyTorch stands in for seg-torch's caching
 * allocator: large blocks stay in the heap instead of being mapped and unmapped at each use).
 */
export const TORCH_MALLOC_TUNABLES = 'glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=1073741824:glibc.malloc.top_pad=67108864';
/** The PyTorch paths (bench/torch_step.py): the reference rows. */
const PYTORCH_PATHS = ['torch', 'torch-malloc'];

/** One run's result, as printed by step.ts / torch_step.py on their RESULT line. */
export interface RunResult {
  path: string;
  description: string;
  size: number;
  batch: number;
  micro: number;
  reps: number;
  medianMs: number;
  minMs: number;
  maxMs: number;
  times: number[];
  peakRssMB: number;
  params: number;
  model: string;
  loss: number;
}

/** One lovasz_share.ts result. */
export interface LovaszShare {
  hingeMs: number;
  softmaxMs: number;
  classes: number;
  scenario: string;
}

interface Cell {
  result?: RunResult;
  lovasz?: LovaszShare;
  /** seg train's loop and seg eval on the same path (loop.ts). */
  loop?: LoopResult;
  /** Why there is no result (not installed, failed, skipped). */
  note?: string;
}

interface Args {
  sizes: number[];
  batch: number;
  warmup: number;
  reps: number;
  paths: string[];
  json: string | undefined;
  timeoutS: number;
  lovasz: boolean;
  loader: boolean;
  loop: boolean;
  useMpio: boolean;
  lovaszClasses: number;
  lovaszScenario: string;
}

function parseArgs(argv: string[]): Args {
  const { get } = flagReader(argv);
  const list = (v: string | undefined, d: string): string[] => (v ?? d).split(',').map((s) => s.trim()).filter(Boolean);
  return {
    sizes: list(get('sizes'), '256,512').map(Number),
    batch: Number(get('batch') ?? 2),
    warmup: Number(get('warmup') ?? 5),
    reps: Number(get('reps') ?? 7),
    paths: list(get('paths'), 'torch,torch-malloc,seg-torch,wasm,wasm-threads2,tensorflow'),
    json: get('json'),
    timeoutS: Number(get('timeout') ?? 1800),
    lovasz: !argv.includes('--no-lovasz'),
    loader: !argv.includes('--no-loader'),
    loop: !argv.includes('--no-loop'),
    useMpio: argv.includes('--use-mpio'),
    lovaszClasses: Number(get('lovasz-classes') ?? 21),
    lovaszScenario: get('lovasz-scenario') ?? 'random',
  };
}

function lastError(out: string): string {
  const lines = out.split('\n').filter((l) => l.trim() !== '');
  const err = lines.find((l) => l.startsWith('ERROR ')) ?? lines.find((l) => /error|abort|memory/i.test(l)) ?? lines.at(-1) ?? '';
  return err.replace(/^ERROR /, '').slice(0, 160);
}

function run(cmd: string, args: string[], timeoutS: number, env: Record<string, string> = {}): { out: string; ok: boolean; result?: RunResult } {
  const shown = Object.entries(env).map(([k, v]) => `${k}=${v} `).join('');
  process.stderr.write(`$ ${shown}${cmd} ${args.join(' ')}\n`);
  const r = spawnSync(cmd, args, { cwd: REPO, encoding: 'utf8', timeout: timeoutS * 1000, maxBuffer: 64 << 20, env: { ...process.env, ...env } });
  const out = `${r.stdout ?? ''}\n${r.stderr ?? ''}`;
  for (const l of (r.stdout ?? '').split('\n')) if (/^(warmup|rep) /.test(l)) process.stderr.write(`  ${l}\n`);
  const result = parseResult<RunResult>(r.stdout ?? '');
  return result ? { out, ok: r.status === 0, result } : { out, ok: false };
}

/** The `--backend` of a bench path: `seg-torch` is seg's libtorch addon (`--backend torch`); `torch` is PyTorch. */
const backendOf = (p: string): string => (p === 'seg-torch' ? 'torch' : p);

function torchAvailable(): boolean {
  if (!fs.existsSync(PYTHON)) return false;
  const r = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' });
  return r.status === 0;
}

async function nativeAvailable(): Promise<boolean> {
  for (const pkg of ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu']) {
    try {
      await import(pkg);
      return true;
    } catch {
      /* not installed */
    }
  }
  return false;
}

async function measure(a: Args, p: string, size: number): Promise<Cell> {
  const common = ['--size', String(size), '--batch', String(a.batch), '--warmup', String(a.warmup), '--reps', String(a.reps)];
  if (PYTORCH_PATHS.includes(p)) {
    if (!torchAvailable()) return { note: `${PYTHON} has no torch` };
    const tuned = p === 'torch-malloc';
    const r = run(PYTHON, [path.join(REPO, 'bench', 'torch_step.py'), ...common], a.timeoutS, tuned ? { GLIBC_TUNABLES: TORCH_MALLOC_TUNABLES } : {});
    if (!r.result) return { note: `failed: ${lastError(r.out)}` };
    if (tuned) r.result.description += ', glibc malloc keeps freed memory (GLIBC_TUNABLES below the table)';
    return { result: r.result };
  }
  if (p === 'tensorflow' && !(await nativeAvailable())) return { note: 'not installed (@tensorflow/tfjs-node)' };
  if (p === 'seg-torch') {
    const s = loadTorchAddon();
    if (!s.addon) return { note: `not installed (the optional seg-torch addon: ${s.error})` };
  }
  const threads = /^wasm-threads(\d+)$/.exec(p);
  const step = threads
    ? [path.join(HERE, 'step.js'), '--backend', 'wasm', '--threads', threads[1]!, ...common]
    : [path.join(HERE, 'step.js'), '--backend', backendOf(p), ...common];
  let micro = 1;
  for (;;) {
    const r = run(process.execPath, [...step, '--micro', String(micro)], a.timeoutS);
    if (r.result) return { result: r.result, ...lovaszShare(a, p, size), ...loopRun(a, p, size) };
    const err = lastError(r.out);
    const oom = /memory|Aborted|OOM|RangeError: Array buffer allocation/i.test(r.out);
    if (p.startsWith('wasm') && oom && micro < a.batch) {
      process.stderr.write(`  out of memory at micro-batch ${a.batch / micro}: retrying with smaller micro-batches\n`);
      micro *= 2;
      continue;
    }
    return { note: `failed: ${err}` };
  }
}

/** The Lovász losses on the step's batch and crop, on path `p` (lovasz_share.ts), when asked for. */
function lovaszShare(a: Args, p: string, size: number): { lovasz?: LovaszShare } {
  if (!a.lovasz) return {};
  const threads = /^wasm-threads(\d+)$/.exec(p);
  const backend = threads ? ['--backend', 'wasm', '--threads', threads[1]!] : ['--backend', backendOf(p)];
  const args = [path.join(HERE, 'lovasz_share.js'), ...backend, '--size', String(size), '--batch', String(a.batch), '--classes', String(a.lovaszClasses), '--scenario', a.lovaszScenario];
  const r = spawnSync(process.execPath, args, { cwd: REPO, encoding: 'utf8', timeout: a.timeoutS * 1000, maxBuffer: 16 << 20 });
  process.stderr.write(`$ node ${args.join(' ')}\n`);
  const res = parseResult<LovaszShare>(r.stdout ?? '');
  if (!res) process.stderr.write(`  Lovász share failed: ${lastError(`${r.stdout ?? ''}\n${r.stderr ?? ''}`)}\n`);
  return res ? { lovasz: res } : {};
}

/** seg train's steady-state step and seg eval's images/s on path `p` (loop.ts), when asked for. */
function loopRun(a: Args, p: string, size: number): { loop?: LoopResult } {
  if (!a.loop) return {};
  const threads = /^wasm-threads(\d+)$/.exec(p);
  const backend = threads ? ['--backend', 'wasm', '--threads', threads[1]!] : ['--backend', backendOf(p)];
  const args = [path.join(HERE, 'loop.js'), ...backend, '--size', String(size), '--batch', String(a.batch), '--warmup', String(a.warmup + 1), '--reps', String(Math.max(a.reps, 6))];
  process.stderr.write(`$ node ${args.join(' ')}\n`);
  const r = spawnSync(process.execPath, args, { cwd: REPO, encoding: 'utf8', timeout: a.timeoutS * 1000, maxBuffer: 16 << 20 });
  const res = parseResult<LoopResult>(r.stdout ?? '');
  if (!res) process.stderr.write(`  seg train/eval loop failed: ${lastError(`${r.stdout ?? ''}\n${r.stderr ?? ''}`)}\n`);
  return res ? { loop: res } : {};
}

/** Loader images/s per crop size (data.ts), with the worker count `seg train` uses. */
function loaderRates(a: Args): { workers: number; rates: Map<number, number> } | undefined {
  if (!a.loader) return undefined;
  const workers = defaultWorkers(ConfigSchema.parse({}), a.useMpio);
  const args = [path.join(HERE, 'data.js'), '--crops', a.sizes.join(','), '--workers', String(workers), '--samples', '32'];
  process.stderr.write(`$ node ${args.join(' ')}\n`);
  const r = spawnSync(process.execPath, args, { cwd: REPO, encoding: 'utf8', timeout: a.timeoutS * 1000, maxBuffer: 16 << 20 });
  const res = parseResult<{ rates: Record<string, Record<string, number>> }>(r.stdout ?? '');
  if (!res) {
    process.stderr.write(`  loader benchmark failed: ${lastError(`${r.stdout ?? ''}\n${r.stderr ?? ''}`)}\n`);
    return undefined;
  }
  const rates = new Map<number, number>();
  for (const s of a.sizes) {
    const v = res.rates[String(s)]?.[String(workers)];
    if (v !== undefined) rates.set(s, v);
  }
  return { workers, rates };
}

const fmtMs = (r: RunResult): string => `${Math.round(r.medianMs)} (${Math.round(r.minMs)}–${Math.round(r.maxMs)})${r.micro > 1 ? ` [${r.micro}×${r.batch / r.micro}]` : ''}`;

/** The ×torch reference at `size`: the fastest PyTorch row's median ms, if any ran. */
function reference(cells: Map<string, Map<number, Cell>>, size: number): number | undefined {
  const ms = PYTORCH_PATHS.map((p) => cells.get(p)?.get(size)?.result?.medianMs).filter((v): v is number => v !== undefined);
  return ms.length > 0 ? Math.min(...ms) : undefined;
}

/** Per-size cells joined with ' / ', or one dash when every size has none. */
function perSize(cells: readonly string[]): string {
  return cells.every((x) => x === '–') ? '–' : cells.join(' / ');
}

function table(a: Args, cells: Map<string, Map<number, Cell>>, loader: ReturnType<typeof loaderRates>): string {
  const head = ['path'];
  for (const s of a.sizes) head.push(`${s}² ms/step`, `${s}² ×torch`);
  head.push('peak RSS (GB)', 'Lovász share', 'loader img/s', 'seg train ms/step (× bare step)', 'seg eval img/s (× train px/s)');
  const rows: string[][] = [head, head.map(() => '---')];
  for (const [p, bySize] of cells) {
    const first = [...bySize.values()].find((c) => c.result)?.result;
    const row = [first ? `${p}: ${first.description}` : p];
    const rss: string[] = [];
    for (const s of a.sizes) {
      const c = bySize.get(s);
      const r = c?.result;
      if (!r) {
        row.push(c?.note ?? '–', '–');
        rss.push('–');
        continue;
      }
      const t = reference(cells, s);
      row.push(fmtMs(r), t ? `${(r.medianMs / t).toFixed(2)}×` : '–');
      rss.push((r.peakRssMB / 1024).toFixed(2));
    }
    // Lovász share (lovasz_share.ts) and loader rate (data.ts): per size, as the RSS column.
    const share = a.sizes.map((s) => {
      const c = bySize.get(s);
      const l = c?.lovasz;
      const step = c?.result?.medianMs;
      return l && step ? `h ${((100 * l.hingeMs) / step).toFixed(1)}% · s ${((100 * l.softmaxMs) / step).toFixed(1)}%` : '–';
    });
    const seg = !PYTORCH_PATHS.includes(p) && first !== undefined;
    const rate = a.sizes.map((s) => {
      const v = seg ? loader?.rates.get(s) : undefined;
      return v === undefined ? '–' : v.toFixed(v < 10 ? 1 : 0);
    });
    // The real loop (loop.ts) against the bare step, and eval's pixel rate against training's; an
    // epoch overhead below the step's noise can come out negative and is shown as 0.
    const loops = a.sizes.map((s): [string, string] => {
      const c = bySize.get(s);
      const l = c?.loop;
      const step = c?.result?.medianMs;
      if (!l || !step) return ['–', '–'];
      return [`${Math.round(l.trainMs)} (${(l.trainMs / step).toFixed(2)}×) +${(Math.max(0, l.epochOverheadMs) / 1000).toFixed(1)} s/epoch`, `${l.evalImagesPerSec.toFixed(1)} (${((l.evalImagesPerSec * l.trainMs) / (1000 * l.batch)).toFixed(1)}×)`];
    });
    row.push(rss.join(' / '), perSize(share), perSize(rate), perSize(loops.map((x) => x[0])), perSize(loops.map((x) => x[1])));
    rows.push(row);
  }
  return rows.map((r) => `| ${r.join(' | ')} |`).join('\n');
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  const load = os.loadavg().map((v) => v.toFixed(2)).join(' ');
  process.stderr.write(`load average before: ${load} (${os.cpus().length} cores)\n`);
  const cells = new Map<string, Map<number, Cell>>();
  for (const p of a.paths) cells.set(p, new Map());
  for (const s of a.sizes) {
    for (const p of a.paths) cells.get(p)!.set(s, await measure(a, p, s));
  }
  const loader = loaderRates(a);
  const loadAfter = os.loadavg().map((v) => v.toFixed(2)).join(' ');
  const t = table(a, cells, loader);
  const model = [...cells.values()].flatMap((m) => [...m.values()]).find((c) => c.result && c.result.path !== 'torch')?.result?.model ?? '?';
  console.log(`DeepLabv3+/MobileNetV2 training step (forward + backward + Adam), batch ${a.batch}, median of ${a.reps} after ${a.warmup} warm-up; model: ${model}`);
  console.log(t);
  console.log(`load average before/after: ${load} / ${loadAfter}; [k×m] = k micro-batches of m images (gradients summed, one update)`);
  console.log(`×torch: the ratio to the faster PyTorch row at that size (torch: as it runs by default; torch-malloc: GLIBC_TUNABLES=${TORCH_MALLOC_TUNABLES})`);
  const sizes = a.sizes.map((s) => `${s}²`).join(' / ');
  if (a.lovasz) {
    console.log(
      `Lovász share (${sizes}): forward + backward of lovasz_hinge_loss (h, 1-channel head) and lovasz_softmax_loss (s, ${a.lovaszClasses} classes, '${a.lovaszScenario}' labels) ` +
        `on the step's batch and crop, same path, % of the step (wall-clock medians)`,
    );
  }
  if (a.loop) console.log(`seg train ms/step (${sizes}): the median step of \`seg train --log_steps 1\` (loader, loss, optimiser, logging) on generated JPEG/PNG data, beside the bare step's, + what an epoch boundary adds (snapshot save, loader restart); seg eval img/s: \`seg eval\` at the crop size, and its pixels/s over training's (bench/loop.ts)`);
  if (loader) console.log(`loader img/s (${sizes}): src/data's loader, decode + augment (bench/data.ts), ${loader.workers === 0 ? 'on the main thread (seg train\'s default)' : `${loader.workers} worker threads (--use_mpio)`}`);
  if (a.json) {
    const out: Record<string, Record<string, Cell>> = {};
    for (const [p, m] of cells) out[p] = Object.fromEntries([...m].map(([s, c]) => [String(s), c]));
    const loaderOut = loader ? { workers: loader.workers, rates: Object.fromEntries(loader.rates) } : undefined;
    fs.writeFileSync(a.json, JSON.stringify({ args: a, loadBefore: load, loadAfter, cells: out, loader: loaderOut }, null, 2));
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(1);
});
