/**
 * The backbone registry: one line per backbone, for each name of names.ts (the config schema's
 * choices, without tfjs); src/models/build.ts builds the entry's `build` (contract in ./types.ts).
 */
import { buildMobileNetV2 } from './mobilenetv2.js';
import type { BackboneBuilder } from './types.js';
import type { BackboneName } from './names.js';

export const BACKBONES = Object.freeze({
  mobilenetv2: { build: buildMobileNetV2, summary: 'MobileNetV2 (Sandler et al. 2018), width multiplier MODEL.DEEPLAB.DEPTH_MULTIPLIER' },
} as const satisfies Record<BackboneName, { build: BackboneBuilder; summary: string }>);

export { BACKBONE_NAMES, type BackboneName } from './names.js';
