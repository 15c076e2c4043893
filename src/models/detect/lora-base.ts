/**
 * Which base model a LoRA was made for, from the strongest evidence available, in order:
 * training metadata (kohya `ss_base_model_version`/`ss_v2`, `modelspec.architecture`), SDXL's two text-encoder
 * prefixes, foreign (Flux/SD3) block names, the cross-attention `to_k` in-width at a released model's width
 * (768 SD1, 1024 SD2, 2048 SDXL, 1280 refiner), then UNet structure (transformer depth, attention at level 0,
 * 1x1-conv vs linear proj_in). Each answer says which key or field decided it.
 */
import type { LoraModule, LoraStructure } from './lora.ts'

export type LoraBaseId = 'sd1' | 'sd2' | 'sdxl-base' | 'sdxl-refiner' | 'sd3' | 'flux' | 'unknown'

export interface LoraBase {
  /** One entry when decided; several when the evidence cannot tell them apart (e.g. tiny LoHa: SD1 or SD2). */
  readonly candidates: readonly LoraBaseId[]
  readonly evidence: string
}

const METADATA_RULES: readonly { readonly field: string; readonly test: RegExp; readonly base: LoraBaseId }[] = [
  { field: 'ss_base_model_version', test: /^sdxl_refiner/, base: 'sdxl-refiner' },
  { field: 'ss_base_model_version', test: /^sdxl/, base: 'sdxl-base' },
  { field: 'ss_base_model_version', test: /^sd_v2/, base: 'sd2' },
  { field: 'ss_base_model_version', test: /^sd_v1/, base: 'sd1' },
  { field: 'ss_base_model_version', test: /^sd3/, base: 'sd3' },
  { field: 'ss_base_model_version', test: /^flux/, base: 'flux' },
  { field: 'ss_v2', test: /^True$/, base: 'sd2' },
  { field: 'modelspec.architecture', test: /^stable-diffusion-xl-v1-refiner/, base: 'sdxl-refiner' },
  { field: 'modelspec.architecture', test: /^stable-diffusion-xl/, base: 'sdxl-base' },
  { field: 'modelspec.architecture', test: /^stable-diffusion-v2/, base: 'sd2' },
  { field: 'modelspec.architecture', test: /^stable-diffusion-v1/, base: 'sd1' },
  { field: 'modelspec.architecture', test: /^stable-diffusion-v3/, base: 'sd3' },
  { field: 'modelspec.architecture', test: /^flux/, base: 'flux' },
]

const STANDARD_CONTEXT: Record<number, LoraBaseId> = { 768: 'sd1', 1024: 'sd2', 2048: 'sdxl-base', 1280: 'sdxl-refiner' }

const FOREIGN_BLOCKS: readonly { readonly pattern: RegExp; readonly base: LoraBaseId }[] = [
  { pattern: /(^|[._])(double_blocks|single_blocks|single_transformer_blocks)[._]/, base: 'flux' },
  { pattern: /(^|[._])joint_blocks[._]/, base: 'sd3' },
]

type ShapeOf = (key: string) => readonly number[] | undefined

const decided = (base: LoraBaseId, evidence: string): LoraBase => ({ candidates: [base], evidence })

function fromStructure(modules: readonly LoraModule[], shapeOf: ShapeOf): LoraBase | undefined {
  const unet = modules.filter((m) => m.component === 'unet')
  const deep = unet.find((m) => /transformer_blocks[._][1-9]/.test(m.name))
  if (deep) return decided('sdxl-base', `transformer depth > 1 (${deep.name}) only occurs in SDXL`)
  const level0 = unet.find((m) => /(down_blocks[._]0[._]attentions|input_blocks[._][12][._]1[._])/.test(m.name))
  if (!level0) return undefined
  return projInDecision(unet, shapeOf) ?? { candidates: ['sd1', 'sd2'],
    evidence: `attention at the first UNet level (${level0.name}) means SD1.x or SD2.x; proj_in's LoRA shape does not tell 1x1 conv from linear` }
}

/** Decides SD1 vs SD2 from the rank of proj_in's LoRA tensor (4-D = 1x1 conv = SD1; 2-D = linear = SD2). */
function projInDecision(modules: readonly LoraModule[], shapeOf: ShapeOf): LoraBase | undefined {
  const proj = modules.find((m) => /proj_in$/.test(m.name) && m.algorithm !== 'loha')
  const key = proj && (proj.parts.down ?? proj.parts.lokr_w2)
  const shape = key === undefined ? undefined : shapeOf(key)
  if (!shape) return undefined
  return shape.length === 4
    ? decided('sd1', `proj_in is a 1x1 conv (${key} [${shape.join(', ')}]) as in SD1.x`)
    : decided('sd2', `proj_in is linear (${key} [${shape.join(', ')}]) as in SD2.x`)
}

export function detectLoraBase(lora: LoraStructure, metadata: Readonly<Record<string, string>>, shapeOf: ShapeOf): LoraBase {
  for (const r of METADATA_RULES) {
    const v = metadata[r.field]
    if (v !== undefined && r.test.test(v)) return decided(r.base, `metadata ${r.field} = "${v}"`)
  }
  const te2 = lora.modules.find((m) => m.component === 'te2' || m.name.startsWith('lora_te1_'))
  if (te2) return decided('sdxl-base', `SDXL text-encoder module name ${te2.name}`)
  for (const f of FOREIGN_BLOCKS) {
    const m = lora.modules.find((x) => f.pattern.test(x.name))
    if (m) return decided(f.base, `module ${m.name}`)
  }
  const toK = lora.modules.find((m) => /attn2[._](processor[._])?to_k$/.test(m.name) && m.inDim !== undefined)
  if (toK && STANDARD_CONTEXT[toK.inDim!]) return decided(STANDARD_CONTEXT[toK.inDim!], `cross-attention ${toK.name} in-width ${toK.inDim}`)
  const structural = fromStructure(lora.modules, shapeOf)
  if (structural) return structural
  const teLayers = Math.max(-1, ...lora.modules.filter((m) => m.component === 'te1')
    .map((m) => Number(/layers[._](\d+)[._]/.exec(m.name)?.[1] ?? -1)))
  if (teLayers >= 12) return decided('sd2', `text-encoder layer ${teLayers} exists (CLIP-L has 12 layers; SD2's OpenCLIP 23)`)
  return { candidates: ['unknown'], evidence: 'no metadata, and neither key names nor widths identify the base model' }
}
