/**
 * Full models and their parts: checkpoint | unet-only | vae | text-encoder | controlnet.
 * The UNet decides the family (families.ts); text encoders and the VAE are reported beside it and checked
 * against it, so a mismatched part is a note, not a silent guess.
 */
import type { KeyIndex, Measured } from './key-index.ts'
import { findTextEncoders, findVae, type TextEncoderConfig, type VaeConfig } from './components.ts'
import { identifyUnet, type FamilyMatch, type UnetFamilyId } from './families.ts'
import { measureDiffusersUnet, measureLdmUnet, type UnetConfig } from './unet-config.ts'

export type ComponentKind = 'checkpoint' | 'unet-only' | 'vae' | 'text-encoder' | 'controlnet'

export interface ComponentsReport {
  readonly kind: ComponentKind
  readonly family: FamilyMatch | undefined
  readonly unet: UnetConfig | undefined
  readonly vae: VaeConfig | undefined
  readonly textEncoders: readonly TextEncoderConfig[]
  readonly notes: readonly string[]
}

const UNET_PROBES = [
  { layout: 'ldm', prefix: 'model.diffusion_model.' },
  { layout: 'ldm', prefix: 'diffusion_model.' },
  { layout: 'ldm', prefix: '' },
  { layout: 'diffusers', prefix: '' },
  { layout: 'diffusers', prefix: 'unet.' },
] as const

const CONTROLNET_PROBES = [
  { hint: 'control_model.input_hint_block.0.weight', prefix: 'control_model.' },
  { hint: 'input_hint_block.0.weight', prefix: '' },
] as const

function findUnet(ix: KeyIndex): UnetConfig | undefined {
  for (const p of UNET_PROBES) {
    const c = p.layout === 'ldm' ? measureLdmUnet(ix, p.prefix) : measureDiffusersUnet(ix, p.prefix)
    if (c) return c
  }
  return undefined
}

/** Which text-encoder slots each family's checkpoints carry (for consistency notes). */
const EXPECTED_ENCODERS: Record<UnetFamilyId, readonly string[]> = {
  'sd1': ['cond_stage_model.transformer.'],
  'sd2': ['cond_stage_model.model.'],
  'sdxl-base': ['conditioner.embedders.0.transformer.', 'conditioner.embedders.1.model.'],
  'sdxl-refiner': ['conditioner.embedders.0.model.'],
  'sd2-unclip': ['cond_stage_model.model.'],
}

function encoderNotes(family: FamilyMatch, encoders: readonly TextEncoderConfig[]): string[] {
  if (family.family === 'unknown' || encoders.length === 0) return []
  const expected = EXPECTED_ENCODERS[family.family]
  const prefixes = encoders.map((e) => e.layout.prefix)
  const ok = expected.every((e) => prefixes.some((p) => p.startsWith(e))) && prefixes.length === expected.length
  return ok ? [] : [`text encoder layout (${prefixes.join(', ')}) is not what a ${family.label} checkpoint carries (${expected.join(', ')})`]
}

function contextNote(unet: UnetConfig, encoders: readonly TextEncoderConfig[]): string[] {
  if (unet.contextDim === undefined || encoders.length === 0) return []
  const sum = encoders.reduce((s, e) => s + e.width.value, 0)
  return sum === unet.contextDim.value ? []
    : [`UNet context width ${unet.contextDim.value} (${unet.contextDim.from}) differs from the text encoders' total width ${sum}`]
}

/** Detects a checkpoint or one of its parts; undefined when the file holds none of them. */
export function detectComponents(ix: KeyIndex): ComponentsReport | undefined {
  const cn = CONTROLNET_PROBES.find((p) => ix.has(p.hint))
  if (cn) {
    const unet = measureLdmUnet(ix, cn.prefix)
    return { kind: 'controlnet', family: unet && identifyUnet(unet), unet, vae: undefined, textEncoders: [],
      notes: ['ControlNet models are recognised but not supported yet'] }
  }
  const unet = findUnet(ix)
  const vae = findVae(ix)
  const textEncoders = findTextEncoders(ix)
  if (!unet) {
    if (vae && textEncoders.length === 0) return { kind: 'vae', family: undefined, unet, vae, textEncoders, notes: vaeNotes(vae) }
    if (textEncoders.length > 0) return { kind: 'text-encoder', family: undefined, unet, vae, textEncoders, notes: [] }
    return undefined
  }
  const family = identifyUnet(unet)
  const kind: ComponentKind = vae || textEncoders.length > 0 ? 'checkpoint' : 'unet-only'
  const notes = [...encoderNotes(family, textEncoders), ...contextNote(unet, textEncoders), ...(vae ? vaeNotes(vae) : [])]
  return { kind, family, unet, vae, textEncoders, notes }
}

function vaeNotes(vae: VaeConfig): string[] {
  const lc: Measured<number> = vae.latentChannels
  return lc.value === 4 ? [] : [`VAE with ${lc.value} latent channels (${lc.from}) belongs to another model family (SD3/Flux use 16); not supported`]
}
