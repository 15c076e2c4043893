/*
 * UNet architecture config, measured from tensor shapes (style.md §2.2: "config comes from shapes").
 * Walks the LDM/sgm `openaimodel.UNetModel` key layout under `model.diffusion_model.`:
 *   input_blocks.0.0           conv_in            [mc, in, 3, 3]
 *   input_blocks.i.0           ResBlock (in_layers.2 [ch, chIn, 3, 3]) or Downsample (op [ch, ch, 3, 3])
 *   input_blocks.i.1           SpatialTransformer (proj_in [C, C, 1, 1] conv or [C, C] linear, transformer_blocks.K)
 *   middle_block.{0,1,2}       ResBlock, SpatialTransformer, ResBlock
 *   time_embed.{0,2}           Linear(mc, T), Linear(T, T);  label_emb.0.{0,2} Linear(adm, T), Linear(T, T) (SDXL)
 *   out.2                      conv_out           [out, mc, 3, 3]
 * Upstream: https://github.com/Stability-AI/generative-models/blob/45c443b3/sgm/modules/diffusionmodules/openaimodel.py
 * Each field records the tensor it came from, so a later shape error can say which measurement implied it.
 * The input-block walk (ldm-unet-scan.ts) is shared with models/detect's measureLdmUnet (inspect).
 */
import { UnknownModelError } from '../../core/errors.ts'
import type { ShapeSource } from '../../nn/module.ts'
import { scanLdmInputLevels, spatialTransformerDepth, type LdmResBlock } from './ldm-unet-scan.ts'

export const UNET_PREFIX = 'model.diffusion_model.'

/** Structural family: which LDM config lineage the shapes match (identified through FAMILY_TABLE). */
export type UnetFamily = 'sd1' | 'sd2' | 'sdxl'
export const FAMILY_LABELS: Readonly<Record<UnetFamily, string>> = { sd1: 'SD1.x', sd2: 'SD2.x', sdxl: 'SDXL' }

/** Attention heads: a fixed count per block (LDM `num_heads`) or a fixed head width (`num_head_channels`). */
export type HeadRule = { readonly kind: 'count'; readonly count: number } | { readonly kind: 'dim'; readonly dim: number }

export interface UnetConfig {
  readonly family: UnetFamily
  readonly inChannels: number
  readonly outChannels: number
  readonly modelChannels: number
  /** Channels of level l = modelChannels · channelMult[l]. */
  readonly channelMult: readonly number[]
  readonly numResBlocks: number
  /** Per level: whether its blocks carry a SpatialTransformer (= transformerDepth[l] > 0). */
  readonly attentionLevels: readonly boolean[]
  /** Transformer blocks per SpatialTransformer, per level (0 = no attention at that level). */
  readonly transformerDepth: readonly number[]
  /** Transformer blocks of the middle block's SpatialTransformer (0 = the middle block has none). */
  readonly transformerDepthMiddle: number
  readonly heads: HeadRule
  /** Width of the cross-attention context (0 when the model has no attention). */
  readonly contextDim: number
  /** proj_in/proj_out as Linear on [B, HW, C] (SD2, SDXL) instead of 1×1 convs (SD1). */
  readonly linearProj: boolean
  /** Width of the `y` vector fed to label_emb (SDXL); 0 = no label_emb. */
  readonly admInChannels: number
  readonly timeEmbedDim: number
  /** For each measured field, the checkpoint key it came from. */
  readonly sources: Readonly<Partial<Record<UnetConfigField, string>>>
}

export type UnetConfigField = Exclude<keyof UnetConfig, 'sources'>

interface FamilyRow {
  readonly family: UnetFamily
  readonly linearProj: boolean
  readonly labelEmb: boolean
  /** Context width of the real models of this family (documentation; tiny test models differ). */
  readonly realContextDim: number
  /** From the family's LDM inference yaml (not visible in shapes). */
  readonly heads: HeadRule
}

/**
 * Identification table: structure → family → head rule. SD1 (`v1-inference.yaml`: num_heads 8, conv proj),
 * SD2 (`v2-inference*.yaml`: num_head_channels 64, use_linear_in_transformer), SDXL (`sd_xl_base.yaml` /
 * refiner: num_head_channels 64, linear proj, label_emb over the `vector` conditioning).
 */
export const FAMILY_TABLE: readonly FamilyRow[] = [
  { family: 'sd1', linearProj: false, labelEmb: false, realContextDim: 768, heads: { kind: 'count', count: 8 } },
  { family: 'sd2', linearProj: true, labelEmb: false, realContextDim: 1024, heads: { kind: 'dim', dim: 64 } },
  { family: 'sdxl', linearProj: true, labelEmb: true, realContextDim: 2048, heads: { kind: 'dim', dim: 64 } },
]

/**
 * A head width of 64 cannot apply to a model whose level-0 width is below 64 (LDM would make 0 heads): such models
 * are the reference harness' tiny SD2/SDXL models, made with num_head_channels 8. (The tiny SD1 keeps 8 heads.)
 */
export const TINY_HEAD_RULE: HeadRule = { kind: 'dim', dim: 8 }

export interface DetectOptions {
  readonly prefix?: string
  /** Overrides the family's head rule (for fine-tunes with a non-standard num_heads / num_head_channels). */
  readonly heads?: HeadRule
}

/** Heads of a SpatialTransformer with `channels` inner width under `rule`. */
export function headsFor(rule: HeadRule, channels: number): number {
  return rule.kind === 'count' ? rule.count : channels / rule.dim
}

/** Reads the architecture of the UNet under `prefix` from shapes alone. */
export function detectUnetConfig(source: ShapeSource, opts: DetectOptions = {}): UnetConfig {
  const p = opts.prefix ?? UNET_PREFIX
  const fail = (detail: string): never => { throw new UnknownModelError(source.file, detail) }
  const convIn = `${p}input_blocks.0.0.weight`
  if (!source.has(convIn)) fail(`no UNet found: tensor "${convIn}" is absent`)
  const [modelChannels, inChannels] = source.shape(convIn)
  const convOut = `${p}out.2.weight`
  if (!source.has(convOut)) fail(`UNet has no output conv: tensor "${convOut}" is absent`)
  const timeKey = `${p}time_embed.0.weight`
  if (!source.has(timeKey)) fail(`UNet has no time embedding: tensor "${timeKey}" is absent`)
  const [timeEmbedDim, sinusoidDim] = source.shape(timeKey)
  if (sinusoidDim !== modelChannels) {
    fail(`tensor "${timeKey}" takes ${sinusoidDim} inputs but the input conv "${convIn}" has ${modelChannels} channels; `
      + 'the LDM UNet uses model_channels for the timestep sinusoid')
  }
  const levels = scanLevels(source, p, fail)
  const numResBlocks = levels[0].length
  const channelMult = levels.map((lv, l) => {
    if (lv.length !== numResBlocks) fail(`level ${l} has ${lv.length} ResBlocks but level 0 has ${numResBlocks}`)
    const depths = lv.map((b) => b.transformerDepth)
    if (depths.some((d) => d !== depths[0])) fail(`level ${l} mixes transformer depths ${depths.join(', ')}`)
    const mult = lv[0].channels / modelChannels
    if (!Number.isInteger(mult)) fail(`tensor "${lv[0].key}" has ${lv[0].channels} channels, not a multiple of ${modelChannels}`)
    return mult
  })
  const transformerDepth = levels.map((lv) => lv[0].transformerDepth)
  const transformerDepthMiddle = spatialTransformerDepth(source, `${p}middle_block.1.`)
  const attnKey = findCrossAttnKey(source, p, levels.length * numResBlocks + levels.length)
  const projKey = attnKey?.replace(/transformer_blocks\.0\.attn2\.to_k\.weight$/, 'proj_in.weight')
  const linearProj = projKey !== undefined && source.shape(projKey).length === 2
  const admKey = `${p}label_emb.0.0.weight`
  const admInChannels = source.has(admKey) ? source.shape(admKey)[1] : 0
  const row = identifyFamily(linearProj, admInChannels > 0, source.file)
  const tiny = row.heads.kind === 'dim' && modelChannels < row.heads.dim
  const heads = opts.heads ?? (tiny ? TINY_HEAD_RULE : row.heads)
  const headsFrom = opts.heads ? 'DetectOptions.heads' : `FAMILY_TABLE ${row.family}${tiny ? ` (model_channels ${modelChannels} < ${(row.heads as { dim: number }).dim}: TINY_HEAD_RULE)` : ''}`
  const config: UnetConfig = {
    family: row.family, inChannels, outChannels: source.shape(convOut)[0], modelChannels, channelMult, numResBlocks,
    attentionLevels: transformerDepth.map((d) => d > 0), transformerDepth, transformerDepthMiddle, heads,
    contextDim: attnKey ? source.shape(attnKey)[1] : 0, linearProj, admInChannels, timeEmbedDim,
    sources: {
      inChannels: convIn, modelChannels: convIn, outChannels: convOut, timeEmbedDim: timeKey,
      channelMult: levels.map((lv) => lv[0].key).join(', '), numResBlocks: `${p}input_blocks.*`,
      transformerDepth: `${p}input_blocks.*.1.transformer_blocks.*`, transformerDepthMiddle: `${p}middle_block.1.transformer_blocks.*`,
      attentionLevels: `${p}input_blocks.*.1.transformer_blocks.*`, heads: headsFrom,
      ...(attnKey ? { contextDim: attnKey } : {}), ...(projKey ? { linearProj: projKey, family: projKey } : {}),
      ...(admInChannels > 0 ? { admInChannels: admKey, family: admKey } : {}),
    },
  }
  checkHeads(config, source.file)
  return config
}

/** The input-block levels, refusing a UNet that starts or ends them without a ResBlock. */
function scanLevels(source: ShapeSource, p: string, fail: (d: string) => never): LdmResBlock[][] {
  const levels = scanLdmInputLevels(source, p)
  if (levels[0].length === 0) fail(`UNet has no ResBlock at "${p}input_blocks.1.0.in_layers.2.weight"`)
  if (levels[levels.length - 1].length === 0) fail('UNet ends its input blocks with a Downsample')
  return levels
}

function findCrossAttnKey(source: ShapeSource, p: string, inputBlocks: number): string | undefined {
  const candidates = [...Array.from({ length: inputBlocks }, (_, i) => `${p}input_blocks.${i + 1}.1.`), `${p}middle_block.1.`]
  return candidates.map((b) => `${b}transformer_blocks.0.attn2.to_k.weight`).find((k) => source.has(k))
}

function identifyFamily(linearProj: boolean, labelEmb: boolean, file: string): FamilyRow {
  const row = FAMILY_TABLE.find((r) => r.linearProj === linearProj && r.labelEmb === labelEmb)
  if (!row) {
    throw new UnknownModelError(file, `UNet with ${linearProj ? 'linear' : 'conv'} proj_in and ${labelEmb ? 'a' : 'no'} label_emb `
      + `matches no known family (${FAMILY_TABLE.map((r) => r.family).join(', ')})`)
  }
  return row
}

function checkHeads(c: UnetConfig, file: string): void {
  const widths = [...c.channelMult.filter((_, l) => c.attentionLevels[l]).map((m) => m * c.modelChannels)]
  if (c.transformerDepthMiddle > 0) widths.push(c.modelChannels * c.channelMult[c.channelMult.length - 1])
  for (const w of widths) {
    const h = headsFor(c.heads, w)
    if (!Number.isInteger(h) || h < 1 || w % h !== 0) {
      throw new UnknownModelError(file, `attention width ${w} does not split into heads by the ${c.family} rule `
        + `${JSON.stringify(c.heads)}; pass DetectOptions.heads for this model`)
    }
  }
}
