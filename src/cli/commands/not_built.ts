import { runtimeError } from '../../util/errors.js';

/** Until a command's issue lands, it parses its arguments and config, then says so. */
export function notBuilt(what: string): never {
  throw runtimeError(`${what} is not built yet`, { hint: 'see the README for what seg can do today' });
}
