/*
 * The engine's txt2img mode: noise as the init latent, or with hires fix the pipeline's two-pass spec (its network
 * upscaler found through the resolver).
 */
import { InputError } from '../core/errors.ts'
import { isLatentUpscaler } from '../image/latent-upscale.ts'
import { hiresSpec, type HiresOptions } from '../pipeline/hires.ts'
import { modelUpscaler, type ModelUpscaler } from '../pipeline/model-upscalers.ts'
import type { GenerationParams, ResolvedRequest } from '../pipeline/request.ts'
import { NOISE_INIT, type ModeSpec } from '../pipeline/run-batches.ts'
import type { HiresFix, ModelResolver, Txt2ImgGeneration } from './contract.ts'

/** The contract's hires fields as the pipeline's HiresOptions. */
function hiresOptions(h: HiresFix, checkpointTitle: string | undefined): HiresOptions {
  const { resizeWidth, resizeHeight, upscalerTile: _t, upscalerTileOverlap: _o, checkpoint: _c, ...rest } = h
  return {
    ...rest, ...(resizeWidth || resizeHeight ? { resize: { width: resizeWidth ?? 0, height: resizeHeight ?? 0 } } : {}),
    ...(checkpointTitle ? { checkpointTitle } : {}),
  }
}

/** ESRGAN_tile / ESRGAN_tile_overlap when the request sets them (A1111's 192 / 8 otherwise). */
const tileOptions = (h: HiresFix) => ({
  ...(h.upscalerTile !== undefined ? { tileSize: h.upscalerTile } : {}), ...(h.upscalerTileOverlap !== undefined ? { tileOverlap: h.upscalerTileOverlap } : {}),
})

/** Lanczos, Nearest and the "Latent …" family are built in; any other name is a network the resolver must find. */
const isBuiltIn = (name: string): boolean => isLatentUpscaler(name) || name === 'Lanczos' || name === 'Nearest'

/** The hires upscaler when it is a network (ESRGAN family) the resolver knows by name; none for built-in upscalers. */
async function networkUpscalers(h: HiresFix, resolver: ModelResolver): Promise<ModelUpscaler[]> {
  const name = h.upscaler
  if (!name || isBuiltIn(name)) return []
  const file = await resolver.upscaler?.(name)
  if (file === undefined) {
    throw new InputError([{ code: 'not-found', path: ['hires', 'upscaler'], message: `unknown upscaler "${name}". Hint: one of Lanczos, Nearest or a "Latent …" upscaler.` }])
  }
  return [modelUpscaler({ name, file }, tileOptions(h))]
}

/** A pixel-space hires upscaler decodes, upscales and encodes again: the model needs its VAE encoder. */
export const hiresNeedsEncoder = (req: Txt2ImgGeneration): boolean => req.hires !== undefined && !isLatentUpscaler(req.hires.upscaler ?? 'Latent')

/** `hiresCheckpoint`: the infotext's "Hires checkpoint" (name [hash]) when the request names one. */
export async function txt2imgModeSpec(req: Txt2ImgGeneration, params: GenerationParams, r: ResolvedRequest, resolver: ModelResolver, hiresCheckpoint?: string): Promise<ModeSpec> {
  if (!req.hires) return { req: params, r, init: NOISE_INIT }
  return hiresSpec({ ...params, hires: hiresOptions(req.hires, hiresCheckpoint), upscalers: await networkUpscalers(req.hires, resolver) }, r)
}
