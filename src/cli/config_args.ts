/** Resolving the config from a command's flags: --cfg, KEY VALUE overrides and --seed. */
import { resolveConfig, type ResolvedConfig } from '../config/resolve.js';
import type { CliEnv, CommonArgs } from './command.js';

export function configFromArgs(args: CommonArgs & Record<string, unknown>, env: CliEnv): ResolvedConfig {
  const cfgFile = typeof args['cfg'] === 'string' ? args['cfg'] : undefined;
  const resolved = resolveConfig({
    cfgFile,
    overrides: env.overrides,
    flagValues: args.seed === undefined ? {} : { SEED: args.seed },
  });
  for (const w of resolved.warnings) env.ctx.log.warn(w);
  for (const n of resolved.notes) env.ctx.log.info(n);
  return resolved;
}
