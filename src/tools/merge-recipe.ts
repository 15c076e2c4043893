/**
 * The merge recipe A1111's Checkpoint Merger writes into a merged file's metadata (modules/extras.py
 * `run_modelmerger`, webui v1.6+): `sd_merge_recipe` (JSON: method, multiplier, model hashes, options) and
 * `sd_merge_models` (JSON: sha256 → {name, legacy_hash, sd_merge_recipe} for every input, plus the inputs' own
 * `sd_merge_models`, so a merge of merges keeps its whole family tree).
 */
import { basename } from 'node:path'
import type { TensorSource } from '../formats/tensor-source.ts'
import { hashFile } from './hash.ts'

export type MergeMethod = 'weighted-sum' | 'add-difference' | 'no-interpolation'

/** A1111's `interp_method` labels. */
export const A1111_METHOD: Readonly<Record<MergeMethod, string>> = {
  'weighted-sum': 'Weighted sum', 'add-difference': 'Add difference', 'no-interpolation': 'No interpolation',
}

export interface RecipeInput {
  readonly method: MergeMethod
  readonly multiplier: number
  readonly saveAsHalf: boolean
  readonly customName: string
  readonly bakeInVae: string
  readonly discardWeights: string
  readonly isInpainting: boolean
  readonly isInstructPix2Pix: boolean
  /** Per-block weights (sdloom's addition; A1111's own merger has none). */
  readonly blockWeights?: string
}

/** A1111 parses metadata values that look like JSON objects; so do we, to nest an input's recipe as an object. */
const parseJsonish = (v: string | undefined): unknown => {
  if (v === undefined) return null
  if (!v.trimStart().startsWith('{')) return v
  try { return JSON.parse(v) } catch { return v }
}

interface ModelEntry { readonly sha256: string; readonly legacy: string }

async function entryOf(source: TensorSource): Promise<ModelEntry> {
  const h = await hashFile(source.file, ['sha256', 'autov1'])
  return { sha256: h.sha256, legacy: h.autov1 }
}

/** The two metadata strings, hashing the inputs (cached by tools/hash.ts). */
export async function mergeRecipeMetadata(inputs: readonly (TensorSource | undefined)[], r: RecipeInput): Promise<Record<string, string>> {
  const entries = await Promise.all(inputs.map((s) => (s ? entryOf(s) : undefined)))
  const recipe = {
    type: 'webui',
    primary_model_hash: entries[0]?.sha256 ?? null,
    secondary_model_hash: entries[1]?.sha256 ?? null,
    tertiary_model_hash: entries[2]?.sha256 ?? null,
    interp_method: A1111_METHOD[r.method],
    multiplier: r.multiplier,
    save_as_half: r.saveAsHalf,
    custom_name: r.customName,
    config_source: 0,
    bake_in_vae: r.bakeInVae,
    discard_weights: r.discardWeights,
    is_inpainting: r.isInpainting,
    is_instruct_pix2pix: r.isInstructPix2Pix,
    ...(r.blockWeights ? { block_weights: r.blockWeights } : {}),
  }
  const models: Record<string, unknown> = {}
  inputs.forEach((s, i) => {
    const e = entries[i]
    if (!s || !e) return
    models[e.sha256] = { name: basename(s.file), legacy_hash: e.legacy, sd_merge_recipe: parseJsonish(s.metadata.sd_merge_recipe) }
    const nested = parseJsonish(s.metadata.sd_merge_models)
    if (nested && typeof nested === 'object') Object.assign(models, nested)
  })
  return { sd_merge_recipe: JSON.stringify(recipe), sd_merge_models: JSON.stringify(models) }
}
