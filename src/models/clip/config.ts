/*
 * Text-encoder config measured from tensor shapes, so the tiny reference models and the real 0.5–2.8 GB towers run
 * the same code. Two namings exist:
 *  - 'clip': HF transformers CLIPTextModel (SD1 `cond_stage_model.transformer.text_model.`, SDXL CLIP-L
 *    `conditioner.embedders.0.transformer.text_model.`), quick_gelu MLP.
 *  - 'open-clip': open_clip text tower (SD2 `cond_stage_model.model.`, SDXL bigG `conditioner.embedders.1.model.`),
 *    exact-erf gelu MLP, fused q/k/v `in_proj_weight` [3C, C], `text_projection` [C, E] used as x @ P.
 * The head count is the one field shapes do not carry; see `headsForWidth`.
 */
import { UnknownModelError } from '../../core/errors.ts'
import type { ShapeSource } from '../../nn/module.ts'

export type TextEncoderKind = 'clip' | 'open-clip'

export interface TextEncoderConfig {
  readonly kind: TextEncoderKind
  /** Key prefix of the tower, ending in '.' (e.g. 'cond_stage_model.transformer.text_model.'). */
  readonly prefix: string
  readonly vocab: number
  /** Sequence length = rows of the position embedding (77). */
  readonly positions: number
  readonly width: number
  readonly layers: number
  readonly heads: number
  readonly mlpWidth: number
  /** open_clip `text_projection` output width E (pooled = x @ P); undefined for HF CLIP. */
  readonly projectionDim: number | undefined
}

/**
 * Released CLIP text towers use 64-wide heads (CLIP-L 768/12, ViT-H 1024/16, bigG 1280/20); the tiny reference models
 * use 4 heads of 8 at width 32. Widths outside the table fall back to width/64 when that divides evenly.
 */
const HEADS_BY_WIDTH: Readonly<Record<number, number>> = { 32: 4, 768: 12, 1024: 16, 1280: 20 }

export function headsForWidth(file: string, width: number): number {
  const known = HEADS_BY_WIDTH[width]
  if (known !== undefined) return known
  if (width % 64 === 0) return width / 64
  throw new UnknownModelError(file, `text encoder width ${width} is neither a known CLIP width (32, 768, 1024, 1280) `
    + 'nor a multiple of 64, so its attention head count cannot be inferred. Hint: this is not an SD text encoder.')
}

function dim(src: ShapeSource, key: string, axis: number, what: string): number {
  if (!src.has(key)) {
    throw new UnknownModelError(src.file, `tensor "${key}" not found while measuring the ${what}. `
      + 'Hint: check the key prefix (SD1 "cond_stage_model.transformer.text_model.", SD2 "cond_stage_model.model.").')
  }
  return src.shape(key)[axis]
}

function countLayers(src: ShapeSource, template: (i: number) => string): number {
  let n = 0
  while (src.has(template(n))) n++
  return n
}

/** Measures a tower of the given naming under `prefix`. Throws UnknownModelError when its probe tensors are absent. */
export function measureTextEncoder(src: ShapeSource, kind: TextEncoderKind, prefix: string): TextEncoderConfig {
  return kind === 'clip' ? measureClip(src, prefix) : measureOpenClip(src, prefix)
}

function measureClip(src: ShapeSource, p: string): TextEncoderConfig {
  const what = 'CLIP text encoder'
  const width = dim(src, `${p}embeddings.token_embedding.weight`, 1, what)
  const layers = countLayers(src, (i) => `${p}encoder.layers.${i}.layer_norm1.weight`)
  if (layers === 0) dim(src, `${p}encoder.layers.0.layer_norm1.weight`, 0, what)
  return {
    kind: 'clip', prefix: p, width, layers,
    vocab: dim(src, `${p}embeddings.token_embedding.weight`, 0, what),
    positions: dim(src, `${p}embeddings.position_embedding.weight`, 0, what),
    heads: headsForWidth(src.file, width),
    mlpWidth: dim(src, `${p}encoder.layers.0.mlp.fc1.weight`, 0, what),
    projectionDim: undefined,
  }
}

function measureOpenClip(src: ShapeSource, p: string): TextEncoderConfig {
  const what = 'OpenCLIP text encoder'
  const width = dim(src, `${p}token_embedding.weight`, 1, what)
  const layers = countLayers(src, (i) => `${p}transformer.resblocks.${i}.ln_1.weight`)
  if (layers === 0) dim(src, `${p}transformer.resblocks.0.ln_1.weight`, 0, what)
  return {
    kind: 'open-clip', prefix: p, width, layers,
    vocab: dim(src, `${p}token_embedding.weight`, 0, what),
    positions: dim(src, `${p}positional_embedding`, 0, what),
    heads: headsForWidth(src.file, width),
    mlpWidth: dim(src, `${p}transformer.resblocks.0.mlp.c_fc.weight`, 0, what),
    projectionDim: src.has(`${p}text_projection`) ? src.shape(`${p}text_projection`)[1] : undefined,
  }
}

/** Key of the token-embedding table (looked up on the host, never a graph input). */
export const tokenEmbeddingKey = (c: Pick<TextEncoderConfig, 'kind' | 'prefix'>): string =>
  c.kind === 'clip' ? `${c.prefix}embeddings.token_embedding.weight` : `${c.prefix}token_embedding.weight`
