import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openSafetensors } from '../formats/safetensors.ts'
import { encodeF32As } from '../formats/safetensors-writer.ts'
import { identifyModel } from '../models/detect/index.ts'
import { ref, refTensors } from '../../test/golden.ts'
import { emaKeyFor, tinyCheckpoint } from '../../test/fixtures/tiny-files.ts'
import { tinyLora } from '../../test/fixtures/tiny-adapters.ts'
import { writeTorchCkpt } from '../../test/fixtures/torch-pickle-writer.ts'
import { convertModel, emaKeyOf } from './convert.ts'

let dir = ''
before(async () => { dir = await mkdtemp(join(tmpdir(), 'sdloom-convert-')) })
after(() => rm(dir, { recursive: true, force: true }))

const BIAS = 'model.diffusion_model.input_blocks.0.0.bias'
const VAE_BIAS = 'first_stage_model.encoder.conv_in.bias'
const values = { [BIAS]: [1, 2, 3, 4, 5, 6, 7, 8], [emaKeyFor(BIAS)]: [8, 7, 6, 5, 4, 3, 2, 1], [VAE_BIAS]: [0.5, -0.25, 0.125, 3] }

async function withOut<T>(file: string, f: (s: Awaited<ReturnType<typeof openSafetensors>>) => Promise<T>): Promise<T> {
  const s = await openSafetensors(file)
  try { return await f(s) } finally { await s.close() }
}

test('the EMA key name follows LDM LitEma (dots removed)', () => {
  assert.equal(emaKeyOf('model.diffusion_model.input_blocks.0.0.weight'), 'model_ema.diffusion_modelinput_blocks00weight')
})

test('tiny-sd1.ckpt (fp16 pickle) --dtype fp32 equals tiny-sd1.safetensors bit for bit', async () => {
  const out = join(dir, 'from-ckpt.safetensors')
  const report = await convertModel(ref('sd1', 'tiny-sd1.ckpt'), out, { dtype: 'F32' })
  const want = await refTensors('sd1', 'tiny-sd1.safetensors')
  assert.deepEqual([report.tensorsIn, report.tensorsOut], [want.keys().length, want.keys().length])
  await withOut(out, async (got) => {
    assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort())
    for (const k of want.keys()) {
      assert.equal(got.info(k).dtype, want.info(k).dtype, k)
      assert.deepEqual(await got.readRaw(k), await want.readRaw(k), k)
    }
  })
})

test('--dtype fp16 re-encodes float tensors; schedule buffers and integers keep their dtype', async () => {
  const out = join(dir, 'fp16.safetensors')
  const src = await refTensors('sd1', 'tiny-sd1.safetensors')
  const report = await convertModel(src.file, out, { dtype: 'F16' })
  await withOut(out, async (got) => {
    const kept = src.keys().filter((k) => got.info(k).dtype === src.info(k).dtype)
    assert.deepEqual(kept.sort(), src.keys().filter((k) => !k.includes('.') || src.info(k).dtype === 'I64').sort())
    assert.equal(report.converted, src.keys().length - kept.length)
    for (const k of ['model.diffusion_model.out.2.weight', 'cond_stage_model.transformer.text_model.final_layer_norm.weight']) {
      assert.deepEqual(await got.readRaw(k), encodeF32As('F16', await src.readF32(k)), k)
    }
    assert.deepEqual(await got.readRaw('alphas_cumprod'), await src.readRaw('alphas_cumprod'))
    assert.deepEqual(got.metadata, src.metadata)
  })
})

test('--ema puts the EMA weights in the UNet and drops model_ema.*; --no-ema only drops them', async () => {
  const input = join(dir, 'ema.safetensors')
  const specs = await tinyCheckpoint(input, { family: 'sd1', ema: true, values })
  const unetCount = specs.filter((s) => s.name.startsWith('model.diffusion_model.')).length
  const used = join(dir, 'ema-used.safetensors')
  const r = await convertModel(input, used, { ema: 'use' })
  assert.deepEqual([r.emaReplaced, r.tensorsOut], [unetCount, specs.length - unetCount - 2])
  await withOut(used, async (s) => {
    assert.deepEqual([...await s.readF32(BIAS)], values[emaKeyFor(BIAS)])
    assert.equal(s.keys().some((k) => k.startsWith('model_ema.')), false)
  })
  const dropped = join(dir, 'ema-dropped.safetensors')
  await convertModel(input, dropped, { ema: 'drop' })
  await withOut(dropped, async (s) => {
    assert.deepEqual([...await s.readF32(BIAS)], values[BIAS])
    assert.equal(identifyModel(s).summary.ema.present, false)
  })
})

test('--ema from a pickle checkpoint wrapped in state_dict', async () => {
  const t = (v: number[]) => ({ dtype: 'F32' as const, shape: [v.length], data: v })
  const input = join(dir, 'ema.ckpt')
  await writeTorchCkpt(input, { state_dict: { [BIAS]: t([1, 2]), [emaKeyOf(BIAS)]: t([3, 4]), 'model_ema.decay': t([0.9999]) }, global_step: 10 })
  const out = join(dir, 'ema-ckpt.safetensors')
  await convertModel(input, out, { ema: 'use' })
  await withOut(out, async (s) => {
    assert.deepEqual(s.keys(), [BIAS])
    assert.deepEqual([...await s.readF32(BIAS)], [3, 4])
    assert.deepEqual({ ...s.metadata }, { global_step: '10' })
  })
})

test('--only writes one part in its standalone layout', async () => {
  const input = join(dir, 'full.safetensors')
  await tinyCheckpoint(input, { family: 'sdxl', values })
  const expect = { 'unet': ['unet-only', 'input_blocks.0.0.bias'], 'vae': ['vae', 'encoder.conv_in.bias'],
    'text-encoder': ['text-encoder', 'conditioner.embedders.1.model.ln_final.weight'] } as const
  for (const [part, [kind, key]] of Object.entries(expect)) {
    const out = join(dir, `only-${part}.safetensors`)
    await convertModel(input, out, { only: part as keyof typeof expect })
    await withOut(out, async (s) => {
      assert.equal(identifyModel(s).kind, kind, part)
      assert.ok(s.has(key), `${part}: ${key}`)
    })
  }
  await withOut(join(dir, 'only-vae.safetensors'), async (s) => assert.deepEqual([...await s.readF32('encoder.conv_in.bias')], values[VAE_BIAS]))
})

test('errors name the file and what is missing', async () => {
  const input = join(dir, 'plain.safetensors')
  await tinyCheckpoint(input, { family: 'sd1', parts: ['unet'] })
  await assert.rejects(convertModel(input, join(dir, 'x.safetensors'), { ema: 'use' }), {
    name: 'InputError',
    message: `${input}: --ema: no EMA weights in this file (no "model_ema.*" copy of any "model.diffusion_model.*" tensor). Hint: use --no-ema or leave both out`,
  })
  const lora = join(dir, 'lora.safetensors')
  await tinyLora(lora)
  await assert.rejects(convertModel(lora, join(dir, 'y.safetensors'), { only: 'vae' }), {
    name: 'InputError', message: `${lora}: --only vae: no "first_stage_model.*" tensors in this file`,
  })
  await assert.rejects(convertModel(input, input), { name: 'InputError', message: `convert: the output ${input} is the input file; write to a new path` })
})
