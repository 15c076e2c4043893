/**
 * UNet families, identified from a measured UnetConfig through a typed table (style.md §2.2), not an if-chain.
 * A signature is structural (levels, attention placement, projection kind, label_emb), so it holds for the
 * real models and for tiny test models with the same key structure; the standard widths are reported beside it.
 * Sources: the LDM/sgm configs v1-inference.yaml, v2-inference(-v).yaml, sd_xl_base.yaml, sd_xl_refiner.yaml,
 * v2-1-stable-unclip-*.yaml (Stability-AI/stablediffusion, Stability-AI/generative-models).
 */
import type { Measured } from './key-index.ts'
import type { UnetConfig } from './unet-config.ts'

export interface UnetSignature {
  /** Resolution levels (channel_mult length). */
  readonly levels: number
  /** Which levels hold SpatialTransformers. */
  readonly attention: readonly boolean[]
  readonly projIn: 'conv' | 'linear'
  /** Has `label_emb` (a pooled/size vector input). */
  readonly labelEmb: boolean
}

export interface UnetFamily {
  readonly id: string
  readonly label: string
  readonly supported: boolean
  readonly signature: UnetSignature
  /** Widths of the released models, for the report (tiny test models differ). */
  readonly standard: { readonly modelChannels: number; readonly contextDim: number; readonly admInChannels?: number }
  /** What the weights cannot tell, said in the report. */
  readonly caveat?: string
}

const T = true
const F = false

export const UNET_FAMILIES = [
  { id: 'sd1', label: 'SD1.x', supported: true,
    signature: { levels: 4, attention: [T, T, T, F], projIn: 'conv', labelEmb: false },
    standard: { modelChannels: 320, contextDim: 768 } },
  { id: 'sd2', label: 'SD2.x', supported: true,
    signature: { levels: 4, attention: [T, T, T, F], projIn: 'linear', labelEmb: false },
    standard: { modelChannels: 320, contextDim: 1024 },
    caveat: 'epsilon vs v-prediction is not visible in the weights (768-v models need v; A1111 probes the model)' },
  { id: 'sdxl-base', label: 'SDXL base', supported: true,
    signature: { levels: 3, attention: [F, T, T], projIn: 'linear', labelEmb: true },
    standard: { modelChannels: 320, contextDim: 2048, admInChannels: 2816 } },
  { id: 'sdxl-refiner', label: 'SDXL refiner', supported: true,
    signature: { levels: 4, attention: [F, T, T, F], projIn: 'linear', labelEmb: true },
    standard: { modelChannels: 384, contextDim: 1280, admInChannels: 2560 } },
  { id: 'sd2-unclip', label: 'SD2.x unCLIP', supported: false,
    signature: { levels: 4, attention: [T, T, T, F], projIn: 'linear', labelEmb: true },
    standard: { modelChannels: 320, contextDim: 1024, admInChannels: 2048 } },
] as const satisfies readonly UnetFamily[]

export type UnetFamilyId = (typeof UNET_FAMILIES)[number]['id']

/** Variants by UNet input channels (the latent's 4 plus conditioning channels). */
export const UNET_VARIANTS = [
  { inChannels: 4, id: 'base', label: '' },
  { inChannels: 9, id: 'inpainting', label: 'inpainting' },
  { inChannels: 8, id: 'instruct-pix2pix', label: 'instruct-pix2pix' },
  { inChannels: 5, id: 'depth', label: 'depth-conditioned' },
] as const

export type UnetVariantId = (typeof UNET_VARIANTS)[number]['id'] | 'unknown'

export interface FamilyMatch {
  readonly family: UnetFamilyId | 'unknown'
  readonly label: string
  readonly variant: Measured<UnetVariantId>
  readonly supported: boolean
  /** True when model channels and context width equal the released model's (false for tiny test models). */
  readonly standardWidths: boolean
  /** Why it is or is not supported, in words. */
  readonly note: string
}

const sameSignature = (a: UnetSignature, b: UnetSignature): boolean =>
  a.levels === b.levels && a.projIn === b.projIn && a.labelEmb === b.labelEmb
  && a.attention.every((x, i) => x === b.attention[i])

export function measuredSignature(c: UnetConfig): UnetSignature | undefined {
  if (c.projIn === undefined) return undefined
  return {
    levels: c.levels.value.length,
    attention: c.levels.value.map((l) => l.transformerDepth > 0),
    projIn: c.projIn.value,
    labelEmb: c.admInChannels !== undefined,
  }
}

const describe = (s: UnetSignature): string =>
  `${s.levels} levels, attention at [${s.attention.map((a) => (a ? 1 : 0)).join(',')}], ${s.projIn} proj_in, ${s.labelEmb ? 'label_emb' : 'no label_emb'}`

export function identifyUnet(c: UnetConfig): FamilyMatch {
  const sig = measuredSignature(c)
  const fam = sig && UNET_FAMILIES.find((f) => sameSignature(f.signature, sig))
  const v = UNET_VARIANTS.find((x) => x.inChannels === c.inChannels.value)
  const variant: Measured<UnetVariantId> = { value: v?.id ?? 'unknown', from: c.inChannels.from }
  if (!sig || !fam) {
    return { family: 'unknown', label: 'unknown UNet', variant, supported: false, standardWidths: false,
      note: `UNet structure matches no known family (${sig ? describe(sig) : 'no attention blocks'})` }
  }
  const standardWidths = c.modelChannels.value === fam.standard.modelChannels && c.contextDim?.value === fam.standard.contextDim
  const variantOk = v !== undefined && (v.id !== 'depth' || fam.id === 'sd2')
  const label = `${fam.label}${v && v.label ? ` ${v.label}` : ''}`
  const supported = fam.supported && variantOk
  const note = !fam.supported ? `${fam.label} is recognised but not supported`
    : !variantOk ? `${c.inChannels.value} UNet input channels (${c.inChannels.from}) is not a known ${fam.label} variant`
      : `UNet structure (${describe(sig)}) and ${c.inChannels.value} input channels${'caveat' in fam ? `; ${fam.caveat}` : ''}`
  return { family: fam.id, label, variant, supported, standardWidths, note }
}
