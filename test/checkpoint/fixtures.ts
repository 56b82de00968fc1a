/**
 * Test fixtures for pretrained weights: a Keras MobileNetV2 in tfjs-converter's layers format
 * (model.json with a Keras topology and `<layer>/<weight>` names, float32 shards), built from
 * torchvision's unit structure (test/models/fixtures/torchvision_mobilenetv2.json) so that the
 * shapes do not come from seg's own code; and a minimal store-only ZIP writer.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT } from '../helpers/cli.js';
import { Rng } from '../../src/util/rng.js';

interface TvUnit {
  cin: number;
  hidden: number;
  cout: number;
  expand: boolean;
}

export interface KerasFixture {
  /** Keras weight name → values. */
  values: Map<string, Float32Array>;
  shapes: Map<string, number[]>;
}

/** Write `<dir>/model.json` + `<dir>/group1-shard1of1.bin` for Keras MobileNetV2 at `width` (no top). */
export function writeKerasMobileNetV2(dir: string, width: '0.5' | '1.0', seed = 1): KerasFixture {
  const tv = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'test', 'models', 'fixtures', 'torchvision_mobilenetv2.json'), 'utf8')) as {
    widths: Record<string, { stem: number; units: TvUnit[] }>;
  };
  const arch = tv.widths[width];
  if (!arch) throw new Error(`no torchvision structure for ${width}`);
  const weights: Array<[string, number[]]> = [];
  const conv = (layer: string, shape: number[], depthwise = false): void => void weights.push([`${layer}/${depthwise ? 'depthwise_kernel' : 'kernel'}`, shape]);
  const bn = (layer: string, c: number): void => {
    for (const p of ['gamma', 'beta', 'moving_mean', 'moving_variance']) weights.push([`${layer}/${p}`, [c]]);
  };
  conv('Conv1', [3, 3, 3, arch.stem]);
  bn('bn_Conv1', arch.stem);
  arch.units.forEach((u, i) => {
    const name = i === 0 ? 'expanded_conv' : `block_${i}`;
    if (u.expand) {
      conv(`${name}_expand`, [1, 1, u.cin, u.hidden]);
      bn(`${name}_expand_BN`, u.hidden);
    }
    conv(`${name}_depthwise`, [3, 3, u.hidden, 1], true);
    bn(`${name}_depthwise_BN`, u.hidden);
    conv(`${name}_project`, [1, 1, u.hidden, u.cout]);
    bn(`${name}_project_BN`, u.cout);
  });
  const last = arch.units[arch.units.length - 1] as TvUnit;
  conv('Conv_1', [1, 1, last.cout, 1280]);
  bn('Conv_1_bn', 1280);

  const rng = new Rng(seed);
  const values = new Map<string, Float32Array>();
  const shapes = new Map<string, number[]>();
  const chunks: Buffer[] = [];
  for (const [name, shape] of weights) {
    const v = new Float32Array(shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < v.length; i++) v[i] = name.endsWith('moving_variance') ? 0.5 + rng.random() : rng.normal() * 0.1;
    values.set(name, v);
    shapes.set(name, shape);
    chunks.push(Buffer.from(v.buffer));
  }
  const modelName = `mobilenetv2_${Number(width).toFixed(2)}_224`;
  const layers = [...new Set(weights.map(([n]) => n.split('/')[0] as string))].map((name) => ({
    class_name: name.startsWith('bn') || name.endsWith('_BN') || name.endsWith('_bn') ? 'BatchNormalization' : name.endsWith('_depthwise') ? 'DepthwiseConv2D' : 'Conv2D',
    config: { name, trainable: true },
    name,
    inbound_nodes: [],
  }));
  const model = {
    format: 'layers-model',
    generatedBy: 'keras v2.15.0',
    convertedBy: 'TensorFlow.js Converter v4.22.0',
    modelTopology: {
      keras_version: '2.15.0',
      backend: 'tensorflow',
      model_config: { class_name: 'Functional', config: { name: modelName, layers: [{ class_name: 'InputLayer', config: { batch_input_shape: [null, 224, 224, 3], dtype: 'float32', name: 'input_1' }, name: 'input_1', inbound_nodes: [] }, ...layers] } },
    },
    weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: weights.map(([name, shape]) => ({ name, shape, dtype: 'float32' })) }],
  };
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(model));
  fs.writeFileSync(path.join(dir, 'group1-shard1of1.bin'), Buffer.concat(chunks));
  return { values, shapes };
}

export { zipStore } from '../helpers/zip.js';
