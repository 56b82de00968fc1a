/** Starting the compute backend from a command's flags, and logging which one runs. */
import type { BackendChoice } from '../backend/choices.js';
import { initBackend, type BackendInfo } from '../backend/index.js';
import type { CliEnv, CommonArgs } from './command.js';

export async function startBackend(args: CommonArgs & Record<string, unknown>, env: CliEnv): Promise<BackendInfo> {
  const info = await initBackend({ backend: args.backend as BackendChoice, useGpu: Boolean(args['use_gpu']), threads: args.threads });
  env.ctx.log.info(`backend: ${info.description}`);
  return info;
}
