/**
 * Sampling overheads at SDXL/SD1.5 latent sizes (everything here runs in plain JS next to the UNet): initial noise
 * for one 1024x1024 image ([4, 128, 128]) from each random source, and the CPU time the samplers spend per step
 * outside the model call (CFG batching + combine + update) with an instant stand-in model, batch 1, CFG 7, for every
 * sampler at SD1.5 512².
 */
import { ImageRng, SAMPLERS, sample } from '../../src/sampling/index.ts'
import type { ModelFn, SamplerId } from '../../src/sampling/index.ts'
import type { BenchRow, BenchSection } from '../section.ts'

const SHAPE = [4, 128, 128]

function timeMs(fn: () => void, repeat = 5): number {
  fn()
  const t0 = performance.now()
  for (let i = 0; i < repeat; i++) fn()
  return (performance.now() - t0) / repeat
}

/** SD1.5 512² CFG step on this machine (BENCHMARKS.md, UNet row: 8.9-9.7 s quiet); the overhead is set against it. */
const UNET_STEP_MS = 8900
const SD15_512 = [4, 64, 64]

/**
 * Every sampler at SD1.5 512² (latent [4, 64, 64], batch 1, CFG 7, 10 steps) over a stand-in model of the real
 * latent size that returns at once: the wall time is the sampler's own work (CFG rows, combine, update, noise,
 * Brownian tree) beyond its model calls. A full UNet per sampler would take ~15 min on the shared machine.
 */
async function samplerOverheads(): Promise<BenchRow[]> {
  const rows: BenchRow[] = []
  const steps = 10
  for (const id of Object.keys(SAMPLERS) as SamplerId[]) {
    let calls = 0
    const model: ModelFn = async (xIn) => { calls++; return new Float32Array(xIn.length) }
    const run = () => sample({
      sampler: SAMPLERS[id], steps, model, parameterization: 'eps', cfg: { scale: 7, weights: [[1]] },
      rng: new ImageRng({ shape: SD15_512, seeds: [42], source: 'nv' }),
    })
    await run()
    calls = 0
    const t0 = performance.now()
    const res = await run()
    const ms = performance.now() - t0
    const n = res.sigmas ? res.sigmas.length - 1 : res.timesteps!.length - (SAMPLERS[id].kind === 'ddim' ? 0 : 1)
    const perStep = ms / n
    const callsPerStep = calls / n
    const share = (100 * perStep) / (callsPerStep * UNET_STEP_MS)
    rows.push({
      measure: `${SAMPLERS[id].label}: model calls/step, overhead/step at 512² (share of its UNet time)`,
      value: `${callsPerStep.toFixed(2)} calls, ${perStep.toFixed(2)} ms (${share.toFixed(3)}%)`,
    })
  }
  return rows
}

/**
 * The Brownian tree's own cost per step: DPM++ 2M SDE and DPM++ SDE against Euler a (same steps, same instant
 * model, ancestral draws from the image stream) for each noise source, so the difference is the tree's queries.
 */
async function brownianOverheads(): Promise<BenchRow[]> {
  const steps = 10
  const perStep = async (id: SamplerId, source: 'cpu' | 'nv'): Promise<number> => {
    const model: ModelFn = async (xIn) => new Float32Array(xIn.length)
    const run = () => sample({
      sampler: SAMPLERS[id], steps, model, parameterization: 'eps', cfg: { scale: 7, weights: [[1]] },
      rng: new ImageRng({ shape: SD15_512, seeds: [42], source }),
    })
    const t0 = performance.now()
    await run()
    return (performance.now() - t0) / steps
  }
  const rows: BenchRow[] = []
  for (const source of ['nv', 'cpu'] as const) {
    const base = await perStep('euler_ancestral', source)
    for (const id of ['dpmpp_2m_sde', 'dpmpp_sde'] as const) {
      const extra = (await perStep(id, source)) - base
      const share = (100 * extra) / (SAMPLERS[id].modelCallsPerStep * UNET_STEP_MS)
      rows.push({
        measure: `${SAMPLERS[id].label} − Euler a per step, source ${source} (Brownian tree; share of its UNet time)`,
        value: `${extra.toFixed(1)} ms (${share.toFixed(2)}%)`,
      })
    }
  }
  return rows
}

export const section: BenchSection = {
  title: 'Sampling (noise and per-step overhead outside the UNet)',
  async run(): Promise<BenchRow[]> {
    const rows: BenchRow[] = []
    for (const source of ['cpu', 'nv'] as const) {
      const ms = timeMs(() => new ImageRng({ shape: SHAPE, seeds: [42], source }).first())
      rows.push({ measure: `initial noise 4x128x128, source ${source}`, value: `${ms.toFixed(1)} ms` })
    }
    rows.push(...await brownianOverheads())
    rows.push(...await samplerOverheads())
    return rows
  },
}
