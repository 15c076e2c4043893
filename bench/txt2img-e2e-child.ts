/**
 * One txt2img run in a fresh process (so its peak RSS is its own): `node --import tsx bench/txt2img-e2e-child.ts
 * FILE oneShot|kept [LORA]` prints {peakGiB, s, phases} as JSON (LORA: applied first, as `sdloom generate --lora` does).
 * Env: SDLOOM_E2E_WEIGHTS (fp32|auto|int8; fp32 unless given), SDLOOM_E2E_STEPS (2), SDLOOM_E2E_SIDE (the model's native size),
 * SDLOOM_E2E_IMAGE (write the decoded image's float32 values there, for PSNR), SDLOOM_E2E_FAST=1 (the few-step path:
 * LCM sampler, CFG 1, a random-weight TAESD decoder instead of the VAE, 4 steps unless SDLOOM_E2E_STEPS says). `phases` gives each phase's peak RSS
 * (the peak is reset at each boundary) and CPU seconds (all threads), so what holds the memory can be named.
 * Used by bench/sections/txt2img-e2e.ts and bench/sections/int8.ts.
 */
import { writeFile } from 'node:fs/promises'
import { prepareAdapters } from '../src/pipeline/adapters.ts'
import { loadModel, WEIGHT_PRECISIONS } from '../src/pipeline/load-model.ts'
import { txt2img } from '../src/pipeline/txt2img.ts'
import { createClipTokenizer } from '../src/prompt/index.ts'
import { TOKENIZER_DIR } from '../test/golden.ts'
import { resetPeakRss } from './machine.ts'
import { taesdStore } from './sections/taesd.ts'
import { TaesdDecoder } from '../src/models/taesd/index.ts'
import { peakRssMb } from './section.ts'

const [file, mode, lora] = process.argv.slice(2)
const weights = WEIGHT_PRECISIONS.find((w) => w === process.env.SDLOOM_E2E_WEIGHTS) ?? 'fp32'
const fast = process.env.SDLOOM_E2E_FAST === '1'
const steps = Number(process.env.SDLOOM_E2E_STEPS ?? (fast ? 4 : 2))
const side = process.env.SDLOOM_E2E_SIDE ? Number(process.env.SDLOOM_E2E_SIDE) : undefined

const phases: { phase: string; peakMb: number; cpuS: number }[] = []
let phaseName = 'load'
let cpu0 = process.cpuUsage()
let overallPeak = 0
async function endPhase(next: string): Promise<void> {
  const peakMb = await peakRssMb()
  overallPeak = Math.max(overallPeak, peakMb)
  const c = process.cpuUsage(cpu0)
  phases.push({ phase: phaseName, peakMb: Math.round(peakMb), cpuS: Number(((c.user + c.system) / 1e6).toFixed(1)) })
  await resetPeakRss()
  phaseName = next
  cpu0 = process.cpuUsage()
}

const tLoad = performance.now()
const model = await loadModel(file, { weights })
const loadS = (performance.now() - tLoad) / 1000
const taesd = fast ? await TaesdDecoder.create(taesdStore('decoder')) : undefined
await endPhase(lora ? 'lora' : 'setup')
const t0 = performance.now()
if (lora) await prepareAdapters(model, { loras: [{ file: lora, te: 1, unet: 1 }], hashCache: false, oneShot: mode === 'oneShot' }, () => undefined)
const tokenizer = createClipTokenizer(TOKENIZER_DIR)
const cpuRun = process.cpuUsage()
const [img] = await txt2img(model, { prompt: 'a photo of a cat', negativePrompt: 'blurry', steps, sampler: fast ? 'LCM' : 'Euler', seed: 1, tokenizer, ...(fast ? { cfgScale: 1 } : {}), ...(side ? { width: side, height: side } : {}) },
  { oneShot: mode === 'oneShot', onPhase: (p) => endPhase(p), ...(taesd ? { decoder: (latent) => taesd.decode(latent) } : {}) })
const runCpu = process.cpuUsage(cpuRun)
await endPhase('done')
const s = (performance.now() - t0) / 1000
if (process.env.SDLOOM_E2E_IMAGE) await writeFile(process.env.SDLOOM_E2E_IMAGE, new Uint8Array(img.image.data.buffer, img.image.data.byteOffset, img.image.data.byteLength))
console.log(JSON.stringify({ peakGiB: overallPeak / 1024, loadS, s, cpuS: (runCpu.user + runCpu.system) / 1e6, steps, weights, fast, phases }))
await model.release()
