/**
 * The shape of one `seg` subcommand. Each command file exports a Command; main.ts wires them into
 * yargs. A command's `run` gets parsed flags and a CliEnv, returns its exit code (or throws a
 * SegError), and never touches process.* itself.
 */
import type { Options, PositionalOptions } from 'yargs';
import type { RunContext } from '../util/context.js';
import type { BackendChoice } from '../backend/choices.js';
import { usageError, type SegError } from '../util/errors.js';

/** Flags every command takes. */
export interface CommonArgs {
  seed: number | undefined;
  json: boolean;
  quiet: boolean;
  verbose: boolean;
  backend: BackendChoice;
  threads: number | 'auto';
}

export interface CliEnv {
  /** Print a result (stdout). */
  out(text: string): void;
  /** Logger, progress bars and the Ctrl-C signal, for library code. */
  ctx: RunContext;
  /** Trailing KEY VALUE tokens (commands with `overrides: true`). */
  overrides: string[];
  /** Whether stderr is a terminal (progress bars) or a log (plain lines). */
  isTTY: boolean;
}

export interface Command {
  /** yargs command string, e.g. 'train' or 'download <name>'. */
  name: string;
  describe: string;
  /** Accepts trailing `KEY VALUE` config overrides. */
  overrides?: boolean;
  options?: Record<string, Options>;
  positionals?: Record<string, PositionalOptions>;
  /** Subcommands (e.g. `seg dataset download`); a command has either `run` or `subcommands`. */
  subcommands?: Command[];
  examples?: Array<[string, string]>;
  run?(args: Record<string, unknown> & CommonArgs, env: CliEnv): Promise<number>;
}

/** `--cfg FILE`, required by every config-driven command. */
export const cfgOption: Options = {
  type: 'string',
  demandOption: true,
  describe: 'YAML config file (pdseg format)',
  requiresArg: true,
};

export const gpuOptions: Record<string, Options> = {
  use_gpu: { type: 'boolean', default: false, describe: 'prefer a GPU backend (@tensorflow/tfjs-node-gpu) when installed' },
  use_mpio: { type: 'boolean', default: false, describe: 'decode and augment images in DATALOADER.NUM_WORKERS worker threads' },
};

/**
 * Errors of flag values found inside yargs' `coerce`: yargs re-throws them as its own error with the
 * same message, so main.ts's failure handler finds the original (and its hint) here by message.
 */
export const flagErrors = new Map<string, SegError>();

export function flagError(message: string, hint: string): SegError {
  const e = usageError(message, { hint });
  flagErrors.set(message, e);
  return e;
}

/** An integer flag in [min, max]: `abc`, `1.5` or an out-of-range value is a usage error naming the flag. */
export function integerFlag(name: string, o: { describe: string; min: number; max?: number; default?: number; example: number }): Options {
  const range = o.max === undefined ? `an integer >= ${o.min}` : `an integer from ${o.min} to ${o.max}`;
  return {
    type: 'string',
    describe: o.describe,
    requiresArg: true,
    ...(o.default === undefined ? {} : { default: o.default }),
    coerce: (v: unknown) => {
      const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
      if (!Number.isInteger(n) || n < o.min || (o.max !== undefined && n > o.max)) throw flagError(`--${name} expects ${range}, got ${JSON.stringify(v)}`, `e.g. --${name} ${o.example}`);
      return n;
    },
  };
}
