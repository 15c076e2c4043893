/*
 * Key names of separate VAE files (`--vae`), renamed into the checkpoint's `first_stage_model.*` names so one graph
 * serves both. Accepted layouts:
 *  - LDM names without the prefix (`decoder.conv_in.weight`, `encoder.down.0.block.1.norm1.bias`, `quant_conv.*`):
 *    vae-ft-mse-840000, sdxl_vae.safetensors, …;
 *  - LDM names with the prefix (a VAE extracted from a checkpoint) are kept;
 *  - diffusers AutoencoderKL names (`decoder.up_blocks.0.resnets.0.conv_shortcut.weight`,
 *    `…mid_block.attentions.0.to_q.weight` / old `query.weight`): mapped as diffusers'
 *    scripts/convert_diffusers_to_original_stable_diffusion.py does (up_blocks are numbered from the lowest
 *    resolution, LDM's `up` from the highest).
 * Anything else (`loss.*` discriminator weights of training checkpoints, `model_ema.*`) is not part of the VAE and is
 * skipped; the report lists it.
 */
import { VAE_PREFIX } from './vae.ts'

const LDM_ROOTS = ['encoder.', 'decoder.', 'quant_conv.', 'post_quant_conv.']
const DIFFUSERS_MARK = /(^|\.)(up_blocks|down_blocks|mid_block)\./

const ATTN_RENAMES: readonly (readonly [RegExp, string])[] = [
  [/\.group_norm\./, '.norm.'],
  [/\.(query|to_q)\./, '.q.'],
  [/\.(key|to_k)\./, '.k.'],
  [/\.(value|to_v)\./, '.v.'],
  [/\.(proj_attn|to_out\.0)\./, '.proj_out.'],
]

export interface VaeKeyMap {
  readonly layout: 'ldm' | 'diffusers'
  /** File key → engine key, undefined for keys that are not VAE weights. */
  rename(key: string): string | undefined
  /** File keys that `rename` drops. */
  readonly skipped: readonly string[]
}

export function vaeKeyMap(fileKeys: readonly string[]): VaeKeyMap {
  const diffusers = fileKeys.some((k) => DIFFUSERS_MARK.test(k))
  const upLevels = 1 + Math.max(-1, ...fileKeys.map((k) => Number(/^decoder\.up_blocks\.(\d+)\./.exec(k)?.[1] ?? -1)))
  const rename = (key: string): string | undefined => {
    if (key.startsWith(VAE_PREFIX)) return key
    if (!LDM_ROOTS.some((r) => key.startsWith(r))) return undefined
    return VAE_PREFIX + (diffusers ? diffusersToLdm(key, upLevels) : key)
  }
  return { layout: diffusers ? 'diffusers' : 'ldm', rename, skipped: fileKeys.filter((k) => rename(k) === undefined) }
}

function diffusersToLdm(key: string, upLevels: number): string {
  let k = key
    .replace(/^encoder\.down_blocks\.(\d+)\.resnets\.(\d+)\./, 'encoder.down.$1.block.$2.')
    .replace(/^encoder\.down_blocks\.(\d+)\.downsamplers\.0\./, 'encoder.down.$1.downsample.')
    .replace(/^decoder\.up_blocks\.(\d+)\.resnets\.(\d+)\./, (_, i: string, j: string) => `decoder.up.${upLevels - 1 - Number(i)}.block.${j}.`)
    .replace(/^decoder\.up_blocks\.(\d+)\.upsamplers\.0\./, (_, i: string) => `decoder.up.${upLevels - 1 - Number(i)}.upsample.`)
    .replace(/\.mid_block\.resnets\.(\d+)\./, (_, i: string) => `.mid.block_${Number(i) + 1}.`)
    .replace(/\.conv_shortcut\./, '.nin_shortcut.')
    .replace(/\.conv_norm_out\./, '.norm_out.')
  if (/\.mid_block\.attentions\.0\./.test(k)) {
    k = k.replace(/\.mid_block\.attentions\.0\./, '.mid.attn_1.')
    for (const [from, to] of ATTN_RENAMES) k = k.replace(from, to)
  }
  return k
}
