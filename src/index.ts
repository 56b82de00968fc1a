/**
 * The public library API of `seg` (`import { ... } from 'seg'`). The CLI is built on the same
 * functions. Everything here works with the tfjs backend the caller has set up.
 */
export { ConfigSchema, type SegConfig } from './config/schema.js';
export { resolveConfig, type ResolvedConfig, type ResolveOptions } from './config/resolve.js';
export { SegError, EXIT_CODES, type ErrorKind } from './util/errors.js';
export { initBackend, type BackendChoice, type BackendInfo } from './backend/index.js';
export { ConfusionMatrix, type SegMetrics } from './metrics/confusion.js';
