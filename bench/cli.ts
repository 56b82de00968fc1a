/**
 * What the bench scripts share: reading `--name value` flags, and the line protocol between
 * bench.ts and the child processes it runs (step.ts, lovasz_share.ts, data.ts): a child prints one
 * `RESULT {json}` line on success, or one `ERROR <stack>` line and exit code 2 on failure.
 */

/** Flag readers over `argv`: `get` the value after `--name`, `int` a non-negative integer (or `dflt`). */
export function flagReader(argv: readonly string[]): { get: (name: string) => string | undefined; int: (name: string, dflt: number) => number } {
  const get = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const int = (name: string, dflt: number): number => {
    const v = get(name);
    const n = v === undefined ? dflt : Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer, got ${v}`);
    return n;
  };
  return { get, int };
}

const RESULT = 'RESULT ';

/** Print the child's result line. */
export function printResult(result: unknown): void {
  process.stdout.write(`${RESULT}${JSON.stringify(result)}\n`);
}

/** The result a child printed, if any. */
export function parseResult<T>(stdout: string): T | undefined {
  const line = stdout.split('\n').find((l) => l.startsWith(RESULT));
  return line ? (JSON.parse(line.slice(RESULT.length)) as T) : undefined;
}

/** Run a child's main: exit 0 when it resolves, else print the ERROR line and exit 2. */
export function runChild(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (e: unknown) => {
      console.log(`ERROR ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      process.exit(2);
    },
  );
}
