/**
 * seg's own network for the benchmark: buildModel() from src/models/build.ts with the default
 * DeepLabv3+/MobileNetV2 configuration (x1.0, OS16, separable ASPP 6/12/18 with image pooling,
 * concat decoder), NUM_CLASSES classes, training mode (batch-statistics BN, dropout).
 */
import { resolveConfig } from '../src/config/resolve.js';
import { buildModel } from '../src/models/build.js';
import type { BenchModel } from './model.js';

/** seg's DeepLabv3+/MobileNetV2 as `seg train` builds it. */
export function segBenchModel(numClasses: number, size: number): BenchModel {
  const crop = `(${size}, ${size})`;
  const { config } = resolveConfig({
    overrides: ['DATASET.NUM_CLASSES', String(numClasses), 'TRAIN_CROP_SIZE', crop, 'EVAL_CROP_SIZE', crop, 'MODEL.DEEPLAB.BACKBONE', 'mobilenetv2'],
  });
  const model = buildModel(config, { seed: 1 });
  let call = 0;
  return {
    variables: model.trainableVariables(),
    forward: (x) => model.apply(x, { training: true, seed: call++ }),
    params: model.parameterCount('trainable'),
    description: model.describe(),
  };
}
