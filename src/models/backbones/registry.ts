/**
 * The backbone registry: one line per backbone. The config schema derives
 * MODEL.DEEPLAB.BACKBONE's valid values from these keys; src/models/build.ts builds the entry's
 * `build` (contract in ./types.ts).
 */
import { buildMobileNetV2 } from './mobilenetv2.js';
import type { BackboneBuilder } from './types.js';

export const BACKBONES = Object.freeze({
  mobilenetv2: { build: buildMobileNetV2, summary: 'MobileNetV2 (Sandler et al. 2018), width multiplier MODEL.DEEPLAB.DEPTH_MULTIPLIER' },
} as const satisfies Record<string, { build: BackboneBuilder; summary: string }>);

export type BackboneName = keyof typeof BACKBONES;
export const BACKBONE_NAMES = Object.keys(BACKBONES) as BackboneName[];
