/**
 * The one error type that crosses module boundaries. Library code throws a SegError with a kind;
 * only the CLI layer (src/cli/main.ts) turns it into a message on stderr and an exit code.
 *
 *   kind      exit  meaning
 *   usage       2   bad command line (unknown flag, odd number of KEY VALUE tokens, ...)
 *   config      2   bad configuration (unknown key, wrong type, impossible combination)
 *   data        3   a data problem (unreadable image, label out of range, `seg check` NOT PASS)
 *   runtime     1   anything else that went wrong while running (non-finite loss, I/O failure)
 *   interrupted 130 SIGINT (Ctrl-C), 143 SIGTERM (a scheduler stopping the job); training saves
 *                   `interrupted/` first
 */
export type ErrorKind = 'usage' | 'config' | 'data' | 'runtime' | 'interrupted';

export const EXIT_CODES: Readonly<Record<ErrorKind | 'ok', number>> = Object.freeze({
  ok: 0,
  runtime: 1,
  usage: 2,
  config: 2,
  data: 3,
  interrupted: 130,
});

/** Exit code of a run stopped by SIGTERM (128 + 15, as a shell reports it). */
export const EXIT_TERMINATED = 143;

export interface SegErrorDetails {
  /** Dotted config key the error is about, e.g. `SOLVER.LR`. */
  key?: string;
  /** File the error is about (config file, image, file list). */
  file?: string;
  /** 1-based line in `file`, when known. */
  line?: number;
  /** One line telling the user what to do. */
  hint?: string;
  /** The underlying error, shown with --verbose. */
  cause?: unknown;
}

export class SegError extends Error {
  readonly kind: ErrorKind;
  readonly key: string | undefined;
  readonly file: string | undefined;
  readonly line: number | undefined;
  readonly hint: string | undefined;

  constructor(kind: ErrorKind, message: string, details: SegErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'SegError';
    this.kind = kind;
    this.key = details.key;
    this.file = details.file;
    this.line = details.line;
    this.hint = details.hint;
  }

  get exitCode(): number {
    return EXIT_CODES[this.kind];
  }
}

export const usageError = (message: string, details?: SegErrorDetails): SegError =>
  new SegError('usage', message, details);
export const configError = (message: string, details?: SegErrorDetails): SegError =>
  new SegError('config', message, details);
export const dataError = (message: string, details?: SegErrorDetails): SegError =>
  new SegError('data', message, details);
export const runtimeError = (message: string, details?: SegErrorDetails): SegError =>
  new SegError('runtime', message, details);

/** What an operating-system error of the file system means for the user, by its code. */
const IO_CAUSES: Readonly<Record<string, { what: string; hint: string }>> = Object.freeze({
  ENOSPC: { what: 'no space left on the device', hint: 'free disk space or choose a folder on another disk; files written before are kept' },
  EDQUOT: { what: 'disk quota exceeded', hint: 'free space within your quota or choose a folder on another disk; files written before are kept' },
  EROFS: { what: 'the file system is read-only', hint: 'choose a folder on a writable file system' },
  EACCES: { what: 'permission denied', hint: 'choose a folder you can write to, or fix its permissions' },
  EPERM: { what: 'operation not permitted', hint: 'choose a folder you can write to, or fix its permissions' },
  EIO: { what: 'input/output error', hint: 'the disk or network file system failed; check it and retry' },
});

/**
 * A file-system error (ENOSPC, EROFS, EACCES, ...) as a runtime SegError naming the path and the
 * cause; undefined for anything else. Writers attach the path where the system call gave none.
 */
export function ioError(e: unknown): SegError | undefined {
  const err = e as NodeJS.ErrnoException;
  const cause = typeof err?.code === 'string' ? IO_CAUSES[err.code] : undefined;
  if (!cause) return undefined;
  const where = err.path === undefined ? '' : ` ${err.path}`;
  return runtimeError(`cannot ${err.syscall ?? 'write'}${where}: ${cause.what} (${err.code})`, { ...(err.path === undefined ? {} : { file: err.path }), hint: cause.hint, cause: e });
}

/** `e` with `file` as its path when the system call gave none (a write on an open descriptor). */
export function withPath(e: unknown, file: string): unknown {
  const err = e as NodeJS.ErrnoException;
  if (typeof err?.code === 'string' && err.path === undefined) err.path = file;
  return e;
}

/** Levenshtein distance, for "did you mean" suggestions. */
export function editDistance(a: string, b: string): number {
  const m = a.length;
  const n = b.length;
  let prev = new Array<number>(n + 1);
  let cur = new Array<number>(n + 1);
  for (let j = 0; j <= n; j++) prev[j] = j;
  for (let i = 1; i <= m; i++) {
    cur[0] = i;
    for (let j = 1; j <= n; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      cur[j] = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
    }
    [prev, cur] = [cur, prev];
  }
  return prev[n] ?? 0;
}

/** The candidate closest to `word` (case-insensitive), or undefined when nothing is close. */
export function nearest(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  const w = word.toUpperCase();
  for (const c of candidates) {
    const d = editDistance(w, c.toUpperCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  if (best === undefined) return undefined;
  // Accept a suggestion when it is "close": at most a third of the longer word's length (min 2
  // edits), so that `lovasz_hinge` finds `lovasz_hinge_loss` but `x` does not find `SEED`.
  const limit = Math.max(2, Math.ceil(Math.max(word.length, best.length) / 3));
  return bestD <= limit ? best : undefined;
}
