/**
 * Per-block merge weights ("MBW"), as the block-merge extensions for A1111 define the blocks
 * (bbc-mc/sdweb-merge-block-weighted-gui and hako-mikan/sd-webui-supermerger):
 *   SD1/SD2: IN00–IN11 = `model.diffusion_model.input_blocks.N.`, M00 = `middle_block.`, OUT00–OUT11 = `output_blocks.N.`
 *   SDXL:    IN00–IN08, M00, OUT00–OUT08 (the base UNet has 9 input and 9 output blocks; measured from the keys)
 *   `time_embed.` (and SDXL `label_emb.`) count as IN00, the final `out.` as the last OUT block ("before the input
 *   blocks" / "after the output blocks" in merge-block-weighted); every other key (text encoders, VAE) is BASE.
 * Two deliberate choices where the extensions differ: supermerger's SD1 code indexes time_embed at -2, which Python
 * wraps to OUT11, and its SDXL code leaves time_embed/label_emb unmerged; we follow merge-block-weighted's stated
 * intent (IN00) for both layouts.
 * Weights are given as a list in block order: N values (BASE = the --alpha), or N + 1 with BASE first (supermerger).
 */
import { InputError } from '../core/errors.ts'

export type BlockLayout = 'sd' | 'sdxl'

const ids = (n: number): string[] => [
  ...Array.from({ length: n }, (_, i) => `IN${String(i).padStart(2, '0')}`),
  'M00',
  ...Array.from({ length: n }, (_, i) => `OUT${String(i).padStart(2, '0')}`),
]

/** Block ids in list order, without BASE. */
export const BLOCK_IDS: Readonly<Record<BlockLayout, readonly string[]>> = { sd: ids(12), sdxl: ids(9) }

const UNET = 'model.diffusion_model.'

/** The block a checkpoint key belongs to: BASE, IN00…, M00, OUT00…. */
export function blockOf(key: string, layout: BlockLayout): string {
  if (!key.startsWith(UNET)) return 'BASE'
  const rest = key.slice(UNET.length)
  const last = layout === 'sd' ? 11 : 8
  let m: RegExpExecArray | null
  if (/^(time_embed|label_emb)\./.test(rest)) return 'IN00'
  if (rest.startsWith('out.')) return `OUT${String(last).padStart(2, '0')}`
  if ((m = /^input_blocks\.(\d+)\./.exec(rest))) return `IN${m[1].padStart(2, '0')}`
  if (rest.startsWith('middle_block.')) return 'M00'
  if ((m = /^output_blocks\.(\d+)\./.exec(rest))) return `OUT${m[1].padStart(2, '0')}`
  return 'BASE'
}

/** Parses "w1,w2,…" into block id → weight (BASE included). */
export function parseBlockWeights(text: string, layout: BlockLayout, base: number): ReadonlyMap<string, number> {
  const values = text.split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number)
  const blocks = BLOCK_IDS[layout]
  if (values.some((v) => !Number.isFinite(v))) throw new InputError(`--blocks: "${text}" is not a comma-separated list of numbers`)
  if (values.length !== blocks.length && values.length !== blocks.length + 1) {
    throw new InputError(`--blocks: ${values.length} weights given; ${layout === 'sd' ? 'SD1/SD2' : 'SDXL'} has ${blocks.length} blocks `
      + `(${blocks[0]}…${blocks.at(-1)}): give ${blocks.length} (BASE = --alpha) or ${blocks.length + 1} (BASE first)`)
  }
  const withBase = values.length === blocks.length + 1 ? values : [base, ...values]
  return new Map(['BASE', ...blocks].map((id, i) => [id, withBase[i]]))
}

/** The layout measured from a checkpoint's keys: 9 input blocks (SDXL base) or 12 (SD1/SD2, SDXL refiner). */
export function blockLayoutOf(keys: readonly string[]): BlockLayout {
  let inputs = 0
  for (const k of keys) {
    const m = /^model\.diffusion_model\.input_blocks\.(\d+)\./.exec(k)
    if (m) inputs = Math.max(inputs, Number(m[1]) + 1)
  }
  return inputs === 9 ? 'sdxl' : 'sd'
}
