/**
 * stderr output: the logger and progress bars. On a TTY a cli-progress bar redraws in place; on a
 * non-TTY stderr (CI, a log file) progress becomes plain lines without carriage returns.
 */
import cliProgress from 'cli-progress';
import type { Logger, ProgressFactory, RunContext } from '../util/context.js';
import { escapeControls, formatDuration } from '../util/text.js';

export interface OutputOptions {
  quiet: boolean;
  verbose: boolean;
  isTTY: boolean;
  signal: AbortSignal;
}

/** `k=v k=v`: the fields shown beside a bar or at the end of a progress line. */
const formatFields = (fields: Readonly<Record<string, string | number>> | undefined): string =>
  Object.entries(fields ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');

export function makeContext(opts: OutputOptions): { ctx: RunContext; finish: () => void } {
  let activeBar: cliProgress.SingleBar | undefined;
  const write = (text: string): void => {
    const line = escapeControls(text);
    if (activeBar) {
      // Keep the bar intact: clear its line, print, and let it redraw.
      process.stderr.write('\r\x1b[2K');
      process.stderr.write(`${line}\n`);
      activeBar.render();
    } else {
      process.stderr.write(`${line}\n`);
    }
  };
  const log: Logger = {
    info: (m) => {
      if (!opts.quiet) write(m);
    },
    warn: (m) => write(`warning: ${m}`),
    debug: (m) => {
      if (opts.verbose) write(m);
    },
  };

  const progress: ProgressFactory = (label, total) => {
    if (opts.quiet) return { update() {}, increment() {}, stop() {} };
    if (opts.isTTY) {
      const bar = new cliProgress.SingleBar(
        {
          format: `${label} [{bar}] {value}/{total} {percentage}% | ETA {eta_formatted} {fields}`,
          stream: process.stderr,
          hideCursor: true,
          clearOnComplete: false,
          etaBuffer: 20,
        },
        cliProgress.Presets.shades_classic,
      );
      bar.start(total, 0, { fields: '' });
      activeBar = bar;
      let value = 0;
      return {
        update(v, fields) {
          value = v;
          bar.update(v, { fields: formatFields(fields) });
        },
        increment(d = 1, fields) {
          value += d;
          bar.update(value, { fields: formatFields(fields) });
        },
        stop() {
          bar.stop();
          if (activeBar === bar) activeBar = undefined;
        },
      };
    }
    // Non-TTY: one line whenever progress crosses another tenth, and at the end.
    let value = 0;
    let lastTenth = -1;
    const started = Date.now();
    let last: Readonly<Record<string, string | number>> | undefined;
    const maybePrint = (force: boolean): void => {
      const tenth = total > 0 ? Math.floor((10 * value) / total) : 10;
      if (!force && tenth === lastTenth) return;
      lastTenth = tenth;
      const secs = (Date.now() - started) / 1000;
      const eta = value > 0 && total > value ? ` eta=${formatDuration((secs / value) * (total - value))}` : '';
      process.stderr.write(`${label} ${value}/${total}${eta}${last ? ` ${formatFields(last)}` : ''}\n`);
    };
    return {
      update(v, fields) {
        value = v;
        last = fields ?? last;
        maybePrint(false);
      },
      increment(d = 1, fields) {
        value += d;
        last = fields ?? last;
        maybePrint(false);
      },
      stop() {
        if (lastTenth !== 10) maybePrint(true);
      },
    };
  };

  return {
    ctx: { log, progress, signal: opts.signal },
    finish: () => {
      if (activeBar) activeBar.stop();
      activeBar = undefined;
    },
  };
}
