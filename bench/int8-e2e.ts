/*
 * `--weights int8` end to end (bench/sections/int8.ts, when SDLOOM_BENCH_INT8_E2E=1): the full-size random SD1.5
 * checkpoint written as fp16 (as released SD1.5 files are), one txt2img per precision in its own process
 * (bench/txt2img-e2e-child.ts, oneShot as `sdloom generate` runs it): peak RSS and each phase's peak (what holds the
 * memory), CPU seconds per step, and the image's PSNR int8 vs fp32. SDLOOM_BENCH_INT8_STEPS (20),
 * SDLOOM_BENCH_INT8_SIDE (512); SDLOOM_BENCH_SDXL=1 adds SDXL 1024² with int8 (peak RSS only, 2 steps).
 * `int8UnetRunRows` (SDLOOM_BENCH_INT8_RUN=1) is the cheap check of the same memory: what one int8 UNet run adds over
 * its session at a 16² latent (bench/int8-unet-run-child.ts), SD1.5 and SDXL, no checkpoint written.
 */
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { SD15_CASE, SDXL_CASE, type Txt2ImgCase } from './txt2img-cases.ts'
import type { BenchRow } from './section.ts'

interface ChildResult { peakGiB: number; s: number; steps: number; phases: { phase: string; peakMb: number; cpuS: number }[] }

async function child(file: string, weights: 'fp32' | 'int8', steps: number, side: number, image: string): Promise<ChildResult> {
  const env = { ...process.env, SDLOOM_E2E_WEIGHTS: weights, SDLOOM_E2E_STEPS: String(steps), SDLOOM_E2E_SIDE: String(side), SDLOOM_E2E_IMAGE: image }
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'bench/txt2img-e2e-child.ts', file, 'oneShot'], { env, maxBuffer: 1 << 24 })
  return JSON.parse(stdout.trim().split('\n').pop() as string) as ChildResult
}

/** PSNR in dB of two images with values in [-1, 1] (peak-to-peak 2). */
function psnr(a: Float32Array, b: Float32Array): number {
  let se = 0
  for (let i = 0; i < a.length; i++) se += (a[i] - b[i]) ** 2
  return 10 * Math.log10(4 / (se / a.length))
}

const load = () => loadavg().map((v) => v.toFixed(1)).join(' ')
const phasesNote = (r: ChildResult) => r.phases.map((p) => `${p.phase} ${(p.peakMb / 1024).toFixed(2)} GiB / ${p.cpuS} CPU-s`).join('; ')

async function runCase(c: Txt2ImgCase, dir: string, precisions: readonly ('fp32' | 'int8')[], steps: number, side: number, rows: BenchRow[]): Promise<void> {
  const file = join(dir, `${c.name.split(' ')[0]}-f16.safetensors`)
  await c.write(file, 'F16')
  const images = new Map<string, Float32Array>()
  for (const w of precisions) {
    const image = join(dir, `${w}.f32`)
    const r = await child(file, w, steps, side, image)
    const buf = await readFile(image)
    images.set(w, new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4))
    const sample = r.phases.find((p) => p.phase === 'sample')
    rows.push({ measure: `${c.name.split(' ')[0]} ${side}² txt2img, ${steps} steps, ${w} weights (fp16 file): peak RSS`, value: `${r.peakGiB.toFixed(2)} GiB (${(r.peakGiB * 1.073741824).toFixed(2)} GB)`,
      note: `phases (peak RSS / CPU, all threads): ${phasesNote(r)}; load avg ${load()}` })
    if (sample) rows.push({ measure: `  ${w}: CPU seconds per step (all threads)`, value: (sample.cpuS / steps).toFixed(1) })
  }
  const [a, b] = [images.get('fp32'), images.get('int8')]
  if (a && b) rows.push({ measure: `${c.name.split(' ')[0]} ${side}², ${steps} steps: image PSNR int8 vs fp32`, value: `${psnr(a, b).toFixed(1)} dB`, note: 'random weights, same seed' })
}

/** One int8 UNet run per model at a 16² latent: the dequantized weights alive at once (bench/int8-unet-run-child.ts). */
export async function int8UnetRunRows(): Promise<BenchRow[]> {
  const rows: BenchRow[] = []
  for (const model of ['sd15', 'sdxl']) {
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'bench/int8-unet-run-child.ts', model, '16'], { maxBuffer: 1 << 20 })
    const r = JSON.parse(stdout.trim().split('\n').pop() as string) as { addedMiB: number; sessionMiB: number; cpuS: number }
    rows.push({ measure: `${model} UNet, int8 weights, one batch-2 run at a 16² latent: RSS added over the session`, value: `${r.addedMiB} MiB`,
      note: `session ${r.sessionMiB} MiB; ${r.cpuS} CPU-s; load avg ${load()}` })
  }
  return rows
}

export async function int8EndToEndRows(): Promise<BenchRow[]> {
  const rows: BenchRow[] = []
  const dir = await mkdtemp(join(tmpdir(), 'sdloom-int8-e2e-'))
  try {
    const steps = Number(process.env.SDLOOM_BENCH_INT8_STEPS ?? 20)
    await runCase(SD15_CASE, dir, ['fp32', 'int8'], steps, Number(process.env.SDLOOM_BENCH_INT8_SIDE ?? 512), rows)
    if (process.env.SDLOOM_BENCH_SDXL) await runCase(SDXL_CASE, dir, ['int8'], 2, 1024, rows)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
  return rows
}

/**
 * The step target: one SD1.5 UNet call at 512² (batch 2, as a CFG step) per precision, the full-size random
 * checkpoint written as fp16, models loaded side by side, 3 interleaved rounds after a warm-up, best wall and its CPU.
 * w8a8 runs the Linear/Conv layers on integer kernels; int8 is weight-only (float32 kernels).
 */
export async function int8StepRows(): Promise<BenchRow[]> {
  const { loadModel } = await import('../src/pipeline/load-model.ts')
  const { xorshiftFill } = await import('./section.ts')
  const dir = await mkdtemp(join(tmpdir(), 'sdloom-bench-step-'))
  const rows: BenchRow[] = []
  try {
    const file = join(dir, 'sd15-f16.safetensors')
    await SD15_CASE.write(file, 'F16')
    const precisions = ['fp32', 'int8', 'w8a8'] as const
    const models = await Promise.all(precisions.map((weights) => loadModel(file, { weights })))
    const unets = await Promise.all(models.map((m) => m.unet()))
    const feeds = { x: { shape: [2, 4, 64, 64], data: xorshiftFill(2 * 4 * 64 * 64, 3, 1) }, t: { shape: [2], data: Float32Array.of(500, 500) }, context: { shape: [2, 77, 768], data: xorshiftFill(2 * 77 * 768, 4, 1) } }
    const best = precisions.map(() => ({ s: Infinity, cpu: 0 }))
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < precisions.length; i++) {
        const c = process.cpuUsage()
        const t = performance.now()
        await unets[i].run(feeds, models[i].weights)
        const s = (performance.now() - t) / 1000
        const u = process.cpuUsage(c)
        if (round > 0 && s < best[i].s) best[i] = { s, cpu: (u.user + u.system) / 1e6 }
      }
    }
    for (let i = 0; i < precisions.length; i++) {
      rows.push({ measure: `SD1.5 UNet call at 512² (batch 2), ${precisions[i]} weights`, value: `${best[i].s.toFixed(2)} s`,
        note: `${(best[i].s / best[0].s).toFixed(3)}× fp32 wall, ${(best[i].cpu / best[0].cpu).toFixed(3)}× CPU; best of 3 interleaved rounds after a warm-up; load avg ${load()}` })
    }
    await Promise.all(models.map((m) => m.release()))
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
  return rows
}
