/**
 * The shape of one `seg` subcommand. Each command file exports a Command; main.ts wires them into
 * yargs. A command's `run` gets parsed flags and a CliEnv, returns its exit code (or throws a
 * SegError), and never touches process.* itself.
 */
import type { Options, PositionalOptions } from 'yargs';
import type { RunContext } from '../util/context.js';
import type { BackendChoice } from '../backend/choices.js';

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
