/*
 * txt2img at full size on the CPU: a checkpoint with the real layout and shapes (fp32; random weights) is written to a
 * temp folder and deleted afterwards, then the pipeline's own parts are timed: loadModel, text encoding, UNet seconds
 * per CFG step (batch 2 = cond + uncond in one call, after a warm-up call), the VAE decode of one latent, peak RSS
 * per phase (reset between phases, so each figure is that phase's own high-water mark), and the UNet's GFLOP/s
 * against a 4096³ float32 MatMul measured in the same run. Sessions are released between phases as txt2img does.
 * Cases: SD1.5 at 512² (1.6 TFLOP per CFG step, as the issue counts it; target peak <= 5 GB) and, with
 * SDLOOM_BENCH_SDXL=1|only, SDXL base at 1024² (13.52 TFLOP per CFG step, bench/sections/unet.ts's count; a 13.9 GB
 * file; target peak <= 16 GB). Env: SDLOOM_BENCH_TXT2IMG_STEPS (timed steps, default 2 for SD1.5, 1 for SDXL).
 */
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createClipTokenizer } from '../../src/prompt/index.ts'
import { buildConditioning } from '../../src/pipeline/conditioning.ts'
import { loadModel } from '../../src/pipeline/load-model.ts'
import { unetModel } from '../../src/pipeline/unet-model.ts'
import { TOKENIZER_DIR } from '../../test/golden.ts'
import { peakRssMb, type BenchRow, type BenchSection } from '../section.ts'
import { coresNote, gib, resetPeakRss, rssGib, timed } from '../machine.ts'
import { matmulCeiling, SD15_CASE, SDXL_CASE, type Txt2ImgCase } from '../txt2img-cases.ts'
import type { HostTensor } from '../../src/core/host-tensor.ts'
import type { LoadedModel } from '../../src/pipeline/load-model.ts'
import { AUTO_TILE_ABOVE, SMALL_VAE_TILING } from '../../src/models/vae/index.ts'

async function unetSteps(file: string, c: Txt2ImgCase, steps: number, rows: BenchRow[]) {
  const load = await timed(() => loadModel(file))
  const model = load.value
  rows.push({ measure: `${c.name}: loadModel (identify + read fp32 into the WeightStore)`, value: `${load.s.toFixed(1)} s`, note: `peak RSS while loading: ${await gib()}` })
  await resetPeakRss()
  const tokenizer = createClipTokenizer(TOKENIZER_DIR)
  const req = { prompt: 'a photo of a cat, (masterpiece:1.2), best quality', negativePrompt: 'blurry, lowres', scheduleSteps: 20, clipSkip: 1, tokenizer, width: c.side, height: c.side }
  const te1 = await timed(() => buildConditioning(model, req))
  const te2 = await timed(() => buildConditioning(model, { ...req, prompt: 'a watercolor of a lighthouse at dusk' }))
  rows.push({ measure: `${c.name}: text encode, first call (session create + prompt + negative)`, value: `${te1.s.toFixed(2)} s` })
  rows.push({ measure: `${c.name}: text encode, prompt + negative (session warm)`, value: `${te2.s.toFixed(2)} s`, note: `phase peak RSS ${await gib()}` })
  await model.releaseSessions('text') // as txt2img does between phases
  await resetPeakRss()
  const unetStart = await rssGib()
  const unetCreate = await timed(() => model.unet())
  rows.push({ measure: `${c.name}: UNet graph build + session create`, value: `${unetCreate.s.toFixed(1)} s` })
  const latent = c.side / 8
  const fn = unetModel({ unet: unetCreate.value, weights: model.weights, conditioning: te1.value, latentShape: [4, latent, latent] })
  const x = Float32Array.from({ length: 2 * 4 * latent * latent }, () => Math.random() * 2 - 1)
  const cfgRows = [{ kind: 'cond', image: 0, part: 0 } as const, { kind: 'uncond', image: 0 } as const]
  const warm = await timed(() => fn(x, 500, { rows: cfgRows, sigma: 1 }))
  const runs = []
  for (let i = 0; i < steps; i++) runs.push(await timed(() => fn(x, 499 - i, { rows: cfgRows, sigma: 1 })))
  await model.releaseSessions('unet')
  return { model, warm, runs, unetPeak: `${await gib()}; ${unetStart} at the phase start` }
}

async function measure(file: string, c: Txt2ImgCase, steps: number): Promise<BenchRow[]> {
  const rows: BenchRow[] = []
  // measured before and after the UNet runs (the higher is used): on a shared machine either may be disturbed
  const ceilingBefore = await matmulCeiling()
  await resetPeakRss()
  const { model, warm, runs, unetPeak } = await unetSteps(file, c, steps, rows)
  const perStep = runs.reduce((a, r) => a + r.s, 0) / steps
  const cpuPerStep = runs.reduce((a, r) => a + r.cpu, 0) / steps
  const after = await matmulCeiling()
  const ceiling = Math.max(after.wall, ceilingBefore.wall)
  const ceilingCpu = Math.max(after.cpu, ceilingBefore.cpu)
  const gflops = (c.tflopPerStep * 1000) / perStep
  const gflopsCpu = (c.tflopPerStep * 1000) / cpuPerStep
  rows.push(
    { measure: `${c.name}: UNet seconds per CFG step`, value: perStep.toFixed(2), note: `mean of ${steps} after a ${warm.s.toFixed(1)} s warm-up; ${runs.map(coresNote).join('; ')}` },
    { measure: `${c.name}: UNet CPU seconds per CFG step / threads`, value: cpuPerStep.toFixed(2) },
    { measure: `${c.name}: UNet achieved GFLOP/s`, value: `${gflops.toFixed(0)} wall, ${gflopsCpu.toFixed(0)} by CPU time`, note: `${c.tflopPerStep} TFLOP per CFG step` },
    { measure: `${c.name}: float32 MatMul 4096³ ceiling (same run)`, value: `${ceiling.toFixed(0)} GFLOP/s wall, ${ceilingCpu.toFixed(0)} by CPU time`, note: 'best of before/after the UNet runs' },
    { measure: `${c.name}: UNet ratio to the MatMul ceiling`, value: `${(gflops / ceiling).toFixed(2)} wall, ${(gflopsCpu / ceilingCpu).toFixed(2)} by CPU time`, note: 'target >= 0.6' },
    { measure: `${c.name}: peak RSS, sampling phase (weights + UNet session)`, value: unetPeak },
  )
  await resetPeakRss()
  const vaeStart = await rssGib()
  const vaeCreate = await timed(() => model.vaeDecoder())
  const side = c.side / 8
  const z = { shape: [1, 4, side, side], data: Float32Array.from({ length: 4 * side * side }, () => Math.random() * 2 - 1) }
  const dec = await timed(() => vaeCreate.value.decode(z))
  rows.push({ measure: `${c.name}: VAE decoder session create`, value: `${vaeCreate.s.toFixed(1)} s` })
  rows.push({
    measure: `${c.name}: VAE decode ${side}² latent → ${c.side}² (${side * side > AUTO_TILE_ABOVE ? 'tiled, auto' : 'whole image, exact'})`,
    value: `${dec.s.toFixed(2)} s wall, ${dec.cpu.toFixed(2)} s CPU / threads`, note: coresNote(dec),
  })
  rows.push({ measure: `${c.name}: peak RSS, decode phase (weights + VAE session)`, value: await gib(), note: `${vaeStart} at the phase start; target <= ${c.peakTarget}` })
  if (side * side <= AUTO_TILE_ABOVE) rows.push(...await tiledDecode(model, z, c))
  await model.release()
  return rows
}

/** The same decode with tiling 'on' (Txt2ImgOptions.vaeTiling), in a fresh VAE session and peak window. */
async function tiledDecode(model: LoadedModel, z: HostTensor, c: Txt2ImgCase): Promise<BenchRow[]> {
  await model.releaseSessions('vae')
  await resetPeakRss()
  const start = await rssGib()
  const vae = await model.vaeDecoder()
  const dec = await timed(() => vae.decode(z, { tiling: 'on' }))
  return [
    { measure: `${c.name}: VAE decode with tiling 'on' (${SMALL_VAE_TILING.maxTile}² latent tiles at most, overlap ${SMALL_VAE_TILING.overlap})`, value: `${dec.s.toFixed(2)} s wall`, note: coresNote(dec) },
    { measure: `${c.name}: peak RSS, decode phase with tiling 'on'`, value: await gib(), note: `${start} at the phase start` },
  ]
}

async function runCase(c: Txt2ImgCase, steps: number): Promise<BenchRow[]> {
  const dir = await mkdtemp(join(tmpdir(), 'sdloom-bench-txt2img-'))
  try {
    const file = join(dir, `${c.name}-random.safetensors`)
    const write = await timed(() => c.write(file))
    const rows: BenchRow[] = [{ measure: `${c.name}: write the checkpoint (bench setup)`, value: `${write.s.toFixed(1)} s`, note: `${((await stat(file)).size / 1e9).toFixed(2)} GB` }]
    rows.push(...await measure(file, c, steps))
    return rows
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

export const section: BenchSection = {
  title: 'txt2img pipeline (full-size SD1.5 / SDXL layouts, random fp32 weights, CPU)',
  async run() {
    const sdxl = process.env.SDLOOM_BENCH_SDXL
    const steps = process.env.SDLOOM_BENCH_TXT2IMG_STEPS
    const rows: BenchRow[] = []
    if (sdxl !== 'only') rows.push(...await runCase(SD15_CASE, Number(steps ?? 2)))
    if (sdxl === '1' || sdxl === 'only') rows.push(...await runCase(SDXL_CASE, Number(steps ?? 1)))
    rows.push({ measure: 'peak RSS of the last phase measured (process)', value: `${((await peakRssMb()) / 1024).toFixed(2)} GiB` })
    return rows
  },
}
