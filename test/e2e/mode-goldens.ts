/*
 * Shared by the img2img / inpaint / hires / variation golden tests (sd1/<folder>/<folder>_goldens.*, README
 * "img2img, inpainting, hires fix, variation seeds"): the JSON entry as a request, a run that records the
 * sampler's per-step states, and comparisons with the README's tolerances (latents 1e-3 · max|expected|, uint8 and
 * PNG within 1, 'Only masked' composites within 2), each naming the step or array that diverges.
 */
import assert from 'node:assert/strict'
import { readImage, toMaskL, toRgbFlattened } from '../../src/image/read-image.ts'
import { imageToUint8 } from '../../src/image/to-uint8.ts'
import { formatInfotext, parseInfotext } from '../../src/image/infotext.ts'
import type { FinishedImage, RunOptions } from '../../src/pipeline/run-batches.ts'
import type { InpaintFill } from '../../src/image/inpaint-prep.ts'
import type { Img2ImgRequest } from '../../src/pipeline/img2img.ts'
import type { LoadedModel } from '../../src/pipeline/load-model.ts'
import { maxAbs, maxAbsDiff, readRefJson, ref, refTensors } from '../golden.ts'
import { KEEP, NEGATIVE, PROMPT, maxByteDiff, sharedModel, tokenizer } from './pipeline-goldens.ts'

export interface ModeEntry {
  name: string
  kind: string
  model: string
  vae: string | null
  inputs: Record<string, any>
  infotext: string
  arrays: Record<string, { same_as?: string; shape?: number[] }>
}

export const modeEntries = (folder: string): ModeEntry[] =>
  readRefJson<{ entries: ModeEntry[] }>('sd1', folder, `${folder}_goldens.json`).entries

export const modelFor = (e: ModeEntry): Promise<LoadedModel> =>
  sharedModel(ref('sd1', e.model.replace('../', '')), { threads: 1, vaeEncoder: true, ...(e.vae ? { vae: ref('sd1', e.vae.replace('../', '')) } : {}) })

/** The common request fields of an entry (txt2img part). */
export const baseRequest = (e: ModeEntry) => ({
  prompt: PROMPT, negativePrompt: NEGATIVE, sampler: e.inputs.sampler as string, steps: e.inputs.steps as number,
  cfgScale: e.inputs.cfg as number, seed: e.inputs.seed as number, rng: 'cpu' as const,
  width: e.inputs.width as number, height: e.inputs.height as number, tokenizer,
})

export async function img2imgRequest(folder: string, e: ModeEntry): Promise<Img2ImgRequest> {
  const i = e.inputs
  const init = toRgbFlattened(await readImage(ref('sd1', folder, 'init.png')))
  const inpaint = i.mask_blur === undefined ? undefined : {
    mask: toMaskL(await readImage(ref('sd1', folder, 'mask.png'))), maskBlur: i.mask_blur as number,
    fill: (i.inpaint_fill as string).replace(' ', '-') as InpaintFill,
    ...(i.inpaint_area === 'masked' ? { onlyMasked: { padding: i.masked_padding as number } } : {}),
  }
  return { ...baseRequest(e), init, denoisingStrength: i.denoise, resizeMode: i.resize_mode, ...(inpaint ? { inpaint } : {}) }
}

export interface Recorded { readonly xs: Float32Array[]; readonly denoised: Float32Array[]; readonly opts: RunOptions }

/** Run options that keep a copy of every step's x and denoised (all passes, in order). */
export function recorder(): Recorded {
  const xs: Float32Array[] = []
  const denoised: Float32Array[] = []
  return { xs, denoised, opts: { ...KEEP, onProgress: (p) => { xs.push(p.x.slice()); denoised.push(p.denoised.slice()) } } }
}

export async function golden(folder: string, e: ModeEntry, key: string): Promise<Float32Array> {
  const src = await refTensors('sd1', folder, `${folder}_goldens.safetensors`)
  return src.readF32(e.arrays[`${e.name}.${key}`]?.same_as ?? `${e.name}.${key}`)
}

export async function goldenBytes(folder: string, e: ModeEntry, key: string): Promise<Uint8Array> {
  const src = await refTensors('sd1', folder, `${folder}_goldens.safetensors`)
  return new Uint8Array(await src.readRaw(e.arrays[`${e.name}.${key}`]?.same_as ?? `${e.name}.${key}`))
}

export function assertLatent(actual: Float32Array, expected: Float32Array, what: string): void {
  const d = maxAbsDiff(actual, expected)
  assert.ok(d <= 1e-3 * maxAbs(expected), `${what}: max abs diff ${d} > 1e-3 · ${maxAbs(expected)}`)
}

/** Per-step states (`prefix`steps_x / steps_denoised when stored) from `offset` in the recording. */
export async function assertSteps(folder: string, e: ModeEntry, rec: Recorded, o: { prefix?: string; offset?: number } = {}): Promise<void> {
  const prefix = o.prefix ?? ''
  const offset = o.offset ?? 0
  for (const kind of ['steps_x', 'steps_denoised'] as const) {
    if (!e.arrays[`${e.name}.${prefix}${kind}`]) continue
    const all = await golden(folder, e, `${prefix}${kind}`)
    const per = rec.xs[offset].length
    const steps = all.length / per
    const got = kind === 'steps_x' ? rec.xs : rec.denoised
    for (let i = 0; i < steps; i++) assertLatent(got[offset + i], all.subarray(i * per, (i + 1) * per), `${e.name} ${prefix}${kind}[${i}]`)
  }
}

/** Final latent, decoded uint8 (when stored) and the golden PNG against one finished image. */
export async function assertFinal(folder: string, e: ModeEntry, img: FinishedImage, pngTolerance = 1): Promise<void> {
  assertLatent(img.latent, await golden(folder, e, 'latent'), `${e.name} latent`)
  const u8 = imageToUint8(img.image).data
  if (e.arrays[`${e.name}.decoded_uint8`]) assert.ok(maxByteDiff(u8, await goldenBytes(folder, e, 'decoded_uint8')) <= 1, `${e.name} decoded_uint8`)
  assertInfotext(e, formatInfotext(img.info))
  const png = await readImage(ref('sd1', folder, `${e.name}.png`))
  const pixels = img.pixels?.data ?? u8
  const d = maxByteDiff(pixels, png.data)
  assert.ok(d <= pngTolerance, `${e.name}.png off by ${d} > ${pngTolerance}`)
}

/**
 * A1111's infotext fields, in A1111's order. Hashes are the caller's, Version differs by design, and sdloom writes
 * v1.10's "Sampler: DPM++ 2M, Schedule type: Karras" where the v1.8 goldens have "Sampler: DPM++ 2M Karras".
 */
export function assertInfotext(e: ModeEntry, ours: string): void {
  const skip = new Set(['Model hash', 'VAE hash', 'Version', 'Schedule type', 'Sampler'])
  const norm = (f: Record<string, string>) => Object.entries(f).filter(([k]) => !skip.has(k))
    .map(([k, v]) => [k, v !== '' && Number.isFinite(Number(v)) ? Number(v) : v])
  const a = parseInfotext(ours).fields
  const b = parseInfotext(e.infotext).fields
  assert.deepEqual(norm(a), norm(b), `${e.name} infotext`)
  assert.ok(b.Sampler.startsWith(a.Sampler), `${e.name} infotext sampler ${a.Sampler} vs ${b.Sampler}`)
}
