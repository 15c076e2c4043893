/** Text encoders (CLIP-L, OpenCLIP ViT-H / bigG) and A1111 prompt conditioning. */
export { headsForWidth, measureTextEncoder, tokenEmbeddingKey, type TextEncoderConfig, type TextEncoderKind } from './config.ts'
export { embedTokens, type EmbeddingFix, type TextWeights } from './embed.ts'
export { applyEmphasis, type EmphasisMode } from './emphasis.ts'
export { encodeChunks, encoderTokens, type EncodedPrompt, type PromptChunk } from './encode.ts'
export {
  encodeSdxlConditioning, SDXL_REFINER_AESTHETIC, sdxlRefinerEmbedding, sdxlSizeEmbedding, sdxlSizeFor,
  type SdxlConditioning, type SdxlPromptChunks, type SdxlSizeConditioning,
} from './sdxl-conditioning.ts'
export { argmaxId, TEXT_ENCODER_PRESETS, TextEncoderSession, type TextEncoderResult, type TextEncoderSpec } from './text-encoder.ts'
export { buildTextEncoderGraph, type TextEncoderOutputs } from './tower.ts'
