/**
 * Textual-inversion embeddings. Formats (design.md "Embeddings"):
 *   A1111 .pt   {string_to_param: {'*': [n, dim]}, string_to_token, name, step, sd_checkpoint_name}
 *               (the pickle reader flattens nested dicts with '.', so the tensor is `string_to_param.*`);
 *   .safetensors {emb_params: [n, dim]};
 *   SDXL        {clip_l: [n, 768], clip_g: [n, 1280]} (both required, as A1111 checks);
 *   diffusers   learned_embeds.bin/.safetensors {"<token>": [dim] or [n, dim]} (one float tensor named after the token).
 */
import { isFloatDType } from '../../core/dtype.ts'
import type { KeyIndex, Measured } from './key-index.ts'

export type EmbeddingFormat = 'a1111-pt' | 'a1111-safetensors' | 'sdxl' | 'diffusers'

export interface EmbeddingVectors {
  /** Which text encoder the vectors feed: 'clip' for single-encoder models, or the SDXL encoder. */
  readonly encoder: 'clip' | 'clip_l' | 'clip_g'
  readonly count: number
  readonly dim: Measured<number>
}

export interface EmbeddingReport {
  readonly format: EmbeddingFormat
  readonly vectors: readonly EmbeddingVectors[]
  /** Vector count (tokens it takes in a prompt). */
  readonly vectorCount: number
  /** Base models it fits: by layout for SDXL (clip_l + clip_g), else by width (empty for non-standard widths). */
  readonly compatible: readonly ('sd1' | 'sd2' | 'sdxl')[]
  readonly compatibility: string
}

const STANDARD_WIDTHS: Record<number, 'sd1' | 'sd2'> = { 768: 'sd1', 1024: 'sd2' }

function vec(ix: KeyIndex, key: string, encoder: EmbeddingVectors['encoder']): EmbeddingVectors | undefined {
  const s = ix.shape(key)
  if (s === undefined || s.length < 1 || s.length > 2) return undefined
  return { encoder, count: s.length === 2 ? s[0] : 1, dim: { value: s[s.length - 1], from: key } }
}

function single(format: EmbeddingFormat, v: EmbeddingVectors): EmbeddingReport {
  const fam = STANDARD_WIDTHS[v.dim.value]
  return { format, vectors: [v], vectorCount: v.count, compatible: fam ? [fam] : [],
    compatibility: fam ? `${fam === 'sd1' ? 'SD1.x' : 'SD2.x'} (width ${v.dim.value})` : `width ${v.dim.value} matches no released model (768 SD1.x, 1024 SD2.x)` }
}

export function detectEmbedding(ix: KeyIndex): EmbeddingReport | undefined {
  const keys = ix.keys
  const l = ix.has('clip_l') ? vec(ix, 'clip_l', 'clip_l') : undefined
  const g = ix.has('clip_g') ? vec(ix, 'clip_g', 'clip_g') : undefined
  if (l && g && keys.length === 2) {
    const std = l.dim.value === 768 && g.dim.value === 1280
    return { format: 'sdxl', vectors: [l, g], vectorCount: g.count, compatible: ['sdxl'],
      compatibility: std ? 'SDXL (768 + 1280)' : `SDXL layout, widths ${l.dim.value} + ${g.dim.value} (released SDXL: 768 + 1280)` }
  }
  const pt = keys.filter((k) => k.startsWith('string_to_param.'))
  if (pt.length === 1) { const v = vec(ix, pt[0], 'clip'); if (v) return single('a1111-pt', v) }
  if (keys.length === 1 && keys[0] === 'emb_params') { const v = vec(ix, 'emb_params', 'clip'); if (v) return single('a1111-safetensors', v) }
  // diffusers' textual inversion saves {token: vector} as learned_embeds.bin (pickle) or .safetensors; a dotted
  // name is a module path, not a token, so such single-tensor files are left to the other detectors.
  if (keys.length === 1 && !keys[0].includes('.') && isFloatDType(ix.info(keys[0]).dtype)) { const v = vec(ix, keys[0], 'clip'); if (v) return single('diffusers', v) }
  return undefined
}
