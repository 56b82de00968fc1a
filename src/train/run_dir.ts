/**
 * The run folder (TRAIN.MODEL_SAVE_DIR) belongs to one run: a new run never writes over an
 * earlier one, and snapshot pruning only ever deletes this run's own snapshots.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { configError } from '../util/errors.js';
import type { Logger } from '../util/context.js';
import { isInside } from '../util/atomic.js';

/** What `seg train` (and `seg experiment`) write into a run folder. */
const RUN_FILES = ['config.yaml', 'metrics.jsonl', 'plot.png', 'vis', 'tensorboard', 'final', 'best_model', 'interrupted', 'done.json', 'seconds.json'];
const SNAPSHOT = /^\d+$/;

/** The entries of `dir` that an earlier run wrote (empty when `dir` holds no run). */
export function runEntries(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir).filter((name) => RUN_FILES.includes(name) || (SNAPSHOT.test(name) && fs.existsSync(path.join(dir, name, 'state.json'))));
}


export interface RunDirOptions {
  /** The checkpoint this run resumes from, if any: resuming a run inside runDir continues it. */
  resumeDir: string | undefined;
  /** Move an earlier run into `<runDir>/overwritten-<time>/` instead of refusing. */
  overwrite: boolean;
  /** How the folder is shown in messages (relative to the working directory). */
  shown: string;
  log: Logger;
}

/** Refuse (or, with `overwrite`, move aside) an earlier run in runDir; resuming a run of runDir is fine. */
export function claimRunDir(runDir: string, o: RunDirOptions): void {
  if (o.resumeDir !== undefined && isInside(o.resumeDir, runDir)) return;
  const entries = runEntries(runDir);
  if (entries.length === 0) return;
  if (!o.overwrite) {
    const latest = ['interrupted', 'final', ...entries.filter((e) => SNAPSHOT.test(e)).sort((a, b) => Number(b) - Number(a))].find((e) => entries.includes(e));
    throw configError(`TRAIN.MODEL_SAVE_DIR ${o.shown} already holds a run (${entries.slice(0, 4).join(', ')}${entries.length > 4 ? ', ...' : ''})`, {
      key: 'TRAIN.MODEL_SAVE_DIR',
      hint: `${latest ? `continue it with TRAIN.RESUME_MODEL_DIR ${path.join(o.shown, latest)}, ` : ''}choose another TRAIN.MODEL_SAVE_DIR, or pass --overwrite to move the old run into ${path.join(o.shown, 'overwritten-<time>')}/`,
    });
  }
  const aside = path.join(runDir, `overwritten-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  fs.mkdirSync(aside);
  for (const e of entries) fs.renameSync(path.join(runDir, e), path.join(aside, e));
  o.log.warn(`--overwrite: moved the earlier run in ${o.shown} (${entries.length} entries) to ${path.relative(path.dirname(runDir), aside)}`);
}

/**
 * Keep the newest `keep` snapshots of the run with `seed` (0 = keep all). Only numbered folders
 * whose state.json says they are this run's snapshots are candidates; final/, best_model/,
 * interrupted/ and anything else in the folder stay.
 */
export function pruneSnapshots(runDir: string, keep: number, seed: number): void {
  if (keep <= 0) return;
  const ours = fs
    .readdirSync(runDir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && SNAPSHOT.test(d.name) && isSnapshotOf(path.join(runDir, d.name), seed))
    .map((d) => Number(d.name))
    .sort((a, b) => a - b);
  for (const e of ours.slice(0, Math.max(0, ours.length - keep))) fs.rmSync(path.join(runDir, String(e)), { recursive: true, force: true });
}

function isSnapshotOf(dir: string, seed: number): boolean {
  try {
    const state = JSON.parse(fs.readFileSync(path.join(dir, 'state.json'), 'utf8')) as { seed?: unknown; reason?: unknown };
    return state.seed === seed && state.reason === 'snapshot';
  } catch {
    return false;
  }
}
