/**
 * A pool of worker threads that decode and augment samples (--use_mpio). Each worker keeps up to
 * two tasks in flight so that its sharp decodes (which run on libuv threads) overlap with its
 * JavaScript augmentation. Results arrive as transferred typed arrays; errors become SegErrors.
 */
import { Worker } from 'node:worker_threads';
import { SegError, runtimeError } from '../util/errors.js';
import type { DataOptions, ProcessedSample, SampleTask } from './sample.js';
import type { ResultMessage, TaskMessage, WireError } from './worker.js';

const PER_WORKER = 2;

interface Pending {
  task: SampleTask;
  resolve: (s: ProcessedSample) => void;
  reject: (e: unknown) => void;
}

interface Slot {
  worker: Worker;
  inflight: Map<number, Pending>;
}

/** Turn an error from a worker back into a SegError. */
export function fromWire(e: WireError): SegError {
  if (e.kind === 'crash') {
    return runtimeError(`data worker failed: ${e.message}`, { hint: 'this looks like a bug in seg; rerun without --use_mpio and with --verbose', cause: Object.assign(new Error(e.message), { stack: e.stack }) });
  }
  return new SegError(e.kind, e.message, {
    ...(e.file !== undefined ? { file: e.file } : {}),
    ...(e.line !== undefined ? { line: e.line } : {}),
    ...(e.key !== undefined ? { key: e.key } : {}),
    ...(e.hint !== undefined ? { hint: e.hint } : {}),
  });
}

export class WorkerPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];
  private nextId = 1;
  private closed = false;

  constructor(
    readonly size: number,
    opts: DataOptions,
  ) {
    for (let i = 0; i < size; i++) {
      const worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: opts });
      const slot: Slot = { worker, inflight: new Map() };
      worker.on('message', (msg: ResultMessage) => this.onResult(slot, msg));
      worker.on('error', (err) => this.onCrash(slot, err));
      worker.on('exit', (code) => {
        if (!this.closed && code !== 0) this.onCrash(slot, new Error(`worker exited with code ${code}`));
      });
      worker.unref(); // idle workers do not keep the process alive; busy ones are ref'd (refresh)
      this.slots.push(slot);
    }
  }

  /** Process a task in some worker. */
  run(task: SampleTask): Promise<ProcessedSample> {
    if (this.closed) return Promise.reject(runtimeError('the data loader is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ task, resolve, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      let best: Slot | undefined;
      for (const s of this.slots) if (s.inflight.size < PER_WORKER && (!best || s.inflight.size < best.inflight.size)) best = s;
      if (!best) return;
      const p = this.queue.shift() as Pending;
      const id = this.nextId++;
      best.inflight.set(id, p);
      const msg: TaskMessage = { id, task: p.task };
      best.worker.postMessage(msg);
      best.worker.ref();
    }
  }

  /** Busy workers keep the process alive (a pending result is awaited); idle ones do not. */
  private refresh(slot: Slot): void {
    if (slot.inflight.size === 0) slot.worker.unref();
  }

  private onResult(slot: Slot, msg: ResultMessage): void {
    const p = slot.inflight.get(msg.id);
    if (!p) return;
    slot.inflight.delete(msg.id);
    if (msg.ok) p.resolve(msg.sample);
    else p.reject(fromWire(msg.error));
    this.dispatch();
    this.refresh(slot);
  }

  private onCrash(slot: Slot, err: Error): void {
    const e = runtimeError(`data worker crashed: ${err.message}`, { hint: 'rerun without --use_mpio to see the underlying error', cause: err });
    for (const p of slot.inflight.values()) p.reject(e);
    slot.inflight.clear();
    const i = this.slots.indexOf(slot);
    if (i >= 0) this.slots.splice(i, 1);
    if (this.slots.length === 0) {
      for (const p of this.queue.splice(0)) p.reject(e);
    } else {
      this.dispatch();
    }
  }

  /** Stop every worker; pending tasks are rejected. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const e = runtimeError('the data loader was closed');
    for (const p of this.queue.splice(0)) p.reject(e);
    for (const s of this.slots) {
      for (const p of s.inflight.values()) p.reject(e);
      s.inflight.clear();
    }
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
    this.slots.length = 0;
  }
}
