import { before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ref } from '../../test/golden.ts'
import { loadAdapter } from '../adapters/adapter-file.ts'
import { openTensorFile } from '../formats/open.ts'
import { mergeLoras } from './lora-merge.ts'
import { resizeLora } from './lora-resize.ts'
import { frobenius, largestSingularValue, loraDeltaMatrices, loraDeltas, relativeError } from './testing/lora-deltas.ts'

let dir: string
let second: string
const SD1_LORA = ref('sd1', 'adapters', 'tinylora.safetensors')
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sdloom-lmerge-'))
  // A second, different LoRA of the same model: the first resized to rank 2 (alpha 0.5·2 = 1).
  second = join(dir, 'second.safetensors')
  await resizeLora(SD1_LORA, second, { rank: 2, dtype: 'F32' })
})

/** 0.6·Δ₁ − 0.5·Δ₂ per module, from the inputs' raw tensors. */
async function expected(): Promise<Map<string, Float64Array>> {
  const [a, b] = await Promise.all([loraDeltas(SD1_LORA), loraDeltas(second)])
  return new Map([...a].map(([name, d]) => [name, d.map((v, i) => 0.6 * v - 0.5 * b.get(name)![i])]))
}

test('concat: ranks add up and the delta is exactly the weighted sum', async () => {
  const out = join(dir, 'concat.safetensors')
  const r = await mergeLoras([{ file: SD1_LORA, weight: 0.6 }, { file: second, weight: -0.5 }], out, { dtype: 'F32' })
  assert.equal(r.mode, 'concat')
  assert.deepEqual(r.ranks, [{ value: 6, count: r.modules }])
  const got = await loraDeltas(out)
  for (const [name, d] of await expected()) assert.ok(relativeError(got.get(name)!, d) < 1e-5, name)
  const s = await openTensorFile(out)
  assert.equal(s.metadata.ss_network_dim, '6')
  await s.close()
  const adapter = await loadAdapter(out)
  assert.equal(adapter.modules.length, r.modules)
})

test('svd: to the full rank it equals the sum; to a lower rank it is the best approximation of that rank', async () => {
  const full = join(dir, 'svd6.safetensors')
  await mergeLoras([{ file: SD1_LORA, weight: 0.6 }, { file: second, weight: -0.5 }], full, { rank: 6, dtype: 'F32' })
  const want = await expected()
  const got = await loraDeltas(full)
  for (const [name, d] of want) assert.ok(relativeError(got.get(name)!, d) < 1e-5, name)
  const low = join(dir, 'svd1.safetensors')
  const r = await mergeLoras([{ file: SD1_LORA, weight: 0.6 }, { file: second, weight: -0.5 }], low, { rank: 1, dtype: 'F32' })
  assert.equal(r.mode, 'svd')
  assert.deepEqual(r.ranks, [{ value: 1, count: r.modules }])
  const one = await loraDeltas(low)
  const shapes = await loraDeltaMatrices(SD1_LORA)
  // Eckart–Young: the best rank-1 error² is ‖D‖² − σ₁², σ₁ by power iteration here.
  for (const [name, d] of [...want].slice(0, 40)) {
    const s1 = largestSingularValue(d, shapes.get(name)!.rows)
    const optimal = Math.sqrt(Math.max(0, frobenius(d) ** 2 - s1 ** 2)) / frobenius(d)
    assert.ok(Math.abs(relativeError(one.get(name)!, d) - optimal) < 1e-3, name)
  }
})

test('LoRAs of different models do not merge', async () => {
  await assert.rejects(mergeLoras([{ file: SD1_LORA, weight: 1 }, { file: ref('sdxl', 'adapters', 'tinyxl_lora.safetensors'), weight: 1 }], join(dir, 'x.safetensors')),
    /lora merge: tinyxl_lora\.safetensors is a LoRA for SDXL but tinylora\.safetensors is for SD1\.x/)
})
