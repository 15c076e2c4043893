/*
 * Shared by the pipeline e2e tests: the reference sampler runs as txt2img requests, one loaded model per file and
 * test process, and the README's tolerances (latent max abs <= 1e-3 · max|latent|, decoded image 1e-2, uint8 ±1,
 * the golden PNG ±1).
 */
import { after } from 'node:test'
import assert from 'node:assert/strict'
import { readPng } from '../../src/image/png.ts'
import { imageToUint8 } from '../../src/image/to-uint8.ts'
import { createClipTokenizer } from '../../src/prompt/index.ts'
import { loadModel, type LoadedModel, type LoadModelOptions } from '../../src/pipeline/load-model.ts'
import type { Txt2ImgImage, Txt2ImgRequest } from '../../src/pipeline/txt2img.ts'
import { TOKENIZER_DIR, maxAbs, maxAbsDiff, readRefJson, ref, refTensors } from '../golden.ts'

export const tokenizer = createClipTokenizer(TOKENIZER_DIR)
export const PROMPT = 'a photo of a cat, (masterpiece:1.2), best quality'
export const NEGATIVE = 'blurry, lowres'

/** Tests share one model per file across runs: keep its sessions instead of rebuilding them per run (the default). */
export const KEEP = { keepSessions: true } as const

/** The round-1 goldens' sampler keys as A1111 names; "dpmpp_2m" was made with 1.8's discrete schedule (1.10: + Uniform). */
export const SAMPLER_LABELS: Readonly<Record<string, string>> = {
  euler: 'Euler', euler_ancestral: 'Euler a', heun: 'Heun', lms: 'LMS', dpmpp_2m: 'DPM++ 2M Uniform', dpmpp_2m_karras: 'DPM++ 2M Karras', ddim: 'DDIM',
}

export interface GoldenEntry { key: string; sampler: string; height: number; width: number; seed: number; steps: number; cfg_scale: number }

export const goldenEntries = (dir: string, goldens: string): GoldenEntry[] =>
  readRefJson<{ samplers: { entries: GoldenEntry[] } }>(dir, 'goldens', `${goldens}.json`).samplers.entries

/** The reference run of `e` as a txt2img request (CPU noise source, as the goldens were made). */
export const requestFor = (e: GoldenEntry): Txt2ImgRequest => ({
  prompt: PROMPT, negativePrompt: NEGATIVE, sampler: SAMPLER_LABELS[e.sampler], steps: e.steps, cfgScale: e.cfg_scale,
  seed: e.seed, rng: 'cpu', width: e.width, height: e.height, tokenizer,
})

const models = new Map<string, Promise<LoadedModel>>()
/** One LoadedModel per file (and options) per test process; released after the file's tests. */
export function sharedModel(path: string, opts: LoadModelOptions = {}): Promise<LoadedModel> {
  const key = `${path} ${JSON.stringify(opts)}`
  if (!models.has(key)) models.set(key, loadModel(path, opts))
  return models.get(key) as Promise<LoadedModel>
}
after(async () => { for (const m of models.values()) await (await m).release() })

export function maxByteDiff(a: Uint8Array, b: Uint8Array): number {
  assert.equal(a.length, b.length, 'byte lengths')
  let d = 0
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]))
  return d
}

/** Latent, image, uint8 and the golden PNG of `key` against one generated image. */
export async function assertMatchesGolden(img: Pick<Txt2ImgImage, 'image' | 'latent'>, dir: string, goldens: string, key: string): Promise<void> {
  const src = await refTensors(dir, 'goldens', `${goldens}.safetensors`)
  const latent = await src.readF32(`${key}.latent`)
  const d = maxAbsDiff(img.latent, latent)
  assert.ok(d <= 1e-3 * maxAbs(latent), `${key} latent: ${d} > 1e-3 · ${maxAbs(latent)}`)
  const di = maxAbsDiff(img.image.data, await src.readF32(`${key}.image`))
  assert.ok(di <= 1e-2, `${key} image: ${di} > 1e-2`)
  const u8 = imageToUint8(img.image).data
  assert.ok(maxByteDiff(u8, await src.readRaw(`${key}.image_uint8`)) <= 1, `${key} image_uint8 off by more than 1`)
  const png = await readPng(ref(dir, 'goldens', `${key}.png`))
  assert.ok(maxByteDiff(u8, png.data) <= 1, `${key}.png off by more than 1`)
}
