/*
 * `sdloom upscale IMAGE`: A1111's extras tab "Upscale" with one upscaler (modules/postprocessing / scripts
 * postprocessing_upscale.py @ c8a5322d): "Upscale by" X runs Upscaler.upscale (network rounds, then LANCZOS to
 * int(w·X)//8·8); "Upscale to" W×H upscales by max(W/w, H/h) the same way and then, as "Crop to fit" (on by default)
 * does, pastes the result centred on a black W×H canvas.
 */
import { basename, extname, join } from 'node:path'
import { InputError } from '../../core/errors.ts'
import { progressBar, type Progress } from '../../core/progress.ts'
import { pixelUpscaler, upscaleBy, type PixelUpscaler } from '../../image/pixel-upscale.ts'
import { writePng } from '../../image/png.ts'
import { readImage, toRgbFlattened } from '../../image/read-image.ts'
import { newRaster, pasteAt, toRgb, type Raster } from '../../image/raster.ts'
import { modelUpscaler } from '../../pipeline/model-upscalers.ts'
import type { Command, CommandContext } from '../command.ts'
import { num, str } from '../flags.ts'
import { UPSCALER_HELP, UPSCALER_OPTIONS, defaultUpscaler, sizeOf, tileOptionsOf, upscalerModelsOf } from './mode-flags.ts'

/** A1111 writes extras outputs here (outputs/extras-images). */
const DEFAULT_DIR = join('outputs', 'extras-images')

async function run(ctx: CommandContext): Promise<number> {
  if (ctx.positionals.length !== 1) throw new InputError(`upscale takes one IMAGE, got ${ctx.positionals.length}. See: sdloom upscale --help`)
  const input = ctx.positionals[0]
  const name = str(ctx, 'upscaler') ?? defaultUpscaler(ctx)
  if (!name) throw new InputError('upscale needs --upscaler NAME (or --upscaler-model FILE). See: sdloom upscale --help')
  const picture = toRgb(toRgbFlattened(await readImage(input)))
  const resize = sizeOf(ctx, 'resize')
  const scale = resize ? Math.max(resize.width / picture.width, resize.height / picture.height) : num(ctx, 'scale', false) ?? 4
  if (!(scale > 0 && scale <= 16)) throw new InputError(`--scale must be in (0, 16], got ${scale}`)
  let bar: Progress | undefined
  const tiles = {
    ...tileOptionsOf(ctx),
    onTile: (done: number, total: number) => { bar ??= progressBar({ label: `upscaling (${name})`, total }); bar.tick(done); if (done === total) { bar.end(); bar = undefined } },
  }
  const models = (await upscalerModelsOf(ctx)).map((m) => modelUpscaler(m, tiles))
  const upscaler: PixelUpscaler = pixelUpscaler(name, models)
  let out: Raster
  try {
    out = await upscaleBy(picture, scale, upscaler)
  } finally {
    bar?.end()
    await Promise.all(models.map((m) => m.release()))
  }
  if (resize) {
    const canvas = newRaster(resize.width, resize.height, 3)
    pasteAt(canvas, out, Math.floor(resize.width / 2) - Math.floor(out.width / 2), Math.floor(resize.height / 2) - Math.floor(out.height / 2))
    out = canvas
  }
  const file = str(ctx, 'out') ?? join(DEFAULT_DIR, `${basename(input, extname(input))}.png`)
  const info = `Postprocess upscale ${resize ? `to: ${resize.width}x${resize.height}` : `by: ${scale}`}, Postprocess upscaler: ${name}`
    + (resize ? `, Postprocess crop to: ${resize.width}x${resize.height}` : '')
  await writePng(file, out, { text: { postprocessing: info } })
  if (ctx.json) ctx.out(JSON.stringify({ file, width: out.width, height: out.height, upscaler: name, scale, postprocessing: info }))
  else ctx.out(file)
  return 0
}

export const upscale: Command = {
  summary: 'upscale a picture with Lanczos, Nearest or an ESRGAN-family model (A1111 extras "Upscale")',
  help: [
    'Usage: sdloom upscale IMAGE --upscaler NAME [--scale X | --resize WxH] [options]',
    '',
    'Upscales a PNG, JPEG or WebP as A1111\'s extras tab does: network upscalers run tiled, at their own factor, as',
    'many rounds (up to 3) as the size needs; the picture is then resized with LANCZOS to the size asked.',
    '',
    'Options:',
    '  --upscaler NAME      Lanczos, Nearest, or a network upscaler found through --upscalers / --upscaler-model',
    '  --scale X            "Upscale by" (default 4); the size is rounded down to a multiple of 8, as A1111 does',
    '  --resize WxH         "Upscale to": by max(W/w, H/h), then centred on a black WxH canvas ("Crop to fit")',
    ...UPSCALER_HELP,
    `  --out FILE           the PNG to write (default ${DEFAULT_DIR}/<name>.png)`,
    '  --json               print {file, width, height, upscaler, scale, postprocessing}',
  ].join('\n'),
  options: { 'upscaler': { type: 'string' }, 'scale': { type: 'string' }, 'resize': { type: 'string' }, 'out': { type: 'string' }, ...UPSCALER_OPTIONS },
  run,
}
