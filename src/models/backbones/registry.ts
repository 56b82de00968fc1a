/**
 * The backbone registry: one line per backbone. The config schema derives
 * MODEL.DEEPLAB.BACKBONE's valid values from these keys.
 */
export const BACKBONES = Object.freeze({
  mobilenetv2: { summary: 'MobileNetV2 (Sandler et al. 2018), width multiplier MODEL.DEEPLAB.DEPTH_MULTIPLIER' },
} as const);

export type BackboneName = keyof typeof BACKBONES;
export const BACKBONE_NAMES = Object.keys(BACKBONES) as BackboneName[];
