/*
 * `sdloom img2img PROMPT --init FILE`: A1111's img2img and inpainting from the command line. Everything else is
 * `generate`'s (runMode, the Engine's img2img mode); this file adds the picture, the mask and their options.
 */
import { InputError } from '../../core/errors.ts'
import { INPAINT_FILLS, type InpaintFill } from '../../image/inpaint-prep.ts'
import { readImage, toMaskL, toRgbFlattened } from '../../image/read-image.ts'
import { RESIZE_MODES, type ResizeMode } from '../../image/resize-modes.ts'
import { checkStrength } from '../../pipeline/img2img.ts'
import type { Img2ImgGeneration, InpaintRequest } from '../../engine/contract.ts'
import { DEFAULT_DENOISE } from '../../engine/img2img-mode.ts'
import type { Command, CommandContext } from '../command.ts'
import { num, oneOf, str } from '../flags.ts'
import { generate, runMode } from './generate.ts'
import { HIRES_OPTIONS, defined } from './mode-flags.ts'

type Picture = Pick<Img2ImgGeneration, 'init' | 'denoisingStrength' | 'resizeMode' | 'inpaint'>

/** A decoded raster as the request's plain bytes. */
const bytesOf = ({ width, height, data }: { width: number; height: number; data: Uint8Array }) => ({ width, height, data })

async function pictureOf(ctx: CommandContext): Promise<Picture> {
  const initFile = str(ctx, 'init')
  if (!initFile) throw new InputError('img2img needs --init FILE (the picture to start from). See: sdloom img2img --help')
  const init = toRgbFlattened(await readImage(initFile))
  const maskFile = str(ctx, 'mask')
  const area = oneOf(ctx, 'inpaint-area', ['whole', 'masked'] as const)
  const inpaint: InpaintRequest | undefined = maskFile ? defined({
    mask: bytesOf(toMaskL(await readImage(maskFile))), maskBlur: num(ctx, 'mask-blur'), invertMask: ctx.values['invert-mask'] === true || undefined,
    fill: oneOf<InpaintFill>(ctx, 'inpaint-fill', INPAINT_FILLS),
    ...(area === 'masked' ? { onlyMasked: defined({ padding: num(ctx, 'masked-padding') }) } : {}),
  }) : undefined
  if (!maskFile && ['mask-blur', 'inpaint-fill', 'inpaint-area', 'masked-padding', 'invert-mask'].some((k) => ctx.values[k] !== undefined)) {
    throw new InputError('the inpainting options need --mask FILE (white = the area to repaint).')
  }
  return defined({
    init: bytesOf(init), denoisingStrength: checkStrength(num(ctx, 'denoise', false) ?? DEFAULT_DENOISE),
    resizeMode: oneOf<ResizeMode>(ctx, 'resize-mode', RESIZE_MODES), inpaint,
  })
}

async function run(ctx: CommandContext): Promise<number> {
  const picture = await pictureOf(ctx)
  return runMode(ctx, { command: 'img2img', request: (base) => ({ mode: 'img2img', ...base, ...picture }) })
}

/** generate's options less hires fix's (A1111's img2img has no hires pass). */
const shared = Object.fromEntries(Object.entries(generate.options).filter(([k]) => !(k in HIRES_OPTIONS)))

export const img2img: Command = {
  summary: 'img2img and inpainting: rework a picture (or its masked part) from a prompt (A1111-compatible)',
  help: [
    'Usage: sdloom img2img PROMPT --init FILE [options]',
    '',
    'The picture (PNG, JPEG or WebP) is resized to --width x --height, encoded, and re-noised to --denoise; with --mask',
    'only the white part of the mask is repainted and the result is composited over the original as A1111 does.',
    '',
    'Options:',
    '  --init FILE          the picture to start from (transparent parts are flattened on white)',
    '  --denoise X          denoising strength in (0, 1] (0.75); 1 repaints from pure noise',
    '  --resize-mode MODE   just (default: stretch), crop (fill the frame, cut the overflow), fill (fit, extend edges)',
    '  --mask FILE          inpainting mask: white = repaint (grey levels blend; an RGBA mask uses its alpha)',
    '  --mask-blur N        mask blur radius in pixels (4)',
    '  --inpaint-fill MODE  masked content: original (default), fill, latent-noise, latent-nothing',
    '  --inpaint-area AREA  whole (default) or masked: work on a crop around the mask at full resolution, paste back',
    '  --masked-padding N   pixels around the mask for --inpaint-area masked (32)',
    '  --invert-mask        repaint the black part instead',
    '',
    'Every `sdloom generate` option except --hires-* applies (model, prompt, sampler, seeds, size, LoRAs, --out, --json).',
    'An inpainting checkpoint (9-channel UNet, e.g. sd-v1-5-inpainting) is detected and used as A1111 does.',
  ].join('\n'),
  options: {
    ...shared, 'init': { type: 'string' }, 'denoise': { type: 'string' }, 'resize-mode': { type: 'string' }, 'mask': { type: 'string' },
    'mask-blur': { type: 'string' }, 'inpaint-fill': { type: 'string' }, 'inpaint-area': { type: 'string' },
    'masked-padding': { type: 'string' }, 'invert-mask': { type: 'boolean' },
  },
  run,
}
