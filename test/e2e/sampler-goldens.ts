/*
 * End-to-end sampler goldens: sdloom's samplers (sampling/) driving the UNet (models/unet) with the goldens' own
 * conditionings, CFG 7, 8 steps, CPU-source noise, reproduce every sample.*.latent of sd1 (7 samplers at 64x64 and
 * 96x64), sd2 (v-prediction) and sdxl, and the recorded trajectories (x at the start of each step, as k-diffusion's
 * callback sees it). Tolerance as the reference README: max abs error <= 1e-3 · max|latent| (each trajectory step
 * against its own max).
 */
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { openSafetensors } from '../../src/formats/safetensors.ts'
import { WeightStore } from '../../src/models/weights.ts'
import { detectUnetConfig, UNET_PREFIX } from '../../src/models/config/unet-config.ts'
import { UnetSession } from '../../src/models/unet/unet-session.ts'
import { ImageRng, sample } from '../../src/sampling/index.ts'
import type { ModelFn, Parameterization, StepInfo } from '../../src/sampling/index.ts'
import { maxAbs, maxAbsDiff, ref, refTensors } from '../golden.ts'
import { SAMPLER_LABELS, goldenEntries } from './pipeline-goldens.ts'

export interface Family { dir: 'sd1' | 'sd2' | 'sdxl'; file: string; goldens: string; parameterization: Parameterization; condKey: string }
export const FAMILIES: Record<'sd1' | 'sd2' | 'sdxl', Family> = {
  sd1: { dir: 'sd1', file: 'tiny-sd1.safetensors', goldens: 'sd1_goldens', parameterization: 'eps', condKey: '' },
  sd2: { dir: 'sd2', file: 'tiny-sd2-v.safetensors', goldens: 'sd2_goldens', parameterization: 'v', condKey: '' },
  sdxl: { dir: 'sdxl', file: 'tiny-sdxl-base.safetensors', goldens: 'sdxl_goldens', parameterization: 'eps', condKey: '.crossattn' },
}
/** Repeats the per-row conditioning (cond or uncond) into one batch tensor. */
function stackRows(rows: readonly { kind: string }[], cond: Float32Array, uncond: Float32Array): Float32Array {
  const out = new Float32Array(rows.length * cond.length)
  rows.forEach((r, k) => out.set(r.kind === 'uncond' ? uncond : cond, k * cond.length))
  return out
}

/** The UNet as the pipeline will call it: one batched run over the CFG rows, each row with its own conditioning. */
async function familyModel(f: Family): Promise<{ model: ModelFn; release: () => Promise<void> }> {
  const source = await openSafetensors(ref(f.dir, f.file))
  const store = await WeightStore.load(source, { prefixes: [UNET_PREFIX] }).finally(() => source.close())
  const unet = await UnetSession.create(detectUnetConfig(store), store)
  const src = await refTensors(f.dir, 'goldens', `${f.goldens}.safetensors`)
  const [cond, uncond] = [await src.readF32(`sample.cond${f.condKey}`), await src.readF32(`sample.uncond${f.condKey}`)]
  const [, tokens, width] = src.info(`sample.cond${f.condKey}`).shape
  const vectors = f.dir === 'sdxl' ? [await src.readF32('sample.cond.vector'), await src.readF32('sample.uncond.vector')] : undefined
  const model: ModelFn = async (xIn, t, { rows }) => {
    const b = rows.length
    const h = xIn.length / b === 4 * 64 ? 8 : 12
    const out = await unet.run({
      x: { shape: [b, 4, h, xIn.length / b / 4 / h], data: xIn },
      t: { shape: [b], data: new Float32Array(b).fill(t) },
      context: { shape: [b, tokens, width], data: stackRows(rows, cond, uncond) },
      ...(vectors ? { y: { shape: [b, 1600], data: stackRows(rows, vectors[0], vectors[1]) } } : {}),
    }, store)
    return out.data
  }
  return { model, release: () => unet.release() }
}

const loaded = new Map<string, ReturnType<typeof familyModel>>()
export const modelOf = (f: Family) => {
  if (!loaded.has(f.dir)) loaded.set(f.dir, familyModel(f))
  return loaded.get(f.dir)!
}
after(async () => { for (const m of loaded.values()) await (await m).release() })


/** Registers one test per sampler golden of `f` whose key contains `size`. */
export function samplerGoldenTests(f: Family, size: string): void {
  const entries = goldenEntries(f.dir, f.goldens).filter((x) => x.key.includes(size))
  assert.ok(entries.length > 0, `${f.dir}: no sampler goldens for ${size}`)
  for (const e of entries) {
    test(`${f.dir} ${e.key}: latent and trajectory within 1e-3 · max|latent|`, async () => {
      const src = await refTensors(f.dir, 'goldens', `${f.goldens}.safetensors`)
      const { model } = await modelOf(f)
      const [h, w] = [e.height / 8, e.width / 8]
      const trajectory: Float32Array[] = []
      const result = await sample({
        sampler: SAMPLER_LABELS[e.sampler], steps: e.steps, model, parameterization: f.parameterization,
        // diffusers' DDIMScheduler computes its own ᾱ from its config; k-diffusion reads the checkpoint's buffer
        alphasCumprod: e.sampler === 'ddim' ? undefined : await src.readF32('sample.alphas_cumprod'),
        cfg: { scale: e.cfg_scale, weights: [[1]] }, rng: new ImageRng({ shape: [4, h, w], seeds: [e.seed], source: 'cpu' }),
        callback: (s: StepInfo) => { trajectory.push(Float32Array.from(s.x)) },
      })
      assert.deepEqual(trajectory[0], e.sampler === 'ddim' ? trajectory[0] : (await src.readF32(`${e.key}.noise`)).map((n) => Math.fround(n * result.sigmas![0])))
      if (src.has(`${e.key}.trajectory`)) {
        const all = await src.readF32(`${e.key}.trajectory`)
        const n = 4 * h * w
        trajectory.forEach((x, i) => {
          const step = all.subarray(i * n, (i + 1) * n)
          assert.ok(maxAbsDiff(x, step) <= 1e-3 * maxAbs(step), `step ${i}: ${maxAbsDiff(x, step)} > 1e-3 · ${maxAbs(step)}`)
        })
      }
      const expected = await src.readF32(`${e.key}.latent`)
      const d = maxAbsDiff(result.latent, expected)
      assert.ok(d <= 1e-3 * maxAbs(expected), `latent: ${d} > 1e-3 · ${maxAbs(expected)}`)
    })
  }
}
