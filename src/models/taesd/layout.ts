/*
 * TAESD, the tiny autoencoder (madebyollin/taesd `taesd.py` @ 5cccb12d), as data: the published files are the
 * state dicts of two `nn.Sequential`s, so a key is `<layer index>.<param>` (`1.weight`, `3.conv.0.weight`).
 * https://github.com/madebyollin/taesd/blob/5cccb12dc72074a4be35680c3b108548a7c69978/taesd.py
 *   conv(n_in, n_out) = Conv2d(n_in, n_out, 3, padding=1)
 *   Clamp             = tanh(x / 3) * 3
 *   Block(n_in, n_out) = ReLU(conv.0 → ReLU → conv.2 → ReLU → conv.4 (x) + skip(x)); skip a bias-free 1×1 conv only
 *                        when n_in != n_out (nn.Identity otherwise)
 * Same topology for SD1/SD2 (`taesd_*`) and SDXL (`taesdxl_*`, and the 16-channel SD3/FLUX files): only the
 * weights differ, so channel counts are measured from shapes.
 */
import { UnknownModelError } from '../../core/errors.ts'
import { conv2d, type Conv2d } from '../../nn/layers.ts'
import { NONE, type NoParams, type ShapeSource } from '../../nn/module.ts'

/** One layer of the Sequential: its kind says which parameters it has and how it runs. */
export type TaesdLayer =
  | 'clamp' | 'relu' | 'upsample'      // no parameters
  | 'conv'                             // 3×3, pad 1, bias
  | 'convNoBias'                       // 3×3, pad 1, no bias (after each Upsample)
  | 'down'                             // 3×3, pad 1, stride 2, no bias
  | 'block'

const B = 'block' as const
/** `Decoder(latent_channels)`: latent [B, z, h, w] → image [B, 3, 8h, 8w] in about [0, 1]. */
export const DECODER_LAYOUT: readonly TaesdLayer[] = [
  'clamp', 'conv', 'relu', B, B, B, 'upsample', 'convNoBias', B, B, B, 'upsample', 'convNoBias',
  B, B, B, 'upsample', 'convNoBias', B, 'conv',
]
/** `Encoder(latent_channels)`: image [B, 3, H, W] in [0, 1] → latent [B, z, H/8, W/8]. */
export const ENCODER_LAYOUT: readonly TaesdLayer[] = [
  'conv', B, 'down', B, B, B, 'down', B, B, B, 'down', B, B, B, 'conv',
]

export interface TaesdConfig {
  readonly part: 'decoder' | 'encoder'
  /** Key prefix ('' in the published files). */
  readonly prefix: string
  /** Latent channels (4 for SD1/SD2/SDXL, 16 for SD3/FLUX). */
  readonly latentChannels: number
  /** Width of every hidden layer (64). */
  readonly width: number
  /** Whether Block i has a `skip` conv (measured: only when its channels change). */
  readonly skips: readonly boolean[]
}

export type TaesdBlock = { readonly conv: readonly [Conv2d, NoParams, Conv2d, NoParams, Conv2d]; readonly skip?: Conv2d }
export type TaesdTree = readonly (NoParams | Conv2d | TaesdBlock)[]

/** Prefixes tried, in order: the published files' bare indices, then the halves of a combined TAESD file. */
const PREFIXES = { decoder: ['', 'decoder.', 'taesd_decoder.'], encoder: ['', 'encoder.', 'taesd_encoder.'] } as const

/** Measures a TAESD half from its shapes; a file that is not one is an UnknownModelError naming what was looked for. */
export function measureTaesd(src: ShapeSource, part: 'decoder' | 'encoder'): TaesdConfig {
  const layout = part === 'decoder' ? DECODER_LAYOUT : ENCODER_LAYOUT
  const first = layout.indexOf('conv')
  const last = layout.length - 1
  const prefix = PREFIXES[part].find((p) => src.has(`${p}${first}.weight`) && src.has(`${p}${last}.weight`))
  if (prefix === undefined) {
    throw new UnknownModelError(src.file, `is not a TAESD ${part}: expected tensors "${first}.weight" and "${last}.weight" `
      + `(the layers of madebyollin/taesd's ${part === 'decoder' ? 'Decoder' : 'Encoder'}). Hint: taesd_${part}.pth / `
      + `taesdxl_${part}.safetensors hold one half each; the other half's file cannot stand in.`)
  }
  const w = src.shape(`${prefix}${first}.weight`)                   // decoder [64, z, 3, 3]; encoder [64, 3, 3, 3]
  const out = src.shape(`${prefix}${last}.weight`)                  // decoder [3, 64, 3, 3]; encoder [z, 64, 3, 3]
  const latentChannels = part === 'decoder' ? w[1] : out[0]
  const skips = layout.map((kind, i) => kind === 'block' && src.has(`${prefix}${i}.skip.weight`))
  return { part, prefix, latentChannels, width: w[0], skips }
}

const block = (c: number, skip: boolean): TaesdBlock => {
  const conv = [conv2d(c, c, 3), NONE, conv2d(c, c, 3), NONE, conv2d(c, c, 3)] as const
  return skip ? { conv, skip: conv2d(c, c, 1, false) } : { conv }
}

/** The parameter tree, one entry per Sequential index (parameter-free layers are NONE). */
export function taesdTree(cfg: TaesdConfig): TaesdTree {
  const layout = cfg.part === 'decoder' ? DECODER_LAYOUT : ENCODER_LAYOUT
  const { width: c, latentChannels: z } = cfg
  const last = layout.length - 1
  return layout.map((kind, i): TaesdTree[number] => {
    switch (kind) {
      case 'clamp': case 'relu': case 'upsample': return NONE
      case 'block': return block(c, cfg.skips[i])
      case 'convNoBias': case 'down': return conv2d(c, c, 3, false)
      case 'conv': {
        if (i === last) return conv2d(c, cfg.part === 'decoder' ? 3 : z, 3)
        return conv2d(cfg.part === 'decoder' ? z : 3, c, 3)
      }
    }
  })
}
