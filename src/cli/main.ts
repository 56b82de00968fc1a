/**
 * The only module that touches argv, stdout, stderr, signals and exit codes.
 *
 * Exit codes: 0 ok · 1 runtime failure · 2 usage or config error · 3 data problem (`seg check`
 * NOT PASS, unreadable or invalid data) · 130 interrupted (Ctrl-C) · 143 terminated (SIGTERM, as
 * Slurm and Kubernetes stop jobs: handled as Ctrl-C).
 */
import { readFileSync } from 'node:fs';
import yargs, { type Argv, type Options } from 'yargs';
import { EXIT_CODES, EXIT_TERMINATED, ioError, nearest, SegError, usageError } from '../util/errors.js';
import { flagError, flagErrors, integerFlag, type CliEnv, type Command, type CommonArgs } from './command.js';
import { makeContext } from './output.js';
import { BACKEND_CHOICES } from '../backend/choices.js';
import { COMMANDS } from './commands/index.js';
import { MAX_SEED } from '../util/rng.js';
import { escapeControls } from '../util/text.js';

const EPILOG = `Exit codes: 0 ok, 1 runtime failure, 2 usage or config error, 3 data problem (check NOT PASS, unreadable or invalid data), 130 interrupted (Ctrl-C), 143 terminated (SIGTERM).
Config overrides: KEY VALUE pairs after the flags, e.g. seg train --cfg configs/quickstart_roads.yaml SOLVER.LR 0.01 BATCH_SIZE 4
Values take pdseg's Python-literal forms: (769, 769), "['lovasz_hinge_loss','bce_loss']", True, None, 1e-4.`;

/** The signals that stop a run cleanly: exit code, how it is announced, how to stop at once. */
const STOPS = {
  SIGINT: { code: EXIT_CODES.interrupted, what: 'interrupted', again: 'Ctrl-C' },
  SIGTERM: { code: EXIT_TERMINATED, what: 'terminated (SIGTERM)', again: 'send SIGTERM' },
} as const;

const COMMON_OPTIONS: Record<string, Options> = {
  seed: integerFlag('seed', { describe: 'seed for every random choice (sets SEED)', min: 0, max: MAX_SEED, example: 42 }),
  json: { type: 'boolean', default: false, describe: 'print the result as one JSON object on stdout' },
  quiet: { alias: 'q', type: 'boolean', default: false, describe: 'only warnings and errors on stderr' },
  verbose: { alias: 'v', type: 'boolean', default: false, describe: 'debug messages, and stack traces on errors' },
  threads: {
    type: 'string',
    default: process.env['SEG_WASM_THREADS'] ?? 'auto',
    defaultDescription: '$SEG_WASM_THREADS or auto',
    describe: 'compute threads: wasm: auto = one per core (at most 4), 1 = the single-threaded build; torch: libtorch threads (auto = one per core)',
    requiresArg: true,
    coerce: (v: unknown) => {
      if (v === 'auto') return 'auto';
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw flagError(`--threads expects a positive integer or auto, got ${JSON.stringify(v)}`, 'e.g. --threads 2');
      return n;
    },
  },
  backend: {
    type: 'string',
    choices: [...BACKEND_CHOICES],
    default: process.env['SEG_BACKEND'] ?? 'auto',
    defaultDescription: '$SEG_BACKEND or auto',
    describe: 'compute backend: auto = tfjs-node(-gpu) when installed, else wasm',
  },
};

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** Flags that take a value, so that the KEY VALUE split can skip their values. */
function valueFlags(cmd: Command | undefined): Set<string> {
  const out = new Set<string>();
  const add = (opts: Record<string, Options> | undefined): void => {
    for (const [name, o] of Object.entries(opts ?? {})) {
      if (o.type === 'boolean' || o.count) continue;
      out.add(`--${name}`);
      for (const alias of [o.alias ?? []].flat()) out.add(alias.length === 1 ? `-${alias}` : `--${alias}`);
    }
  };
  add(COMMON_OPTIONS);
  add(cmd?.options);
  return out;
}

/**
 * Split `<cmd> [flags] [KEY VALUE ...] [flags]` into flags and KEY VALUE overrides. A token in a
 * KEY position that starts with `-` is a flag (followed by its value when it takes one); the token
 * after a KEY is always its VALUE, even when it looks like a flag (`SOLVER.LR -1e-4`).
 */
export function splitOverrides(tokens: readonly string[], cmd: Command | undefined): { flags: string[]; overrides: string[] } {
  const vflags = valueFlags(cmd);
  const flags: string[] = [];
  const overrides: string[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i] as string;
    if (t === '--') {
      overrides.push(...tokens.slice(i + 1));
      break;
    }
    if (t.startsWith('-') && t.length > 1) {
      flags.push(t);
      if (vflags.has(t) && i + 1 < tokens.length) flags.push(tokens[++i] as string);
      continue;
    }
    overrides.push(t);
    if (i + 1 < tokens.length) overrides.push(tokens[++i] as string);
  }
  return { flags, overrides };
}

function addOptions(y: Argv, opts: Record<string, Options> | undefined): Argv {
  for (const [name, o] of Object.entries(opts ?? {})) y = y.option(name, o);
  return y;
}

export async function main(argv: readonly string[]): Promise<void> {
  const isTTY = Boolean(process.stderr.isTTY) && process.env['CI'] !== 'true';
  const verbose = argv.includes('--verbose') || argv.includes('-v');
  const quiet = argv.includes('--quiet') || argv.includes('-q');
  const abort = new AbortController();
  const { ctx, finish } = makeContext({ quiet, verbose, isTTY, signal: abort.signal });
  let interrupted = 0;
  let stopCode: number = EXIT_CODES.interrupted;
  const onSignal = (signal: NodeJS.Signals): void => {
    interrupted++;
    const stop = STOPS[signal === 'SIGTERM' ? 'SIGTERM' : 'SIGINT'];
    if (interrupted > 1) {
      process.stderr.write(`\nseg: ${signal} again, exiting now\n`);
      process.exit(stop.code);
    }
    stopCode = stop.code;
    process.stderr.write(`\nseg: ${stop.what}; finishing the current step (${stop.again} again to exit at once)\n`);
    abort.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  // Find the command (and subcommand) the tokens name, to know its flags and whether it takes overrides.
  let cmd: Command | undefined = COMMANDS.find((c) => c.name.split(' ')[0] === argv[0]);
  let depth = cmd ? 1 : 0;
  if (cmd?.subcommands) {
    const sub = cmd.subcommands.find((c) => c.name.split(' ')[0] === argv[1]);
    if (sub) {
      cmd = sub;
      depth = 2;
    }
  }
  let overrides: string[] = [];
  let yargsArgv = [...argv];
  let exitCode: number = EXIT_CODES.ok;
  try {
    checkCommandWords(argv, cmd, depth);
    if (cmd?.overrides) {
      const split = splitOverrides(argv.slice(depth), cmd);
      overrides = split.overrides;
      yargsArgv = [...argv.slice(0, depth), ...split.flags];
    }
    const env: CliEnv = { out: (text) => process.stdout.write(escapeControls(text.endsWith('\n') ? text : `${text}\n`)), ctx, overrides, isTTY };
    let result: number | undefined;
    const handlerFor =
      (c: Command) =>
      async (args: Record<string, unknown>): Promise<void> => {
        if (!c.run) return;
        result = await c.run(args as Record<string, unknown> & CommonArgs, env);
      };
    const build = (y: Argv, c: Command): Argv => {
      let b = addOptions(y, c.options);
      for (const [name, p] of Object.entries(c.positionals ?? {})) b = b.positional(name, p);
      for (const [ex, desc] of c.examples ?? []) b = b.example(ex, desc);
      if (c.subcommands) {
        for (const s of c.subcommands) b = b.command(s.name, s.describe, (yy) => build(yy, s), handlerFor(s));
        b = b.demandCommand(1, `choose a subcommand of ${c.name}: ${c.subcommands.map((s) => s.name.split(' ')[0]).join(', ')}`);
      }
      if (c.overrides) b = b.usage(`$0 ${c.name} --cfg FILE [flags] [KEY VALUE ...]\n\n${c.describe}`);
      return b;
    };
    let y = yargs(yargsArgv)
      .scriptName('seg')
      .usage('$0 <command> --cfg FILE [flags] [KEY VALUE ...]\n\nTrain, check, evaluate, visualise and export DeepLabv3+/MobileNetV2 segmentation models (pdseg-compatible configs, Lovász losses).')
      .parserConfiguration({ 'parse-positional-numbers': false, 'boolean-negation': true })
      .version(packageVersion())
      .help()
      .alias('h', 'help')
      .epilog(EPILOG)
      .wrap(Math.min(110, process.stdout.columns || 100))
      .strict()
      .demandCommand(1, 'choose a command')
      .recommendCommands()
      .exitProcess(false)
      .fail((msg: string | undefined, err: Error | undefined) => {
        if (err instanceof SegError) throw err;
        const flag = flagErrors.get(err?.message ?? '');
        if (flag) throw flag;
        throw usageError((msg ?? err?.message ?? 'invalid command line').replace(/\s*\n\s*/g, ' ').trim(), { hint: `see seg ${depth > 0 ? `${argv.slice(0, depth).join(' ')} ` : ''}--help` });
      });
    y = addOptions(y, COMMON_OPTIONS);
    for (const c of COMMANDS) y = y.command(c.name, c.describe, (yy) => build(yy, c), handlerFor(c));
    await y.parseAsync();
    exitCode = result ?? EXIT_CODES.ok;
    if (abort.signal.aborted && exitCode === EXIT_CODES.ok) exitCode = EXIT_CODES.interrupted;
  } catch (e) {
    exitCode = reportError(e, verbose);
  } finally {
    finish();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (exitCode === EXIT_CODES.interrupted) exitCode = stopCode;
  process.exitCode = exitCode;
}

/** `seg trian` or `seg dataset mak`: say which word is unknown, and the nearest command. */
function checkCommandWords(argv: readonly string[], cmd: Command | undefined, depth: number): void {
  const [word, parent, choices] = depth === 0 ? [argv[0], '', COMMANDS] : depth === 1 && cmd?.subcommands ? [argv[1], `${cmd.name} `, cmd.subcommands] : [undefined, '', []];
  if (word === undefined || word.startsWith('-')) return;
  const names = choices.map((c) => c.name.split(' ')[0] ?? c.name);
  const suggestion = nearest(word, names);
  throw usageError(`unknown command ${parent}${word}${suggestion ? `; did you mean ${parent}${suggestion}?` : ''}`, {
    hint: `the ${parent === '' ? 'commands' : `subcommands of ${parent.trim()}`} are ${names.join(', ')} (see seg ${parent}--help)`,
  });
}

function reportError(thrown: unknown, verbose: boolean): number {
  const e = ioError(thrown) ?? thrown;
  if (e instanceof SegError) {
    process.stderr.write(`seg: ${e.kind} error: ${escapeControls(e.message)}\n`);
    if (e.hint) process.stderr.write(`hint: ${escapeControls(e.hint)}\n`);
    if (verbose) process.stderr.write(`${e.stack ?? ''}\n${e.cause instanceof Error ? `caused by: ${e.cause.stack ?? e.cause.message}\n` : ''}`);
    return e.exitCode;
  }
  const err = e instanceof Error ? e : new Error(String(e));
  process.stderr.write(`seg: runtime error: ${escapeControls(err.message.split('\n')[0] ?? '')}\n`);
  process.stderr.write(verbose ? `${err.stack ?? ''}\n` : 'hint: this looks like a bug in seg; rerun with --verbose for the stack trace and report it\n');
  return EXIT_CODES.runtime;
}
