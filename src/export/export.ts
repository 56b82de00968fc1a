/**
 * `seg export`: write an inference model that plain tfjs loads with `tf.loadGraphModel`, plus the
 * preprocessing it expects (deploy.yaml and deploy.json), atomically to FREEZE.SAVE_DIR:
 *
 *   model.json               tfjs graph model (format 'graph-model'): input `image` [N, H, W, C]
 *                            float32 NHWC (H, W = EVAL_CROP_SIZE), output `probabilities` [N, H, W, K]
 *                            (softmax over NUM_CLASSES, or [1 − σ, σ] for a one-channel head)
 *   group1-shard<i>of<n>.bin its weights
 *   deploy.yaml, deploy.json size, MEAN, STD, IMAGE_TYPE, channels, NUM_CLASSES, class names, ...
 */
import * as path from 'node:path';
import * as yaml from 'js-yaml';
import type { SegConfig } from '../config/schema.js';
import type { DeepLabV3Plus } from '../models/build.js';
import { replaceDirAtomic } from '../util/atomic.js';
import { SHARD_BYTES, writeFileSynced } from '../checkpoint/weights_io.js';
import { GraphBuilder, GraphOps, type GraphTensor } from './graph.js';
import * as fs from 'node:fs';

export const INPUT_NAME = 'image';
export const OUTPUT_NAME = 'probabilities';

export interface ExportOptions {
  /** Input [height, width] (default: EVAL_CROP_SIZE). */
  inputSize?: readonly [number, number];
  /** Where the weights came from, recorded in deploy.yaml. */
  checkpoint?: string;
}

export interface ExportResult {
  dir: string;
  inputShape: number[];
  outputShape: number[];
  nodes: number;
  weightBytes: number;
  files: string[];
}

/** The graph of `model` for inference at [h, w]: nodes and constants. */
export function traceInferenceGraph(model: DeepLabV3Plus, inputSize: readonly [number, number]): { g: GraphBuilder; output: GraphTensor; input: GraphTensor } {
  const g = new GraphBuilder();
  const [h, w] = inputSize;
  const inputShape = [-1, h, w, model.inputChannels] as const;
  const input: GraphTensor = { name: g.placeholder(INPUT_NAME, inputShape), shape: inputShape };
  const ops = new GraphOps(g);
  const logits = model.forward(ops, input, { training: false, seed: 0 });
  let probs: string;
  if (model.headChannels === 1) {
    const p = g.op('Sigmoid', 'sigmoid', [logits.name], { T: { type: 'DT_FLOAT' } });
    const one = g.constant('one', Float32Array.from([1]), []);
    const q = g.op('Sub', 'one_minus_sigmoid', [one, p], { T: { type: 'DT_FLOAT' } });
    const axis = g.constant('probabilities/axis', Int32Array.from([3]), []);
    probs = g.op('ConcatV2', 'two_class', [q, p, axis], { T: { type: 'DT_FLOAT' }, N: { i: '2' }, Tidx: { type: 'DT_INT32' } });
  } else {
    probs = g.op('Softmax', 'softmax', [logits.name], { T: { type: 'DT_FLOAT' } });
  }
  const out = g.op('Identity', OUTPUT_NAME, [probs], { T: { type: 'DT_FLOAT' } });
  const k = model.headChannels === 1 ? 2 : model.headChannels;
  return { g, input, output: { name: out, shape: [-1, h, w, k] } };
}

const tensorShape = (shape: readonly number[]): { dim: Array<{ size: string }> } => ({ dim: shape.map((d) => ({ size: String(d) })) });

/** The deploy description: what a user must do to an image before feeding `image`. */
export function deployInfo(cfg: SegConfig, model: DeepLabV3Plus, inputShape: number[], outputShape: number[], checkpoint: string | undefined): Record<string, unknown> {
  return {
    DEPLOY: {
      MODEL_FORMAT: 'tfjs-graph-model',
      MODEL_FILENAME: 'model.json',
      LOAD_WITH: "tf.loadGraphModel('<url or path>/model.json')",
      INPUT_NAME,
      INPUT_SHAPE: inputShape,
      INPUT_LAYOUT: 'NHWC float32',
      OUTPUT_NAME,
      OUTPUT_SHAPE: outputShape,
      OUTPUT: model.headChannels === 1 ? 'probabilities [1 - sigmoid(logit), sigmoid(logit)] of classes 0 and 1' : 'softmax probabilities over NUM_CLASSES',
      EVAL_CROP_SIZE: cfg.EVAL_CROP_SIZE,
      IMAGE_TYPE: cfg.DATASET.IMAGE_TYPE,
      CHANNELS: cfg.DATASET.DATA_DIM,
      CHANNEL_ORDER: cfg.DATASET.IMAGE_TYPE === 'gray' ? 'gray repeated to 3 channels' : cfg.DATASET.IMAGE_TYPE === 'rgba' ? 'RGBA' : 'RGB',
      MEAN: cfg.MEAN,
      STD: cfg.STD,
      PADDING_VALUE: cfg.DATASET.PADDING_VALUE,
      PREPROCESS: 'value = (pixel / 255 - MEAN[c]) / STD[c] per channel; pad at the bottom/right to EVAL_CROP_SIZE with PADDING_VALUE (or resize as AUG_METHOD does for eval)',
      POSTPROCESS: 'class = argmax over the last axis; crop away the padding',
      NUM_CLASSES: cfg.DATASET.NUM_CLASSES,
      CLASS_NAMES: cfg.DATASET.CLASS_NAMES,
      MODEL: model.describe(),
      CHECKPOINT: checkpoint ?? null,
      GENERATED_BY: 'seg export',
    },
  };
}

/** Export `model` (weights already restored) to `dir`, replacing it atomically. */
export function exportModel(model: DeepLabV3Plus, cfg: SegConfig, dir: string, opts: ExportOptions = {}): ExportResult {
  const crop = cfg.EVAL_CROP_SIZE;
  const inputSize = opts.inputSize ?? ([crop[1], crop[0]] as const);
  if (inputSize.length !== 2 || !inputSize.every((d) => Number.isInteger(d) && d !== undefined && d > 0)) throw new Error(`exportModel: bad input size ${String(inputSize)}`);
  const { g, input, output } = traceInferenceGraph(model, inputSize as readonly [number, number]);

  // Weights: every Const node, in node order, in 4 MiB shards.
  const buffers = g.weights.map((w) => Buffer.from(w.data.buffer, w.data.byteOffset, w.data.byteLength));
  const all = Buffer.concat(buffers);
  const nShards = Math.max(1, Math.ceil(all.length / SHARD_BYTES));
  const paths = Array.from({ length: nShards }, (_, i) => `group1-shard${i + 1}of${nShards}.bin`);
  const modelJson = {
    format: 'graph-model',
    generatedBy: 'seg',
    convertedBy: 'seg export',
    signature: {
      inputs: { [INPUT_NAME]: { name: `${INPUT_NAME}:0`, dtype: 'DT_FLOAT', tensorShape: tensorShape(input.shape) } },
      outputs: { [OUTPUT_NAME]: { name: `${output.name}:0`, dtype: 'DT_FLOAT', tensorShape: tensorShape(output.shape) } },
    },
    modelTopology: { node: g.nodes, library: {}, versions: { producer: 1 } },
    weightsManifest: [{ paths, weights: g.weights.map((w) => ({ name: w.name, shape: w.shape, dtype: w.dtype })) }],
  };
  const deploy = deployInfo(cfg, model, [...input.shape], [...output.shape], opts.checkpoint);
  const files = ['model.json', ...paths, 'deploy.yaml', 'deploy.json'];
  replaceDirAtomic(
    dir,
    (tmp) => {
      paths.forEach((p, i) => writeFileSynced(path.join(tmp, p), all.subarray(i * SHARD_BYTES, Math.min(all.length, (i + 1) * SHARD_BYTES))));
      writeFileSynced(path.join(tmp, 'model.json'), JSON.stringify(modelJson));
      writeFileSynced(path.join(tmp, 'deploy.yaml'), yaml.dump(deploy, { lineWidth: 120, noRefs: true, flowLevel: 2 }));
      writeFileSynced(path.join(tmp, 'deploy.json'), JSON.stringify(deploy, null, 2));
    },
    (d) => fs.existsSync(path.join(d, 'model.json')) && fs.existsSync(path.join(d, 'deploy.yaml')),
  );
  return { dir: path.resolve(dir), inputShape: [...input.shape], outputShape: [...output.shape], nodes: g.nodes.length, weightBytes: all.length, files };
}
