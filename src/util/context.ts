/**
 * What library code gets from the CLI instead of touching stdout, argv or process: a logger, a
 * progress-bar factory and an abort signal (raised on Ctrl-C). Tests pass silent versions.
 */
export interface Logger {
  /** Normal progress messages (stderr; hidden by --quiet). */
  info(message: string): void;
  /** Something the user should know about (stderr; shown even with --quiet). */
  warn(message: string): void;
  /** Details for --verbose. */
  debug(message: string): void;
}

export interface ProgressBar {
  /** Set the absolute position and the fields shown beside the bar. */
  update(value: number, fields?: Readonly<Record<string, string | number>>): void;
  /** Advance by `delta` (default 1). */
  increment(delta?: number, fields?: Readonly<Record<string, string | number>>): void;
  /** Finish the bar (prints the final state on non-TTY outputs). */
  stop(): void;
}

export type ProgressFactory = (label: string, total: number) => ProgressBar;

export interface RunContext {
  log: Logger;
  progress: ProgressFactory;
  /** Aborted when the user presses Ctrl-C; long loops check it and stop cleanly. */
  signal: AbortSignal;
}

export const silentLogger: Logger = Object.freeze({ info() {}, warn() {}, debug() {} });

const noBar: ProgressBar = Object.freeze({ update() {}, increment() {}, stop() {} });
export const noProgress: ProgressFactory = () => noBar;

/** A context that prints nothing, for tests and library use. */
export function quietContext(signal: AbortSignal = new AbortController().signal): RunContext {
  return { log: silentLogger, progress: noProgress, signal };
}
