import { before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ref } from '../../test/golden.ts'
import { loadAdapter } from '../adapters/adapter-file.ts'
import { loadBaseWeights } from '../adapters/memory-base.ts'
import { PatchSet } from '../adapters/patch-set.ts'
import { mm, randomTensor, rng } from '../adapters/testing/reference-ops.ts'
import type { Arch } from '../adapters/types.ts'
import { openTensorFile } from '../formats/open.ts'
import { inspectFile } from './inspect.ts'
import { extractLora, quantile } from './lora-extract.ts'
import { extractTargets } from './lora-targets.ts'
import { readAll, writeVariant } from './testing/variants.ts'

let dir: string
const MODELS: Readonly<Record<Arch, string>> = {
  sd1: ref('sd1', 'tiny-sd1.safetensors'), sd2: ref('sd2', 'tiny-sd2-v.safetensors'), sdxl: ref('sdxl', 'tiny-sdxl-base.safetensors'),
}
const DELTA_RANK = 3

before(async () => { dir = await mkdtemp(join(tmpdir(), 'sdloom-extract-')) })

/** A "fine-tune": every targeted layer (and only those) plus a seeded rank-3 delta; returns the deltas by key. */
async function tuneLowRank(arch: Arch, out: string, only?: (key: string) => boolean): Promise<Map<string, Float32Array>> {
  const s = await openTensorFile(MODELS[arch])
  const keys = new Set(extractTargets(s.keys(), (k) => s.info(k).shape, arch, { conv: true }).map((t) => t.key).filter((k) => only?.(k) ?? true))
  await s.close()
  const next = rng(7)
  const deltas = new Map<string, Float32Array>()
  await writeVariant(MODELS[arch], out, {
    seed: 0,
    edit: (key, data, shape) => {
      if (!keys.has(key)) return undefined
      const inner = data.length / shape[0]
      const d = Float32Array.from(mm(randomTensor([shape[0], DELTA_RANK], next, 0.2).data, randomTensor([DELTA_RANK, inner], next, 0.2).data, shape[0], DELTA_RANK, inner))
      deltas.set(key, d)
      return data.map((v, i) => v + d[i])
    },
  })
  return deltas
}

const relErr = (got: ArrayLike<number>, want: ArrayLike<number>): number => {
  let num = 0
  let den = 0
  for (let i = 0; i < want.length; i++) { num += (got[i] - want[i]) ** 2; den += want[i] ** 2 }
  return Math.sqrt(num / den)
}

for (const arch of ['sd1', 'sd2', 'sdxl'] as const) {
  test(`${arch}: extraction at rank ≥ the delta's recovers it (≤ 1e-4) and loads back into the engine's patch set`, async () => {
    const tuned = join(dir, `${arch}-tuned.safetensors`)
    const lora = join(dir, `${arch}-lora.safetensors`)
    const deltas = await tuneLowRank(arch, tuned)
    const r = await extractLora(tuned, MODELS[arch], lora, { rank: 6, convRank: 6, clampQuantile: 1, minDiff: 0, dtype: 'F32' })
    assert.equal(r.skipped, 0)
    const adapter = await loadAdapter(lora)
    const base = await loadBaseWeights(MODELS[arch])
    const set = new PatchSet(base, arch)
    const plan = set.plan(adapter)
    assert.deepEqual([plan.unmatchedKeys, plan.skipped], [[], []])
    assert.equal(plan.modules.length, r.modules.unet + r.modules.te1 + r.modules.te2)
    const { tensors } = await set.update([{ adapter, te: 1, unet: 1 }])
    assert.deepEqual([...tensors.keys()].sort(), [...deltas.keys()].sort())
    let worst = 0
    for (const [key, d] of deltas) {
      const b = base.get(key)
      worst = Math.max(worst, relErr(tensors.get(key)!.map((v, i) => v - b[i]), d))
    }
    assert.ok(worst <= 1e-4, `worst relative error ${worst}`)
    const info = await inspectFile(lora)
    assert.equal(info.kind, 'lora')
    assert.equal(info.kind === 'lora' && info.lora.ranks.every((x) => x.value <= 6), true)
  })
}

test('layers that did not change are skipped and counted; the metadata carries dim, alpha and module', async () => {
  const tuned = join(dir, 'unet-only.safetensors')
  const lora = join(dir, 'unet-only-lora.safetensors')
  await tuneLowRank('sd1', tuned, (k) => k.startsWith('model.diffusion_model.') && k.includes('attn2'))
  const s = await openTensorFile(MODELS.sd1)
  const targets = extractTargets(s.keys(), (k) => s.info(k).shape, 'sd1', { conv: false })
  await s.close()
  const changed = targets.filter((t) => t.key.includes('attn2') && t.key.startsWith('model.diffusion_model.')).length
  const r = await extractLora(tuned, MODELS.sd1, lora, { rank: 2 })
  assert.equal(r.modules.unet, changed)
  assert.equal(r.skipped, targets.length - changed)
  const out = await openTensorFile(lora)
  assert.equal(out.metadata.ss_network_dim, '2')
  assert.equal(out.metadata.ss_network_alpha, '2')
  assert.equal(out.metadata.ss_network_module, 'networks.lora')
  const first = out.keys().find((k) => k.endsWith('lora_up.weight'))!
  assert.equal(out.info(first).dtype, 'F16')
  await out.close()
  const all = await readAll(lora)
  assert.ok([...all.keys()].filter((k) => k.endsWith('.alpha')).every((k) => all.get(k)!.data[0] === 2))
})

test('quantile interpolates linearly between order statistics, as torch.quantile', () => {
  assert.equal(quantile(Float32Array.of(4, 1, 3, 2), 0.5), 2.5)
  assert.ok(Math.abs(quantile(Float32Array.of(0, 10), 0.99) - 9.9) < 1e-12)
})

test('a checkpoint of another architecture is an error naming both files', async () => {
  await assert.rejects(extractLora(MODELS.sdxl, MODELS.sd1, join(dir, 'x.safetensors'), { rank: 4 }),
    /tiny-sd1\.safetensors: is SD1\.x but tiny-sdxl-base\.safetensors is SDXL base/)
})
