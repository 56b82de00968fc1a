/**
 * Weights on disk in tfjs's weights-manifest format: a JSON manifest (`weightsManifest`: groups of
 * `{paths, weights: [{name, shape, dtype}]}`) and binary shards holding the values back to back,
 * little-endian, at most 4 MiB per shard (tfjs's own layout, so `tf.io.decodeWeights` and
 * tfjs-converter read them too). Written with node:fs (tfjs-node's file IO handler is not
 * available), synchronously.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { dataError, withPath } from '../util/errors.js';
import { isInside } from '../util/atomic.js';

/** A named tensor, as the trainer and the optimiser pass them. */
export interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}

/** One manifest group: shard files and the weights they hold, in order. */
export type ManifestGroup = tf.io.WeightsManifestConfig[number];

/** tfjs's shard size limit. */
export const SHARD_BYTES = 4 * 1024 * 1024;

const BYTES: Readonly<Record<string, number>> = Object.freeze({ float32: 4, int32: 4 });

/**
 * Write `tensors` as `<prefix>-shard<i>of<n>.bin` files in `dir`; returns the manifest group.
 * `onFile` is called after each shard.
 */
export function writeShards(dir: string, prefix: string, tensors: readonly NamedTensor[], fsyncFiles = true, onFile?: () => void): ManifestGroup {
  const names = new Set<string>();
  const specs: tf.io.WeightsManifestEntry[] = [];
  const buffers: Buffer[] = [];
  for (const { name, tensor } of tensors) {
    if (names.has(name)) throw new Error(`duplicate weight name ${name}`);
    names.add(name);
    if (!(tensor.dtype in BYTES)) throw new Error(`weight ${name}: dtype ${tensor.dtype} cannot be saved (float32 and int32 only)`);
    const values = tensor.dataSync() as Float32Array | Int32Array;
    buffers.push(Buffer.from(values.buffer, values.byteOffset, values.byteLength));
    specs.push({ name, shape: [...tensor.shape], dtype: tensor.dtype as 'float32' | 'int32' });
  }
  const all = Buffer.concat(buffers);
  const n = Math.max(1, Math.ceil(all.length / SHARD_BYTES));
  const paths: string[] = [];
  for (let i = 0; i < n; i++) {
    const file = `${prefix}-shard${i + 1}of${n}.bin`;
    writeFileSynced(path.join(dir, file), all.subarray(i * SHARD_BYTES, Math.min(all.length, (i + 1) * SHARD_BYTES)), fsyncFiles);
    paths.push(file);
    onFile?.();
  }
  return { paths, weights: specs };
}

/** Write a file and (by default) fsync it, so that a rename after it publishes complete data. */
export function writeFileSynced(file: string, data: string | Uint8Array, fsync = true): void {
  const fd = fs.openSync(file, 'w');
  try {
    fs.writeSync(fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
    if (fsync) fs.fsyncSync(fd);
  } catch (e) {
    throw withPath(e, file);
  } finally {
    fs.closeSync(fd);
  }
}

function specBytes(spec: tf.io.WeightsManifestEntry): number {
  const count = spec.shape.reduce((a, b) => a * b, 1);
  if (spec.quantization) {
    const q = spec.quantization.dtype;
    return count * (q === 'uint8' ? 1 : 2);
  }
  const b = BYTES[spec.dtype];
  if (b === undefined) throw new Error(`unsupported dtype ${spec.dtype}`);
  return count * b;
}

/** Resolve a manifest path inside `dir`, refusing paths that leave it. */
function shardPath(dir: string, p: string, manifestFile: string): string {
  const full = path.resolve(dir, p);
  if (!isInside(full, dir) || full === path.resolve(dir)) {
    throw dataError(`${manifestFile} names a weights file outside its folder: ${p}`, { file: manifestFile, hint: 'the manifest is corrupt or not a weights manifest' });
  }
  return full;
}

/**
 * Read every group of a manifest whose shard paths are relative to `dir` and decode the weights
 * (tfjs's decoder, so quantized uint8/float16 weights of tfjs-converter output work too).
 * The caller owns the returned tensors.
 */
export function readShards(dir: string, groups: readonly ManifestGroup[], manifestFile: string): NamedTensor[] {
  const out: NamedTensor[] = [];
  try {
    for (const group of groups) {
      if (!Array.isArray(group.paths) || !Array.isArray(group.weights)) {
        throw dataError(`${manifestFile}: a weightsManifest group lacks "paths" or "weights"`, { file: manifestFile, hint: 'the manifest is corrupt' });
      }
      const parts: Buffer[] = [];
      for (const p of group.paths) {
        const file = shardPath(dir, p, manifestFile);
        try {
          parts.push(fs.readFileSync(file));
        } catch (e) {
          throw dataError(`cannot read weights shard ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, { file, hint: 'the weights folder is incomplete; copy it again or re-create it', cause: e });
        }
      }
      const data = Buffer.concat(parts);
      const need = group.weights.reduce((s, w) => s + specBytes(w), 0);
      if (data.length !== need) {
        throw dataError(`weights shards of ${manifestFile} hold ${data.length} bytes but the manifest describes ${need}`, {
          file: manifestFile,
          hint: 'a shard is truncated or belongs to another model; copy the folder again',
        });
      }
      const ab = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer;
      const map = tf.io.decodeWeights(ab, group.weights);
      for (const spec of group.weights) {
        const t = map[spec.name];
        if (!t) throw dataError(`${manifestFile}: weight ${spec.name} could not be decoded`, { file: manifestFile });
        out.push({ name: spec.name, tensor: t });
        checkFinite(spec.name, t, manifestFile);
      }
    }
  } catch (e) {
    tf.dispose(out.map((o) => o.tensor));
    throw e;
  }
  return out;
}

/** A weight holding NaN or ±Inf (a diverged run, a damaged file) is refused: it would predict one class everywhere. */
function checkFinite(name: string, t: tf.Tensor, manifestFile: string): void {
  if (t.dtype !== 'float32') return;
  const values = t.dataSync();
  const bad = values.findIndex((v) => !Number.isFinite(v));
  if (bad < 0) return;
  throw dataError(`${manifestFile}: weight ${name} holds a non-finite value (${values[bad]} at index ${bad})`, {
    file: manifestFile,
    hint: 'these weights come from a run that diverged or from a damaged file: use an earlier checkpoint',
  });
}

/** Read and parse a JSON file, with a data error naming it on failure. */
export function readJson(file: string, what: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw dataError(`cannot read ${what} ${file}${code === 'ENOENT' ? ': no such file' : `: ${code ?? String(e)}`}`, { file, cause: e });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw dataError(`${what} ${file} is not valid JSON: ${(e as Error).message}`, { file, hint: 'the file is corrupt; copy or re-create it', cause: e });
  }
}
