/**
 * Sampling overheads at SDXL/SD1.5 latent sizes (everything here runs in plain JS next to the UNet): initial noise
 * for one 1024x1024 image ([4, 128, 128]) from each random source, and the CPU time the samplers spend per step
 * outside the model call (CFG batching + combine + update) with an instant stand-in model, batch 1, CFG 7.
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

const zeroModel: ModelFn = async (xIn) => new Float32Array(xIn.length)

export const section: BenchSection = {
  title: 'Sampling (noise and per-step overhead outside the UNet)',
  async run(): Promise<BenchRow[]> {
    const rows: BenchRow[] = []
    for (const source of ['cpu', 'nv'] as const) {
      const ms = timeMs(() => new ImageRng({ shape: SHAPE, seeds: [42], source }).first())
      rows.push({ measure: `initial noise 4x128x128, source ${source}`, value: `${ms.toFixed(1)} ms` })
    }
    const steps = 20
    for (const id of ['euler', 'euler_ancestral', 'heun', 'dpmpp_2m_karras', 'ddim'] as SamplerId[]) {
      const t0 = performance.now()
      await sample({
        sampler: SAMPLERS[id], steps, model: zeroModel, parameterization: 'eps', cfg: { scale: 7, weights: [[1]] },
        rng: new ImageRng({ shape: SHAPE, seeds: [42], source: 'nv' }),
      })
      rows.push({ measure: `${SAMPLERS[id].label}: overhead per step, 4x128x128`, value: `${((performance.now() - t0) / steps).toFixed(1)} ms` })
    }
    return rows
  },
}
