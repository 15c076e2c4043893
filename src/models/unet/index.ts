/** Public API of the UNet: config from shapes, graph build, and a ready-to-run session. */
export { detectUnetConfig, headsFor, FAMILY_TABLE, FAMILY_LABELS, UNET_PREFIX } from '../config/unet-config.ts'
export type { UnetConfig, UnetFamily, HeadRule, DetectOptions, UnetConfigField } from '../config/unet-config.ts'
export { buildUnetGraph, UNET_INPUTS, UNET_OUTPUT } from './unet-graph.ts'
export type { UnetGraph, UnetGraphOptions, UnetShapeSource } from './unet-graph.ts'
export { UnetSession, checkUnetInputs } from './unet-session.ts'
export type { UnetInputs, UnetSessionOptions } from './unet-session.ts'
export type { AttentionKind } from './spatial-transformer.ts'
