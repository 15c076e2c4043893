/*
 * Shared by the bypass-mode e2e tests: reference adapter paths, a rewritten copy of an adapter file, and the outputs
 * adapters change (one UNet call on fixed inputs, the text conditioning of a prompt).
 */
import { after, before } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { HostTensor } from '../../src/core/host-tensor.ts'
import { encodeF32As, writeSafetensors, type WriteTensor } from '../../src/formats/safetensors-writer.ts'
import { openTensorFile } from '../../src/formats/open.ts'
import { buildConditioning } from '../../src/pipeline/conditioning.ts'
import type { LoadedModel } from '../../src/pipeline/load-model.ts'
import { prepareAdapters, type AdapterMode, type AdapterRequest } from '../../src/pipeline/adapters.ts'
import { rng, randomTensor } from '../../src/adapters/testing/reference-ops.ts'
import { maxAbs, maxAbsDiff, ref } from '../golden.ts'
import { tokenizer } from './pipeline-goldens.ts'

export const LORA = ref('sd1', 'adapters', 'tinylora.safetensors')
export const LOKR = ref('sd1', 'adapters', 'tinylokr.safetensors')
export const XL_LORA = ref('sdxl', 'adapters', 'tinyxl_lora.safetensors')
const quiet = () => undefined

let tmp: string
before(async () => { tmp = await mkdtemp(join(tmpdir(), 'sdloom-bypass-')) })
after(async () => { await rm(tmp, { recursive: true, force: true }) })

/** Writes `tensors` (float32) as an adapter file in the test's temp folder. */
export async function writeAdapter(name: string, tensors: ReadonlyMap<string, HostTensor>): Promise<string> {
  const out = join(tmp, `${name}.safetensors`)
  await writeSafetensors(out, [...tensors].map(([key, t]) => ({ name: key, dtype: 'F32' as const, shape: [...t.shape], data: encodeF32As('F32', t.data) })))
  return out
}

/** A copy of an adapter file keeping the keys `keep` accepts, each tensor mapped by `map` (default: as is). */
export async function rewrite(file: string, name: string, keep: (key: string) => boolean, map = (_k: string, d: Float32Array) => d): Promise<string> {
  const source = await openTensorFile(file)
  const tensors: WriteTensor[] = []
  for (const key of source.keys().filter(keep)) {
    tensors.push({ name: key, dtype: 'F32', shape: source.info(key).shape, data: encodeF32As('F32', map(key, await source.readF32(key))) })
  }
  await source.close()
  const out = join(tmp, `${name}.safetensors`)
  await writeSafetensors(out, tensors)
  return out
}

/** n values in [-0.5, 0.5) from their own seeded stream. */
const rand = (n: number, seed: number): Float32Array => randomTensor([n], rng(seed), 0.5).data

/** One UNet call on fixed inputs and the text encoder(s)' conditioning for a prompt: what adapters change. */
export async function outputs(model: LoadedModel): Promise<{ unet: Float32Array; cond: Float32Array }> {
  const unet = await model.unet()
  const ctx = unet.config.contextDim
  const adm = unet.config.admInChannels
  const x: HostTensor = { shape: [1, 4, 8, 8], data: rand(256, 5) }
  const out = await unet.run({
    x, t: { shape: [1], data: Float32Array.of(500) }, context: { shape: [1, 77, ctx], data: rand(77 * ctx, 6) },
    ...(adm > 0 ? { y: { shape: [1, adm], data: rand(adm, 7) } } : {}),
  }, model.weights)
  const c = await buildConditioning(model, { prompt: 'a photo of a cat', negativePrompt: '', scheduleSteps: 1, clipSkip: 1, tokenizer, width: 64, height: 64 })
  return { unet: out.data, cond: c.condAt(0)[0].context }
}

export const apply = (model: LoadedModel, loras: AdapterRequest['loras'], mode: AdapterMode, log: (l: string) => void = quiet) =>
  prepareAdapters(model, { loras, tokenizer, hashCache: false, mode }, log)

export function assertNear(a: Float32Array, b: Float32Array, what: string): void {
  const d = maxAbsDiff(a, b)
  assert.ok(d <= 1e-5 * Math.max(1, maxAbs(b)), `${what}: bypass differs from merge by ${d} (max |x| ${maxAbs(b)})`)
}

