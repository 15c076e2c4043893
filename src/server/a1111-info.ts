/**
 * The `info` string of A1111's txt2img/img2img answer: `Processed.js()` (a1111-api.md §5), JSON-encoded, which
 * clients parse (Open WebUI stores it, aiyabot reads seeds from it). Seeds and variation seeds are numbered over the
 * request as A1111 does (image i: seed + i, subseed + i); the variation seed is reported even at strength 0.
 */
import { INFOTEXT_VERSION, parseInfotext } from '../image/infotext.ts'
import type { GenerationJobPayload } from './request-base.ts'

export interface FinishedImage {
  readonly index: number
  readonly seed: number
  readonly infotext: string
  readonly file?: string
}

/** The infotext fields A1111 keeps in `extra_generation_params` (its processing adds them; the rest are p's own). */
const EXTRA = /^(Hires |Mask blur$|Inpaint area$|Masked area padding$|Masked content$|Refiner|Lora hashes$|TI hashes$|Schedule type$)/

/** From the first image's infotext, numbers as numbers (A1111 holds them so). */
function extraParams(infotext: string | undefined): Record<string, string | number> {
  if (infotext === undefined) return {}
  const fields = Object.entries(parseInfotext(infotext).fields).filter(([k]) => EXTRA.test(k))
  return Object.fromEntries(fields.map(([k, v]) => [k, v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : v]))
}

/**
 * A1111 sets it when a 9-channel inpainting UNet ran (inpainting_image_conditioning), txt2img included; the same
 * runs, and only they, write "Conditional mask weight" in the infotext.
 */
const usesInpaintingConditioning = (infotext: string | undefined): boolean =>
  infotext !== undefined && parseInfotext(infotext).fields['Conditional mask weight'] !== undefined

export function a1111Info(p: GenerationJobPayload, images: readonly FinishedImage[], timestamp: string): string {
  const r = p.request
  const subseed = r.subseed ?? p.subseed ?? -1
  const denoise = r.mode === 'img2img' ? r.denoisingStrength ?? 0.75 : r.hires ? r.hires.denoisingStrength ?? 0.7 : null
  const hash = /\[([0-9a-f]{10})\]$/.exec(p.modelTitle)?.[1] ?? null
  return JSON.stringify({
    prompt: r.prompt, all_prompts: images.map(() => r.prompt), negative_prompt: r.negativePrompt ?? '',
    all_negative_prompts: images.map(() => r.negativePrompt ?? ''), seed: images[0]?.seed ?? r.seed, all_seeds: images.map((i) => i.seed),
    subseed, all_subseeds: images.map((i) => (subseed === -1 ? -1 : subseed + i.index)), subseed_strength: r.subseedStrength ?? 0, width: r.width, height: r.height, sampler_name: r.sampler,
    cfg_scale: r.cfgScale, steps: r.steps, batch_size: r.batchSize, restore_faces: false, face_restoration_model: null,
    sd_model_name: p.modelTitle.replace(/ \[[0-9a-f]{10}\]$/, '').replace(/\.[^.]+$/, ''), sd_model_hash: hash, sd_vae_name: r.vae ?? null, sd_vae_hash: null,
    seed_resize_from_w: r.seedResizeFrom?.width ?? -1, seed_resize_from_h: r.seedResizeFrom?.height ?? -1, denoising_strength: denoise, extra_generation_params: extraParams(images[0]?.infotext), index_of_first_image: 0,
    infotexts: images.map((i) => i.infotext), styles: p.styles, job_timestamp: timestamp, clip_skip: r.clipSkip ?? 1,
    is_using_inpainting_conditioning: usesInpaintingConditioning(images[0]?.infotext), version: INFOTEXT_VERSION, scheduler: r.scheduler ?? 'Automatic',
  })
}
