/*
 * The one walk over an LDM/sgm UNet's input blocks, from names and shapes only (a safetensors header is enough).
 * Two readers share it: models/detect's measureLdmUnet (inspect: reports whatever it finds, never throws) and
 * detectUnetConfig (the graph: checks the levels are regular and throws naming the tensor). The walk records what
 * each block holds; each reader applies its own policy to that.
 *   input_blocks.i.0   ResBlock (in_layers.2 [ch, chIn, 3, 3]) or Downsample (op [ch, ch, 3, 3])
 *   input_blocks.i.1   SpatialTransformer (proj_in, transformer_blocks.K), absent at levels without attention
 */

/** What the walk reads. `shape` is only asked for keys that `has` reported (a ShapeSource or a detect KeyIndex). */
export interface ShapeProbe {
  has(key: string): boolean
  shape(key: string): readonly number[] | undefined
}

export interface LdmResBlock {
  /** The block's key prefix, e.g. "model.diffusion_model.input_blocks.4." */
  readonly block: string
  /** `<block>0.in_layers.2.weight`: its dim 0 is the block's output channels. */
  readonly key: string
  readonly channels: number
  /** Transformer blocks of the SpatialTransformer at `<block>1.` (0 = none). */
  readonly transformerDepth: number
}

/**
 * input_blocks 1.. under `prefix`, grouped into levels: a Downsample (`.0.op`) starts a new level, and the walk ends
 * at the first block that is neither a ResBlock nor a Downsample. A level may come out empty (a Downsample first,
 * or two in a row); the readers decide what that means.
 */
export function scanLdmInputLevels(probe: ShapeProbe, prefix: string): LdmResBlock[][] {
  const levels: LdmResBlock[][] = [[]]
  for (let i = 1; ; i++) {
    const block = `${prefix}input_blocks.${i}.`
    if (probe.has(`${block}0.op.weight`)) { levels.push([]); continue }
    const key = `${block}0.in_layers.2.weight`
    if (!probe.has(key)) return levels
    const channels = (probe.shape(key) as readonly number[])[0]
    levels[levels.length - 1].push({ block, key, channels, transformerDepth: spatialTransformerDepth(probe, `${block}1.`) })
  }
}

/** Number of transformer blocks of the SpatialTransformer at `block` (0 when the block has none). */
export function spatialTransformerDepth(probe: ShapeProbe, block: string): number {
  if (!probe.has(`${block}proj_in.weight`)) return 0
  let k = 0
  while (probe.has(`${block}transformer_blocks.${k}.norm1.weight`)) k++
  return k
}
