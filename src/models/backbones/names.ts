/** The backbone names, without tfjs: the config schema's choices. registry.ts gives each its builder. */
export const BACKBONE_NAMES = ['mobilenetv2'] as const;
export type BackboneName = (typeof BACKBONE_NAMES)[number];
