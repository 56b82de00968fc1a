/** The backbone names, without tfjs: the config schema's choices. registry.ts gives each its builder. */
export const BACKBONE_NAMES = ['mobilenetv2'] as const;
export type BackboneName = (typeof BACKBONE_NAMES)[number];

export const isBackboneName = (name: string): name is BackboneName => (BACKBONE_NAMES as readonly string[]).includes(name);

/**
 * The backbone seg builds for a MODEL.DEEPLAB.BACKBONE value, by pdseg's rule (deeplab.py tests
 * substrings): a name containing 'mobilenet' but not 'v3' ('mobilenet', 'mobilenetv2', ...) is
 * MobileNetV2. Undefined for pdseg's xception, resnet and mobilenetv3 backbones, which seg does not build.
 */
export function backboneOf(name: string): BackboneName | undefined {
  if (isBackboneName(name)) return name;
  return name.includes('mobilenet') && !name.includes('v3') ? 'mobilenetv2' : undefined;
}
