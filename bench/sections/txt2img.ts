/*
 * txt2img at full SD1.5 size on the CPU: a checkpoint with the real SD1.5 layout and shapes (fp32, as
 * v1-5-pruned-emaonly; random weights) is written to a temp folder and deleted afterwards, then the pipeline's own
 * parts are timed: loadModel, text encoding (session create + prompt/negative), UNet seconds per CFG step at 512×512
 * (batch 2, after a warm-up call), VAE decode of one 64×64 latent, peak RSS (target <= 5 GB), and the UNet's GFLOP/s
 * (1.6 TFLOP per CFG step, as the issue counts it) against a 4096³ float32 MatMul measured in the same run.
 * Sessions are released between phases exactly as txt2img does by default (Txt2ImgOptions.keepSessions).
 * Env: SDLOOM_BENCH_TXT2IMG_STEPS (default 2).
 */
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { writeSafetensors, type WriteTensor } from '../../src/formats/safetensors-writer.ts'
import { createClipTokenizer } from '../../src/prompt/index.ts'
import { buildConditioning } from '../../src/pipeline/conditioning.ts'
import { loadModel } from '../../src/pipeline/load-model.ts'
import { unetModel } from '../../src/pipeline/unet-model.ts'
import { hfClipSpecs, unetSpecs, vaeSpecs, SD1_UNET, type TensorSpec } from '../../test/fixtures/tiny-layouts.ts'
import { TOKENIZER_DIR } from '../../test/golden.ts'
import { peakRssMb, type BenchRow, type BenchSection } from '../section.ts'
import { Graph } from '../../src/graph/builder.ts'
import * as op from '../../src/graph/ops.ts'
import { GraphSession } from '../../src/graph/session.ts'

const TFLOP_PER_CFG_STEP = 1.6

const THREADS = availableParallelism()

/** Wall seconds, and process CPU seconds per thread (robust to other jobs sharing the cores). */
const timed = async <T>(f: () => Promise<T>): Promise<{ value: T; s: number; cpu: number }> => {
  const t = performance.now()
  const c0 = process.cpuUsage()
  const value = await f()
  const c = process.cpuUsage(c0)
  return { value, s: (performance.now() - t) / 1000, cpu: (c.user + c.system) / 1e6 / THREADS }
}

/**
 * Best-of-3 GFLOP/s of a float32 n³ MatMul through onnxruntime-node, as bench/sections/unet.ts measures its ceiling
 * (kept here because that file's helper is being reworked; same method, same size).
 */
async function matmulCeiling(n = 4096): Promise<{ wall: number; cpu: number }> {
  const g = new Graph('ceiling')
  g.output('c', op.matmul(g, g.input('a', 'float32', [n, n]), g.input('b', 'float32', [n, n])))
  const s = await GraphSession.create(g, { weightKeys: [] })
  const rand = () => ({ shape: [n, n], data: Float32Array.from({ length: n * n }, () => Math.random() * 2 - 1) })
  const feeds = { a: rand(), b: rand() }
  const none = { get: () => new Float32Array(), shape: () => [] }
  let best = Infinity
  let bestCpu = Infinity
  try {
    await s.run(feeds, none)
    for (let i = 0; i < 3; i++) {
      const r = await timed(() => s.run(feeds, none))
      best = Math.min(best, r.s)
      bestCpu = Math.min(bestCpu, r.cpu)
    }
  } finally {
    await s.release()
  }
  return { wall: (2 * n ** 3) / 1e9 / best, cpu: (2 * n ** 3) / 1e9 / bestCpu }
}

/** Random fp32 bytes (xorshift, ±1/√fan_in; norm weights 1) for one tensor, made when the writer reaches it. */
function randomTensor(s: TensorSpec, seed: number): WriteTensor {
  return {
    ...s, data: async () => {
      const n = s.shape.reduce((a, b) => a * b, 1)
      const a = new Float32Array(n)
      if (/norm[^.]*\.weight$|layer_norm\d\.weight$|ln_\w+\.weight$/.test(s.name)) return new Uint8Array(a.fill(1).buffer)
      const scale = 2 / Math.sqrt(s.shape.length > 1 ? n / s.shape[0] : 64)
      let x = seed | 1
      for (let i = 0; i < n; i++) {
        x ^= x << 13; x ^= x >>> 17; x ^= x << 5
        a[i] = ((x >>> 0) / 4294967296 - 0.5) * scale
      }
      return new Uint8Array(a.buffer)
    },
  }
}

async function writeSd15(file: string): Promise<void> {
  const specs = [
    ...unetSpecs(SD1_UNET, 'model.diffusion_model.', 'F32'),
    ...vaeSpecs(128, 'first_stage_model.', 'F32'),
    ...hfClipSpecs(768, 12, 'cond_stage_model.transformer.text_model.', 'F32'),
  ]
  await writeSafetensors(file, specs.map((s, i) => randomTensor(s, 0x9e3779b9 + i * 7919)))
}

async function measure(file: string, steps: number): Promise<BenchRow[]> {
  const rows: BenchRow[] = []
  // measured before and after the UNet runs (the higher is used): on a shared machine either may be disturbed
  const ceilingBefore = await matmulCeiling()
  const load = await timed(() => loadModel(file))
  const model = load.value
  const gb = async () => `${((await peakRssMb()) / 1024).toFixed(2)} GB`
  rows.push({ measure: 'loadModel (identify + read 4.3 GB fp32 into the WeightStore)', value: `${load.s.toFixed(1)} s`, note: `peak RSS after: ${await gb()}` })
  const tokenizer = createClipTokenizer(TOKENIZER_DIR)
  const req = { prompt: 'a photo of a cat, (masterpiece:1.2), best quality', negativePrompt: 'blurry, lowres', scheduleSteps: 20, clipSkip: 1, tokenizer, width: 512, height: 512 }
  const te1 = await timed(() => buildConditioning(model, req))
  const te2 = await timed(() => buildConditioning(model, { ...req, prompt: 'a watercolor of a lighthouse at dusk' }))
  rows.push({ measure: 'text encode: first call (CLIP-L session create + prompt + negative)', value: `${te1.s.toFixed(2)} s` })
  rows.push({ measure: 'text encode: prompt + negative (session warm)', value: `${te2.s.toFixed(2)} s` })
  await model.releaseSessions('text') // as txt2img does between phases
  const unetCreate = await timed(() => model.unet())
  rows.push({ measure: 'UNet graph build + session create', value: `${unetCreate.s.toFixed(1)} s` })
  const fn = unetModel({ unet: unetCreate.value, weights: model.weights, conditioning: te1.value, latentShape: [4, 64, 64] })
  const x = Float32Array.from({ length: 2 * 4 * 64 * 64 }, () => Math.random() * 2 - 1)
  const rowsCfg = [{ kind: 'cond', image: 0, part: 0 } as const, { kind: 'uncond', image: 0 } as const]
  const warm = await timed(() => fn(x, 500, { rows: rowsCfg, sigma: 1 }))
  let total = 0
  let cpu = 0
  for (let i = 0; i < steps; i++) {
    const r = await timed(() => fn(x, 500 - i, { rows: rowsCfg, sigma: 1 }))
    total += r.s
    cpu += r.cpu
  }
  const perStep = total / steps
  const after = await matmulCeiling()
  const ceiling = Math.max(after.wall, ceilingBefore.wall)
  const ceilingCpu = Math.max(after.cpu, ceilingBefore.cpu)
  const gflops = (TFLOP_PER_CFG_STEP * 1000) / perStep
  const gflopsCpu = (TFLOP_PER_CFG_STEP * 1000) / (cpu / steps)
  rows.push({ measure: 'UNet seconds per CFG step, 512×512', value: perStep.toFixed(2), note: `mean of ${steps} after a ${warm.s.toFixed(1)} s warm-up; batch 2 (cond + uncond, one call); peak RSS after: ${await gb()}` })
  rows.push({ measure: 'UNet CPU seconds per CFG step / threads', value: (cpu / steps).toFixed(2), note: `${THREADS} threads` })
  rows.push({ measure: 'UNet achieved GFLOP/s', value: `${gflops.toFixed(0)} wall, ${gflopsCpu.toFixed(0)} by CPU time`, note: `${TFLOP_PER_CFG_STEP} TFLOP per CFG step` })
  rows.push({ measure: 'float32 MatMul 4096³ ceiling (same run)', value: `${ceiling.toFixed(0)} GFLOP/s wall, ${ceilingCpu.toFixed(0)} by CPU time`, note: 'best of before/after the UNet runs' })
  rows.push({ measure: 'UNet ratio to the MatMul ceiling', value: `${(gflops / ceiling).toFixed(2)} wall, ${(gflopsCpu / ceilingCpu).toFixed(2)} by CPU time`, note: 'target >= 0.6' })
  await model.releaseSessions('unet')
  const vaeCreate = await timed(() => model.vaeDecoder())
  const z = { shape: [1, 4, 64, 64], data: Float32Array.from({ length: 4 * 64 * 64 }, () => Math.random() * 2 - 1) }
  const dec = await timed(() => vaeCreate.value.decode(z))
  rows.push({ measure: 'VAE decoder session create', value: `${vaeCreate.s.toFixed(1)} s` })
  rows.push({ measure: 'VAE decode 64×64 latent → 512×512', value: `${dec.s.toFixed(2)} s wall, ${dec.cpu.toFixed(2)} s CPU / threads` })
  rows.push({ measure: 'peak RSS (whole bench process)', value: await gb(), note: 'target <= 5 GB' })
  await model.release()
  return rows
}

export const section: BenchSection = {
  title: 'txt2img pipeline (full-size SD1.5 layout, random fp32 weights, CPU)',
  async run() {
    const dir = await mkdtemp(join(tmpdir(), 'sdloom-bench-txt2img-'))
    try {
      const file = join(dir, 'sd15-random.safetensors')
      const write = await timed(() => writeSd15(file))
      const rows: BenchRow[] = [{ measure: 'write the checkpoint (bench setup)', value: `${write.s.toFixed(1)} s`, note: `${((await stat(file)).size / 1e9).toFixed(2)} GB` }]
      rows.push(...await measure(file, Number(process.env.SDLOOM_BENCH_TXT2IMG_STEPS ?? 2)))
      return rows
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  },
}
