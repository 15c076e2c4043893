/**
 * UNet config measured from tensor shapes (style.md §2.2): every field records the tensor it came from.
 * Two layouts: LDM/sgm (`input_blocks.N.M.*`, what A1111 single files hold) and diffusers (`down_blocks.N.*`).
 * Widths are reported, not trusted: structure (levels, where attention sits, proj_in rank, label_emb) is
 * what identifies the family, so tiny test models with real key names are recognised too.
 * The LDM input-block walk is models/config/ldm-unet-scan.ts, shared with the graph's detectUnetConfig.
 */
import { scanLdmInputLevels, spatialTransformerDepth } from '../config/ldm-unet-scan.ts'
import type { KeyIndex, Measured } from './key-index.ts'

export interface UnetLevel {
  /** Output channels of the level's ResBlocks. */
  readonly channels: number
  /** SpatialTransformer depth at this level (0 = no attention). */
  readonly transformerDepth: number
}

export interface UnetConfig {
  readonly layout: 'ldm' | 'diffusers'
  /** Key prefix the UNet sits under, e.g. "model.diffusion_model." ('' for a bare UNet file). */
  readonly prefix: string
  readonly inChannels: Measured<number>
  readonly modelChannels: Measured<number>
  /** Absent for ControlNets (they have no output conv). */
  readonly outChannels: Measured<number> | undefined
  /** Cross-attention context width (`attn2.to_k` in-features). */
  readonly contextDim: Measured<number> | undefined
  /** Width of the pooled/size vector (`label_emb`, SDXL's "adm"). */
  readonly admInChannels: Measured<number> | undefined
  readonly levels: Measured<readonly UnetLevel[]>
  readonly middleTransformerDepth: number
  /** 1x1 conv (SD1) or linear (SD2, SDXL) transformer projections. */
  readonly projIn: Measured<'conv' | 'linear'> | undefined
  readonly resBlocksPerLevel: number
}

const rankKind = (m: Measured<readonly number[]> | undefined): Measured<'conv' | 'linear'> | undefined =>
  m && { value: m.value.length === 4 ? 'conv' : 'linear', from: m.from }

/** LDM layout under `prefix` ("model.diffusion_model.", "control_model.", or ""); undefined when absent. */
export function measureLdmUnet(ix: KeyIndex, prefix: string): UnetConfig | undefined {
  const convIn = `${prefix}input_blocks.0.0.weight`
  const inShape = ix.shape(convIn)
  if (inShape === undefined || inShape.length !== 4) return undefined
  // a Downsample with no ResBlock after it opens no level here: the report lists the levels that are there
  const levels = scanLdmInputLevels(ix, prefix).filter((lv) => lv.length > 0)
  const firstAttention = levels.flat().find((b) => b.transformerDepth > 0)
  const projIn = (firstAttention && shapeOf(ix, `${firstAttention.block}1.proj_in.weight`))
    ?? shapeOf(ix, `${prefix}middle_block.1.proj_in.weight`)
  return {
    layout: 'ldm', prefix,
    inChannels: { value: inShape[1], from: convIn },
    modelChannels: { value: inShape[0], from: convIn },
    outChannels: ix.dim(`${prefix}out.2.weight`, 0),
    contextDim: contextDim(ix, prefix),
    admInChannels: ix.dim(`${prefix}label_emb.0.0.weight`, 1),
    levels: { value: levels.map((lv) => ({ channels: lv[0].channels, transformerDepth: lv[0].transformerDepth })), from: `${prefix}input_blocks.*` },
    middleTransformerDepth: spatialTransformerDepth(ix, `${prefix}middle_block.1.`),
    projIn: rankKind(projIn),
    resBlocksPerLevel: Math.max(0, ...levels.map((lv) => lv.length)),
  }
}

/** diffusers layout (`unet/diffusion_pytorch_model.safetensors`) under `prefix`; undefined when absent. */
export function measureDiffusersUnet(ix: KeyIndex, prefix: string): UnetConfig | undefined {
  const convIn = `${prefix}conv_in.weight`
  const inShape = ix.shape(convIn)
  if (inShape === undefined || inShape.length !== 4 || !ix.hasPrefix(`${prefix}down_blocks.0.`)) return undefined
  const n = ix.countIndexed(`${prefix}down_blocks.{i}.`)
  const levels: UnetLevel[] = []
  let projIn: Measured<readonly number[]> | undefined
  for (let i = 0; i < n; i++) {
    const b = `${prefix}down_blocks.${i}.`
    const depth = ix.countIndexed(`${b}attentions.0.transformer_blocks.{i}.`)
    if (depth > 0 && projIn === undefined) projIn = shapeOf(ix, `${b}attentions.0.proj_in.weight`)
    levels.push({ channels: ix.shape(`${b}resnets.0.conv2.weight`)?.[0] ?? 0, transformerDepth: depth })
  }
  projIn ??= shapeOf(ix, `${prefix}mid_block.attentions.0.proj_in.weight`)
  return {
    layout: 'diffusers', prefix,
    inChannels: { value: inShape[1], from: convIn },
    modelChannels: { value: inShape[0], from: convIn },
    outChannels: ix.dim(`${prefix}conv_out.weight`, 0),
    contextDim: contextDim(ix, prefix),
    admInChannels: ix.dim(`${prefix}add_embedding.linear_1.weight`, 1),
    levels: { value: levels, from: `${prefix}down_blocks.*` },
    middleTransformerDepth: ix.countIndexed(`${prefix}mid_block.attentions.0.transformer_blocks.{i}.`),
    projIn: rankKind(projIn),
    resBlocksPerLevel: ix.countIndexed(`${prefix}down_blocks.0.resnets.{i}.`),
  }
}

function shapeOf(ix: KeyIndex, key: string): Measured<readonly number[]> | undefined {
  const s = ix.shape(key)
  return s && { value: s, from: key }
}

function contextDim(ix: KeyIndex, prefix: string): Measured<number> | undefined {
  const key = ix.keys.find((k) => k.startsWith(prefix) && k.endsWith('.attn2.to_k.weight'))
  return key === undefined ? undefined : ix.dim(key, 1)
}
