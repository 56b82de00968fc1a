/** Resolving the config from a command's flags: --cfg, KEY VALUE overrides and --seed. */
import { resolveConfig, type ResolvedConfig } from '../config/resolve.js';
import type { CliEnv, CommonArgs } from './command.js';

/** `seedDefault`: the SEED to use when neither --seed nor the config sets one (--enable_ce). */
export function configFromArgs(args: CommonArgs & Record<string, unknown>, env: CliEnv, opts: { seedDefault?: number | undefined } = {}): ResolvedConfig {
  const cfgFile = typeof args['cfg'] === 'string' ? args['cfg'] : undefined;
  const resolve = (seed: number | undefined): ResolvedConfig => resolveConfig({ cfgFile, overrides: env.overrides, flagValues: seed === undefined ? {} : { SEED: seed } });
  let resolved = resolve(args.seed);
  if (resolved.config.SEED === null && opts.seedDefault !== undefined) resolved = resolve(opts.seedDefault);
  for (const w of resolved.warnings) env.ctx.log.warn(w);
  for (const n of resolved.notes) env.ctx.log.info(n);
  return resolved;
}
