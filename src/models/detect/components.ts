/**
 * Text encoders and VAEs found by key layout, measured from shapes.
 * Layouts (design.md "Checkpoint layouts"): SD1 `cond_stage_model.transformer.text_model.*` (HF CLIP naming; old files
 * lack `text_model.`), SD2 `cond_stage_model.model.*` (OpenCLIP), SDXL `conditioner.embedders.0.transformer.*` (CLIP-L)
 * + `conditioner.embedders.1.model.*` (OpenCLIP bigG), refiner `conditioner.embedders.0.model.*` (bigG only);
 * standalone files use the same names without the prefix.
 */
import type { KeyIndex, Measured } from './key-index.ts'

export interface TextEncoderLayout {
  readonly prefix: string
  readonly naming: 'hf-clip' | 'open-clip'
  /** Which encoder of the model this is (SDXL has two). */
  readonly slot: 'te' | 'te1' | 'te2'
  /** What this slot holds in the released models. */
  readonly role: string
}

export const TEXT_ENCODER_LAYOUTS = [
  { prefix: 'cond_stage_model.transformer.text_model.', naming: 'hf-clip', slot: 'te', role: 'CLIP ViT-L/14 (SD1.x)' },
  { prefix: 'cond_stage_model.transformer.', naming: 'hf-clip', slot: 'te', role: 'CLIP ViT-L/14 (SD1.x)' },
  { prefix: 'cond_stage_model.model.', naming: 'open-clip', slot: 'te', role: 'OpenCLIP ViT-H/14 (SD2.x)' },
  { prefix: 'conditioner.embedders.0.transformer.text_model.', naming: 'hf-clip', slot: 'te1', role: 'CLIP ViT-L/14 (SDXL)' },
  { prefix: 'conditioner.embedders.1.model.', naming: 'open-clip', slot: 'te2', role: 'OpenCLIP ViT-bigG/14 (SDXL)' },
  { prefix: 'conditioner.embedders.0.model.', naming: 'open-clip', slot: 'te2', role: 'OpenCLIP ViT-bigG/14 (SDXL refiner)' },
  { prefix: 'text_model.', naming: 'hf-clip', slot: 'te', role: 'CLIP text model (standalone)' },
  { prefix: '', naming: 'open-clip', slot: 'te', role: 'OpenCLIP text tower (standalone)' },
] as const satisfies readonly TextEncoderLayout[]

export interface TextEncoderConfig {
  readonly layout: TextEncoderLayout
  readonly width: Measured<number>
  readonly layers: number
  readonly vocab: number
  /** text_projection output width, where the file has one. */
  readonly projectionDim: Measured<number> | undefined
}

function measureEncoder(ix: KeyIndex, l: TextEncoderLayout): TextEncoderConfig | undefined {
  const p = l.prefix
  const tok = l.naming === 'hf-clip' ? `${p}embeddings.token_embedding.weight` : `${p}token_embedding.weight`
  const layerTemplate = l.naming === 'hf-clip' ? `${p}encoder.layers.{i}.` : `${p}transformer.resblocks.{i}.`
  const width = ix.dim(tok, 1)
  const vocab = ix.dim(tok, 0)
  if (width === undefined || vocab === undefined) return undefined
  const proj = l.naming === 'open-clip' ? ix.dim(`${p}text_projection`, 1) : ix.dim(`${p.replace(/text_model\.$/, '')}text_projection.weight`, 0)
  return { layout: l, width, layers: ix.countIndexed(layerTemplate), vocab: vocab.value, projectionDim: proj }
}

/** Every text encoder present; a prefix claimed by one layout is not reported again by a shorter one. */
export function findTextEncoders(ix: KeyIndex): TextEncoderConfig[] {
  const found: TextEncoderConfig[] = []
  for (const l of TEXT_ENCODER_LAYOUTS) {
    if (found.some((f) => f.layout.slot === l.slot && f.layout.prefix.startsWith(l.prefix))) continue
    const c = measureEncoder(ix, l)
    if (c) found.push(c)
  }
  return found
}

export interface VaeConfig {
  readonly prefix: string
  readonly layout: 'ldm' | 'diffusers'
  readonly baseChannels: Measured<number>
  readonly latentChannels: Measured<number>
  readonly levels: number
  readonly hasEncoder: boolean
}

const VAE_PREFIXES = ['first_stage_model.', 'vae.', ''] as const

export function findVae(ix: KeyIndex): VaeConfig | undefined {
  for (const p of VAE_PREFIXES) {
    const latent = ix.dim(`${p}decoder.conv_in.weight`, 1)
    if (latent === undefined) continue
    const layout = ix.hasPrefix(`${p}decoder.up_blocks.`) ? 'diffusers' : 'ldm'
    const up = layout === 'ldm' ? `${p}decoder.up.{i}.` : `${p}decoder.up_blocks.{i}.`
    const base = ix.dim(`${p}encoder.conv_in.weight`, 0) ?? ix.dim(`${p}decoder.conv_out.weight`, 1)
    if (base === undefined) continue
    return { prefix: p, layout, baseChannels: base, latentChannels: latent, levels: ix.countIndexed(up), hasEncoder: ix.hasPrefix(`${p}encoder.`) }
  }
  return undefined
}
