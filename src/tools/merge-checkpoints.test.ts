import { before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ref } from '../../test/golden.ts'
import { ModelMismatchError } from '../core/errors.ts'
import { openTensorFile } from '../formats/open.ts'
import { convertModel } from './convert.ts'
import { hashFile } from './hash.ts'
import { inspectFile } from './inspect.ts'
import { BLOCK_IDS, blockOf } from './merge-blocks.ts'
import { mergeCheckpoints } from './merge-checkpoints.ts'
import { readAll, writeVariant } from './testing/variants.ts'
import { tinyCheckpoint } from '../../test/fixtures/tiny-files.ts'

// Small generated SD1 checkpoints (real key names, ~640 K parameters, seeded values) keep this file fast; the
// reference tiny models are merged in the last tests.
let dir: string
let SD1: string
const f = (name: string) => join(dir, name)

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sdloom-merge-'))
  process.env.SDLOOM_CACHE = join(dir, 'cache')
  SD1 = f('tiny-sd1.safetensors')
  await tinyCheckpoint(f('zeros.safetensors'), { family: 'sd1' })
  await tinyCheckpoint(f('zeros-inpaint.safetensors'), { family: 'sd1', inChannels: 9 })
  await writeVariant(f('zeros.safetensors'), SD1, { seed: 3, scale: 1 })
  await writeVariant(f('zeros-inpaint.safetensors'), f('inpaint.safetensors'), { seed: 4, scale: 1 })
  await writeVariant(SD1, f('b.safetensors'), { seed: 1 })
  await writeVariant(SD1, f('c.safetensors'), { seed: 2 })
})

/** Max |x − y| over every float tensor of `out` against an expectation computed here, key by key. */
async function maxError(out: string, expect: (key: string, a: Float32Array, b: Float32Array, c: Float32Array) => Float32Array): Promise<number> {
  const [o, a, b, c] = await Promise.all([readAll(out), readAll(SD1), readAll(f('b.safetensors')), readAll(f('c.safetensors'))])
  let worst = 0
  for (const [k, t] of o) {
    const want = expect(k, a.get(k)!.data, b.get(k)!.data, c.get(k)!.data)
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(t.data[i] - want[i]))
  }
  return worst
}

const POSITION_IDS = 'cond_stage_model.transformer.text_model.embeddings.position_ids'

test('weighted sum = (1 − M)·A + M·B on "model" keys; position_ids and schedule buffers come from A', async () => {
  const r = await mergeCheckpoints({ a: SD1, b: f('b.safetensors') }, f('ws.safetensors'), { method: 'weighted-sum', alpha: 0.3 })
  const err = await maxError(f('ws.safetensors'), (k, a, b) => (k.includes('model') && k !== POSITION_IDS ? a.map((x, i) => 0.7 * x + 0.3 * b[i]) : a))
  assert.ok(err < 1e-6, `max error ${err}`)
  assert.equal(r.merged, r.tensors)
})

test('add difference = A + (B − C)·M, with the A1111 recipe in the metadata', async () => {
  await mergeCheckpoints({ a: SD1, b: f('b.safetensors'), c: f('c.safetensors') }, f('ad.safetensors'), { method: 'add-difference', alpha: 0.8 })
  const err = await maxError(f('ad.safetensors'), (k, a, b, c) => (k.includes('model') && k !== POSITION_IDS ? a.map((x, i) => x + 0.8 * (b[i] - c[i])) : a))
  assert.ok(err < 1e-6, `max error ${err}`)
  const s = await openTensorFile(f('ad.safetensors'))
  const recipe = JSON.parse(s.metadata.sd_merge_recipe)
  const models = JSON.parse(s.metadata.sd_merge_models)
  await s.close()
  const sha = (await hashFile(SD1, ['sha256'])).sha256
  assert.equal(recipe.interp_method, 'Add difference')
  assert.equal(recipe.multiplier, 0.8)
  assert.equal(recipe.primary_model_hash, sha)
  assert.equal(models[sha].name, 'tiny-sd1.safetensors')
  assert.equal(recipe.secondary_model_hash, (await hashFile(f('b.safetensors'), ['sha256'])).sha256)
  assert.equal(Object.keys(models).length, 3)
  assert.equal((await inspectFile(f('ad.safetensors'))).kind, 'checkpoint')
})

test('per-block weights: each UNet block gets its own M, text encoder and VAE get BASE', async () => {
  const weights = BLOCK_IDS.sd.map((_, i) => (i + 1) / 32)
  const base = 0.9
  await mergeCheckpoints({ a: SD1, b: f('b.safetensors') }, f('mbw.safetensors'),
    { method: 'weighted-sum', alpha: base, blocks: weights.join(',') })
  const alphaOf = (k: string) => { const b = blockOf(k, 'sd'); return b === 'BASE' ? base : weights[BLOCK_IDS.sd.indexOf(b)] }
  assert.equal(alphaOf('model.diffusion_model.time_embed.0.weight'), weights[0])
  assert.equal(alphaOf('model.diffusion_model.out.2.weight'), weights[24])
  assert.equal(alphaOf('model.diffusion_model.output_blocks.5.1.proj_in.weight'), weights[18])
  const err = await maxError(f('mbw.safetensors'), (k, a, b) => {
    if (!k.includes('model') || k === POSITION_IDS) return a
    const m = alphaOf(k)
    return a.map((x, i) => (1 - m) * x + m * b[i])
  })
  assert.ok(err < 1e-6, `max error ${err}`)
})

test('no interpolation: A re-encoded to fp16, a VAE baked in, keys discarded by regex', async () => {
  await convertModel(f('b.safetensors'), f('vae.safetensors'), { only: 'vae' })
  const r = await mergeCheckpoints({ a: SD1 }, f('ni.safetensors'), { method: 'no-interpolation', alpha: 0, dtype: 'F16', vae: f('vae.safetensors'), discard: 'encoder\\.layers\\.1\\.' })
  const [o, a, b] = await Promise.all([readAll(f('ni.safetensors')), readAll(SD1), readAll(f('b.safetensors'))])
  assert.ok(r.vaeBaked > 0 && r.discarded > 0)
  assert.ok(![...o.keys()].some((k) => k.includes('encoder.layers.1.')))
  assert.equal(o.size, a.size - r.discarded)
  const k = 'first_stage_model.decoder.conv_in.weight'
  assert.equal(o.get(k)!.dtype, 'F16')
  assert.ok(o.get(k)!.data.every((v, i) => Math.abs(v - b.get(k)!.data[i]) <= Math.abs(b.get(k)!.data[i]) * 1e-3 + 1e-7))
  const u = 'model.diffusion_model.input_blocks.1.0.in_layers.2.weight'
  assert.ok(o.get(u)!.data.every((v, i) => Math.abs(v - a.get(u)!.data[i]) <= Math.abs(a.get(u)!.data[i]) * 1e-3 + 1e-7))
})

test('inpainting A + (B − C)·M: only the 4 latent channels of the input conv change', async () => {
  const inpaint = f('inpaint.safetensors')
  const r = await mergeCheckpoints({ a: inpaint, b: f('b.safetensors'), c: f('c.safetensors') }, f('inp.safetensors'), { method: 'add-difference', alpha: 1, dtype: 'F32' })
  assert.equal(r.inpainting, true)
  const [o, a, b, c] = await Promise.all([readAll(f('inp.safetensors')), readAll(inpaint), readAll(f('b.safetensors')), readAll(f('c.safetensors'))])
  const k = 'model.diffusion_model.input_blocks.0.0.weight'
  const [out, , kh, kw] = o.get(k)!.shape
  let err = 0
  for (let ch = 0; ch < out; ch++) {
    for (let j = 0; j < 9 * kh * kw; j++) {
      const i = ch * 9 * kh * kw + j
      const want = j < 4 * kh * kw ? a.get(k)!.data[i] + (b.get(k)!.data[ch * 36 + j] - c.get(k)!.data[ch * 36 + j]) : a.get(k)!.data[i]
      err = Math.max(err, Math.abs(o.get(k)!.data[i] - want))
    }
  }
  assert.ok(err < 1e-6, `max error ${err}`)
  await assert.rejects(mergeCheckpoints({ a: f('b.safetensors'), b: inpaint }, f('bad.safetensors'), { method: 'weighted-sum', alpha: 0.5 }),
    /A must be the inpainting model/)
})

test('SD1 with SDXL is an error naming both', async () => {
  await assert.rejects(mergeCheckpoints({ a: ref('sd1', 'tiny-sd1.safetensors'), b: ref('sdxl', 'tiny-sdxl-base.safetensors') }, f('x.safetensors'), { method: 'weighted-sum', alpha: 0.5 }),
    (e: Error) => e instanceof ModelMismatchError && /tiny-sdxl-base\.safetensors: is SDXL base but tiny-sd1\.safetensors is SD1\.x/.test(e.message))
})

test('reference SD2 and SDXL models merge with their own block layouts (SDXL: IN00–IN08, M00, OUT00–OUT08)', async () => {
  for (const [name, layout] of [['sd2/tiny-sd2-v.safetensors', 'sd'], ['sdxl/tiny-sdxl-base.safetensors', 'sdxl']] as const) {
    const a = ref(...name.split('/'))
    const weights = BLOCK_IDS[layout].map((_, i) => i / 40)
    const r = await mergeCheckpoints({ a }, f('one.safetensors'), { method: 'no-interpolation', alpha: 0 })
    assert.equal(r.merged, 0)
    await assert.rejects(mergeCheckpoints({ a, b: a }, f('two.safetensors'), { method: 'weighted-sum', alpha: 0.5, blocks: weights.slice(1).join(',') }),
      new RegExp(`${weights.length - 1} weights given; ${layout === 'sd' ? 'SD1/SD2' : 'SDXL'} has ${weights.length} blocks`))
    const ok = await mergeCheckpoints({ a, b: a }, f('two.safetensors'), { method: 'weighted-sum', alpha: 0.5, blocks: weights.join(',') })
    assert.equal((await inspectFile(f('two.safetensors'))).architecture.id, layout === 'sd' ? 'sd2' : 'sdxl-base')
    // Keys without "model" (DDPM buffers) and integer tensors (position_ids) are copied from A, as A1111 does.
    const src = await openTensorFile(a)
    const copied = src.keys().filter((k) => !k.includes('model') || src.info(k).dtype === 'I64').length
    await src.close()
    assert.equal(ok.copied, copied)
    assert.equal(ok.merged, ok.tensors - copied)
  }
})
