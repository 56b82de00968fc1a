/**
 * Worker-thread entry point of the data loader (--use_mpio): receives SampleTasks, runs
 * processTask and posts the typed arrays back (transferred, not copied). Errors travel as plain
 * objects and become SegErrors again on the main thread (pool.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SegError } from '../util/errors.js';
import { processTask, type DataOptions, type ProcessedSample, type SampleTask } from './sample.js';

/** Messages main → worker. */
export interface TaskMessage {
  id: number;
  task: SampleTask;
}

/** A SegError (or any error) as plain data. */
export interface WireError {
  kind: SegError['kind'] | 'crash';
  message: string;
  file?: string;
  line?: number;
  key?: string;
  hint?: string;
  stack?: string;
}

/** Messages worker → main. */
export type ResultMessage = { id: number; ok: true; sample: ProcessedSample } | { id: number; ok: false; error: WireError };

export function toWire(e: unknown): WireError {
  if (e instanceof SegError) {
    return {
      kind: e.kind,
      message: e.message,
      ...(e.file !== undefined ? { file: e.file } : {}),
      ...(e.line !== undefined ? { line: e.line } : {}),
      ...(e.key !== undefined ? { key: e.key } : {}),
      ...(e.hint !== undefined ? { hint: e.hint } : {}),
    };
  }
  const err = e instanceof Error ? e : new Error(String(e));
  return { kind: 'crash', message: err.message, ...(err.stack !== undefined ? { stack: err.stack } : {}) };
}

if (parentPort) {
  const port = parentPort;
  const opts = workerData as DataOptions;
  port.on('message', (msg: TaskMessage) => {
    processTask(msg.task, opts).then(
      (sample) => {
        const transfer: ArrayBuffer[] = [sample.image.buffer as ArrayBuffer, sample.label.buffer as ArrayBuffer];
        if (sample.original && sample.original.data.buffer !== sample.image.buffer) transfer.push(sample.original.data.buffer as ArrayBuffer);
        const reply: ResultMessage = { id: msg.id, ok: true, sample };
        port.postMessage(reply, uniqueBuffers(transfer));
      },
      (e: unknown) => {
        const reply: ResultMessage = { id: msg.id, ok: false, error: toWire(e) };
        port.postMessage(reply);
      },
    );
  });
}

/** Transfer lists must not repeat a buffer. */
function uniqueBuffers(list: ArrayBuffer[]): ArrayBuffer[] {
  return [...new Set(list)];
}
