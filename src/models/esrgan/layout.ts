/*
 * RRDBNet, the ESRGAN-family upscaler (ESRGAN, Real-ESRGAN x4plus / x2plus / anime 6B, BSRGAN, 4x-UltraSharp, …), as
 * data. One naming inside sdloom: BasicSR's (basicsr/archs/rrdbnet_arch.py @ 8b5b3cd,
 * https://github.com/XPixelGroup/BasicSR/blob/8b5b3cd/basicsr/archs/rrdbnet_arch.py):
 *   conv_first                      3×3, in → F           (in = 3, or 12 / 48 after pixel_unshuffle by 2 / 4)
 *   body.i.rdb{1,2,3}.conv{1..5}    ResidualDenseBlock: conv_j sees cat(x, x1..x_{j-1}); convs 1-4 give G, conv5 gives F
 *   conv_body                       3×3, F → F
 *   conv_up{1..n}                   nearest ×2 then 3×3 F → F, LeakyReLU(0.2)
 *   conv_hr, conv_last              3×3 F → F (LeakyReLU), 3×3 F → out
 * Other layouts are renamed to it by the tables below before binding:
 *   - the original ESRGAN `model.N` Sequential (xinntao/ESRGAN RRDBNet_arch.py, A1111's models/ESRGAN files):
 *     model.0 = conv_first; model.1.sub.i.RDBk.convj.0 = body.i.rdbk.convj; model.1.sub.NB = conv_body;
 *     model.3k = conv_upk (each after an Upsample at 3k-1); the last two convs at L-2 (HR) and L (last);
 *   - BSRGAN/RealSR: RRDB_trunk.i.RDBk.convj, trunk_conv, upconvk, HRconv;
 *   - BasicSR checkpoints nest the state dict under `params_ema` (preferred, as Real-ESRGAN loads it) or `params`.
 * Architecture from shapes (as spandrel's ESRGAN loader measures it): F from conv_first, G from body.0.rdb1.conv1,
 * blocks and upsamples by counting, pixel-unshuffle factor from conv_first's input channels vs conv_last's outputs.
 */
import { UnknownModelError } from '../../core/errors.ts'
import { conv2d, type Conv2d } from '../../nn/layers.ts'
import type { ShapeSource } from '../../nn/module.ts'

export interface EsrganConfig {
  /** Image channels in and out (3). */
  readonly channels: number
  /** F: feature width (64 in the published models). */
  readonly features: number
  /** G: growth channels of each dense block (32). */
  readonly growth: number
  /** Number of RRDB blocks (23 for ESRGAN / x4plus, 6 for anime 6B). */
  readonly blocks: number
  /** Nearest ×2 + conv stages (2 for 4x networks). */
  readonly upsamples: number
  /** pixel_unshuffle factor applied to the input (Real-ESRGAN x2plus: 2; x1: 4; else 1). */
  readonly unshuffle: 1 | 2 | 4
  /** Output size / input size: 2^upsamples / unshuffle. */
  readonly scale: number
}

export type DenseBlock = { readonly conv1: Conv2d; readonly conv2: Conv2d; readonly conv3: Conv2d; readonly conv4: Conv2d; readonly conv5: Conv2d }
export type Rrdb = { readonly rdb1: DenseBlock; readonly rdb2: DenseBlock; readonly rdb3: DenseBlock }
export type EsrganTree = {
  readonly conv_first: Conv2d
  readonly body: readonly Rrdb[]
  readonly conv_body: Conv2d
  readonly conv_hr: Conv2d
  readonly conv_last: Conv2d
}

type Rule = readonly [RegExp, string]
/** Layout-independent renames (regex → BasicSR name). */
const RENAMES: readonly Rule[] = [
  [/^model\.0\.(weight|bias)$/, 'conv_first.$1'],
  [/^model\.1\.sub\.(\d+)\.RDB(\d)\.conv(\d)\.0\.(weight|bias)$/, 'body.$1.rdb$2.conv$3.$4'],
  [/^RRDB_trunk\.(\d+)\.RDB(\d)\.conv(\d)\.(weight|bias)$/, 'body.$1.rdb$2.conv$3.$4'],
  [/^trunk_conv\.(weight|bias)$/, 'conv_body.$1'],
  [/^upconv(\d)\.(weight|bias)$/, 'conv_up$1.$2'],
  [/^HRconv\.(weight|bias)$/, 'conv_hr.$1'],
]
const BASICSR = /^(conv_first|conv_body|conv_hr|conv_last|conv_up\d|body\.\d+\.rdb\d\.conv\d)\.(weight|bias)$/
const OLD_SEQ = /^model\.(\d+)\.(weight|bias)$/

/**
 * A file key → its BasicSR name, or undefined for keys that are not the network's (the other of params/params_ema,
 * optimizer state). `keys` are all of the file's keys: the old layout's last two convs are found by position.
 */
export function esrganRename(keys: readonly string[]): (key: string) => string | undefined {
  const nested = ['params_ema.', 'params.'].find((p) => keys.some((k) => k.startsWith(p)))
  const own = (k: string) => (nested ? k.startsWith(nested) : true)
  const strip = (k: string) => (nested ? k.slice(nested.length) : k)
  const seq = keys.filter(own).map(strip).flatMap((k) => { const m = OLD_SEQ.exec(k); return m ? [Number(m[1])] : [] })
  const last = Math.max(...seq)
  const subs = keys.filter(own).map(strip).flatMap((k) => { const m = /^model\.1\.sub\.(\d+)\.weight$/.exec(k); return m ? [m[1]] : [] })
  return (fileKey) => {
    if (!own(fileKey)) return undefined
    const k = strip(fileKey)
    if (BASICSR.test(k)) return k
    for (const [re, to] of RENAMES) if (re.test(k)) return k.replace(re, to)
    const sub = /^model\.1\.sub\.(\d+)\.(weight|bias)$/.exec(k)
    if (sub && subs.includes(sub[1])) return `conv_body.${sub[2]}`
    const m = OLD_SEQ.exec(k)
    if (!m || seq.length === 0) return undefined
    const n = Number(m[1])
    if (n === last) return `conv_last.${m[2]}`
    if (n === last - 2) return `conv_hr.${m[2]}`
    return n % 3 === 0 && n > 0 ? `conv_up${n / 3}.${m[2]}` : undefined
  }
}

const count = (src: ShapeSource, key: (i: number) => string): number => {
  let n = 0
  while (src.has(key(n))) n++
  return n
}

/** Measures an RRDBNet from its (renamed) shapes; a file that is not one is an UnknownModelError naming what was looked for. */
export function measureEsrgan(src: ShapeSource): EsrganConfig {
  const probes = ['conv_first.weight', 'body.0.rdb1.conv1.weight', 'conv_body.weight', 'conv_hr.weight', 'conv_last.weight']
  const missing = probes.filter((k) => !src.has(k))
  if (missing.length > 0) {
    throw new UnknownModelError(src.file, `is not an ESRGAN-family (RRDBNet) upscaler: no tensor ${missing.map((k) => `"${k}"`).join(', ')} `
      + '(nor its old ESRGAN name model.N / model.1.sub.N.RDBk.convj.0). Hint: SwinIR, DAT, HAT '
      + 'and other architectures are not supported; RRDBNet files are ESRGAN_4x, RealESRGAN_x4plus(_anime_6B), 4x-UltraSharp and the like; SRVGGNetCompact files (body.N) are realesr-general-x4v3 and realesr-animevideov3.')
  }
  const [features, inCh] = src.shape('conv_first.weight')
  const channels = src.shape('conv_last.weight')[0]
  const unshuffle = inCh === channels * 16 ? 4 : inCh === channels * 4 ? 2 : 1
  if (inCh !== channels * unshuffle * unshuffle) {
    throw new UnknownModelError(src.file, `conv_first takes ${inCh} channels but conv_last gives ${channels}: expected equal, or 4× / 16× (pixel-unshuffled input).`)
  }
  const upsamples = count(src, (i) => `conv_up${i + 1}.weight`)
  return {
    channels, features, growth: src.shape('body.0.rdb1.conv1.weight')[0], unshuffle, upsamples,
    blocks: count(src, (i) => `body.${i}.rdb1.conv1.weight`), scale: 2 ** upsamples / unshuffle,
  }
}

const denseBlock = (f: number, g: number): DenseBlock => ({
  conv1: conv2d(f, g, 3), conv2: conv2d(f + g, g, 3), conv3: conv2d(f + 2 * g, g, 3), conv4: conv2d(f + 3 * g, g, 3), conv5: conv2d(f + 4 * g, f, 3),
})

/** The parameter tree, less the upsampling convs (their keys are conv_up1…, not conv_up.0…: see upsampleTree). */
export function esrganTree(cfg: EsrganConfig): EsrganTree {
  const { features: f, growth: g } = cfg
  const rrdb = (): Rrdb => ({ rdb1: denseBlock(f, g), rdb2: denseBlock(f, g), rdb3: denseBlock(f, g) })
  return {
    conv_first: conv2d(cfg.channels * cfg.unshuffle ** 2, f, 3),
    body: Array.from({ length: cfg.blocks }, rrdb),
    conv_body: conv2d(f, f, 3),
    conv_hr: conv2d(f, f, 3),
    conv_last: conv2d(f, cfg.channels, 3),
  }
}

/** conv_up1 … conv_up{n}, each bound under its own prefix. */
export const upsampleTree = (cfg: EsrganConfig): Conv2d => conv2d(cfg.features, cfg.features, 3)
