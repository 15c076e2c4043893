/*
 * Variation seeds and "Resize seed from" against A1111's own ImageRNG.first() (sd1/variation goldens: seed 4004,
 * subseed 5005 at strength 0.3, seed resize from 96x64 to 64x64, `--rng cpu`).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { assertClose, readRefJson, refTensors } from '../../../test/golden.ts'
import { ImageRng, createGenerator } from './image-rng.ts'

const FILE = ['sd1', 'variation', 'variation_goldens.safetensors'] as const
interface Entry { name: string; inputs: { seed: number; subseed?: number; subseed_strength?: number; seed_resize_from_w?: number; seed_resize_from_h?: number } }
const entries = readRefJson<{ entries: Entry[] }>('sd1', 'variation', 'variation_goldens.json').entries

const rngFor = (e: Entry): ImageRng => {
  const { seed, subseed, subseed_strength: strength, seed_resize_from_w: fw, seed_resize_from_h: fh } = e.inputs
  return new ImageRng({
    shape: [4, 8, 8], seeds: [seed], source: 'cpu',
    ...(subseed !== undefined && strength ? { variation: { subseeds: [subseed], strength } } : {}),
    ...(fw && fh ? { resizeFrom: [4, fh / 8, fw / 8] } : {}),
  })
}

for (const e of entries) {
  test(`variation golden ${e.name}: per-seed draws at the FROM shape, then the slerped/resized noise`, async () => {
    const src = await refTensors(...FILE)
    const from = e.inputs.seed_resize_from_w ? [4, 8, 12] : [4, 8, 8]
    assert.deepEqual(createGenerator('cpu', e.inputs.seed).randn(from), await src.readF32(`${e.name}.noise_seed`))
    if (e.inputs.subseed !== undefined) {
      assert.deepEqual(createGenerator('cpu', e.inputs.subseed).randn(from), await src.readF32(`${e.name}.noise_subseed`))
    }
    assertClose(rngFor(e).first(), await src.readF32(`${e.name}.noise`), 1e-6, `${e.name}.noise`)
  })
}
