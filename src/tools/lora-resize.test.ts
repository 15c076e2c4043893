import { before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ref } from '../../test/golden.ts'
import { openTensorFile } from '../formats/open.ts'
import { inspectFile } from './inspect.ts'
import { dynamicIndex, resizeLora } from './lora-resize.ts'
import { frobenius, loraDeltas, relativeError } from './testing/lora-deltas.ts'

let dir: string
const SD1_LORA = ref('sd1', 'adapters', 'tinylora.safetensors')
const SDXL_LORA = ref('sdxl', 'adapters', 'tinyxl_lora.safetensors')
before(async () => { dir = await mkdtemp(join(tmpdir(), 'sdloom-resize-')) })

test('kohya index_sv_* (+1) on a known spectrum', () => {
  const s = [4, 3, 2, 1]
  // sv_fro 0.9: cumulative σ² / Σσ² = [.533, .833, .967, 1] ≥ 0.81 first at 2 → index 3 → rank 3 after kohya's +1
  assert.equal(dynamicIndex('sv_fro', s, 10, 0.9) + 1, 3)
  // sv_ratio 2: σ > 4/2 for two values → 2, rank 3
  assert.equal(dynamicIndex('sv_ratio', s, 10, 2) + 1, 3)
  // sv_cumulative 0.7: cumulative σ / Σσ = [.4, .7, .9, 1] ≥ .7 at 1 → index 2 → rank 3
  assert.equal(dynamicIndex('sv_cumulative', s, 10, 0.7) + 1, 3)
  // never past len(S) − 1 of the full matrix
  assert.equal(dynamicIndex('sv_fro', s, 3, 1) + 1, 3)
})

test('static resize to the same rank reproduces every delta; to a lower rank keeps the reported Frobenius fraction', async () => {
  const original = await loraDeltas(SD1_LORA)
  const same = join(dir, 'same.safetensors')
  await resizeLora(SD1_LORA, same, { rank: 4, dtype: 'F32' })
  const again = await loraDeltas(same)
  for (const [name, d] of original) assert.ok(relativeError(again.get(name)!, d) < 1e-5, name)

  const low = join(dir, 'rank2.safetensors')
  const r = await resizeLora(SD1_LORA, low, { rank: 2, dtype: 'F32' })
  const reduced = await loraDeltas(low)
  assert.equal(r.layers.length, original.size)
  for (const l of r.layers) {
    const d = original.get(l.module)!
    const kept = reduced.get(l.module)!
    assert.equal(l.newRank, 2)
    // The truncated SVD is an orthogonal projection: ‖kept‖ = fro·‖d‖ and ‖d − kept‖² = (1 − fro²)·‖d‖².
    assert.ok(Math.abs(frobenius(kept) / frobenius(d) - l.froRetained) < 1e-5, l.module)
    assert.ok(Math.abs(relativeError(kept, d) - Math.sqrt(1 - l.froRetained ** 2)) < 1e-4, l.module)
  }
  const info = await inspectFile(low)
  assert.equal(info.kind === 'lora' && info.lora.ranks.map((x) => x.value).join(), '2')
})

test('dynamic sv_fro keeps at least the chosen Frobenius fraction of every layer, with ranks per layer', async () => {
  const out = join(dir, 'fro.safetensors')
  const r = await resizeLora(SD1_LORA, out, { dynamic: { method: 'sv_fro', param: 0.9 } })
  const original = await loraDeltas(SD1_LORA)
  const reduced = await loraDeltas(out)
  for (const l of r.layers) {
    const measured = frobenius(reduced.get(l.module)!) / frobenius(original.get(l.module)!)
    assert.ok(measured >= 0.9 - 1e-6, `${l.module}: ${measured}`)
    assert.ok(l.newRank >= 1 && l.newRank <= 4)
  }
  assert.ok(new Set(r.layers.map((l) => l.newRank)).size > 1, 'ranks vary per layer')
  const s = await openTensorFile(out)
  assert.deepEqual([s.metadata.ss_network_dim, s.metadata.ss_network_alpha], ['Dynamic', 'Dynamic'])
  await s.close()
})

test('an fp16 SDXL LoRA resizes and stays fp16', async () => {
  const out = join(dir, 'xl.safetensors')
  const r = await resizeLora(SDXL_LORA, out, { rank: 2 })
  assert.ok(r.layers.length > 0)
  const s = await openTensorFile(out)
  assert.equal(s.info(s.keys().find((k) => k.endsWith('lora_up.weight'))!).dtype, 'F16')
  await s.close()
  assert.equal((await inspectFile(out)).kind, 'lora')
})
