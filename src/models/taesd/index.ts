/** TAESD, the tiny autoencoder: fast decode and live previews (A1111's cheap projection is pipeline/latent-preview.ts). */
export { findTaesd, TAESD_FOLDERS, type FindTaesdOptions, type TaesdFamily } from './find.ts'
export { buildTaesdGraph, type BuiltTaesdGraph } from './graph.ts'
export { DECODER_LAYOUT, ENCODER_LAYOUT, measureTaesd, taesdTree, type TaesdConfig } from './layout.ts'
export { TaesdDecoder, TaesdEncoder, type TaesdOptions } from './session.ts'
