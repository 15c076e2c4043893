import { test } from 'node:test'
import assert from 'node:assert/strict'
import { assertClose, readRefJson, refTensors } from '../../../test/golden.ts'
import { InputError, UnknownModelError } from '../../core/errors.ts'
import type { HostTensor } from '../../core/host-tensor.ts'
import { WeightStore } from '../weights.ts'
import { headsForWidth, measureTextEncoder } from './config.ts'
import { buildTextEncoderGraph } from './tower.ts'
import { argmaxId, TEXT_ENCODER_PRESETS, TextEncoderSession, type TextEncoderSpec } from './text-encoder.ts'

const TOL = 1e-4

async function load(model: string, prefix: string): Promise<WeightStore> {
  return WeightStore.load(await refTensors(...model.split('/')), { prefixes: [prefix] })
}

/** Embeds every prompt and runs them as one batch [N, 77, C]. */
async function runBatch(enc: TextEncoderSession, idsList: readonly (readonly number[])[]) {
  const rows = idsList.map((ids) => enc.embed(ids).data)
  const c = enc.config.width
  const data = new Float32Array(rows.length * 77 * c)
  rows.forEach((r, i) => data.set(r, i * 77 * c))
  return enc.run({ shape: [rows.length, 77, c], data }, idsList.map(argmaxId))
}

const row = (t: HostTensor, i: number): Float32Array => {
  const n = t.data.length / t.shape[0]
  return t.data.subarray(i * n, (i + 1) * n)
}

async function expectGoldens(goldens: string, key: (i: number) => string, actual: HostTensor, count: number): Promise<void> {
  const ref = await refTensors(...goldens.split('/'))
  for (let i = 0; i < count; i++) assertClose(row(actual, i), await ref.readF32(key(i)), TOL, key(i))
}

test('SD1 CLIP-L: last_hidden_state, pooled and clip-skip-2 (penultimate + final LN) match transformers', async () => {
  const prefix = TEXT_ENCODER_PRESETS.sd1.prefix
  const w = await load('sd1/tiny-sd1.safetensors', prefix)
  const ids = readRefJson('sd1', 'goldens', 'sd1_goldens.json').text_encoder.plain.map((p: { input_ids: number[] }) => p.input_ids)
  const last = await TextEncoderSession.create(w, { ...TEXT_ENCODER_PRESETS.sd1, pooled: true })
  assert.deepEqual({ ...last.config }, {
    kind: 'clip', prefix, vocab: 49408, positions: 77, width: 32, layers: 4, heads: 4, mlpWidth: 128, projectionDim: undefined,
  })
  const out = await runBatch(last, ids)
  assert.deepEqual(out.hidden.shape, [6, 77, 32])
  assert.deepEqual(out.pooled?.shape, [6, 32])
  await expectGoldens('sd1/goldens/sd1_goldens.safetensors', (i) => `te.${i}.last_hidden_state`, out.hidden, 6)
  await expectGoldens('sd1/goldens/sd1_goldens.safetensors', (i) => `te.${i}.pooled`, out.pooled!, 6)
  const skip2 = await TextEncoderSession.create(w, { ...TEXT_ENCODER_PRESETS.sd1, layer: 2 })
  const out2 = await runBatch(skip2, ids)
  assert.equal(out2.pooled, undefined)
  await expectGoldens('sd1/goldens/sd1_goldens.safetensors', (i) => `te.${i}.penultimate_final_ln`, out2.hidden, 6)
  await Promise.all([last.release(), skip2.release()])
})

test('SD2 OpenCLIP: penultimate resblock + ln_final matches ldm FrozenOpenCLIPEmbedder', async () => {
  const w = await load('sd2/tiny-sd2-v.safetensors', TEXT_ENCODER_PRESETS.sd2.prefix)
  const ids = readRefJson('sd2', 'goldens', 'sd2_goldens.json').text_encoder.plain.map((p: { input_ids: number[] }) => p.input_ids)
  const enc = await TextEncoderSession.create(w, TEXT_ENCODER_PRESETS.sd2)
  assert.equal(enc.config.heads, 4)
  assert.equal(enc.config.projectionDim, 32)
  const out = await runBatch(enc, ids)
  await expectGoldens('sd2/goldens/sd2_goldens.safetensors', (i) => `te.${i}.penultimate_ln`, out.hidden, 6)
  await enc.release()
})

test('SDXL: CLIP-L hidden_states[-2] without final LN; bigG penultimate without ln_final and projected pooled', async () => {
  const w = await load('sdxl/tiny-sdxl-base.safetensors', 'conditioner.')
  const plain = readRefJson('sdxl', 'goldens', 'sdxl_goldens.json').text_encoder.plain as { clip_l_ids: number[]; bigG_ids: number[] }[]
  const clipL = await TextEncoderSession.create(w, TEXT_ENCODER_PRESETS.sdxlClipL)
  const bigG = await TextEncoderSession.create(w, TEXT_ENCODER_PRESETS.sdxlBigG)
  assert.equal(bigG.config.projectionDim, 64)
  const l = await runBatch(clipL, plain.map((p) => p.clip_l_ids))
  const g = await runBatch(bigG, plain.map((p) => p.bigG_ids))
  assert.deepEqual(g.pooled?.shape, [4, 64])
  const file = 'sdxl/goldens/sdxl_goldens.safetensors'
  await expectGoldens(file, (i) => `te.${i}.clip_l_hidden`, l.hidden, 4)
  await expectGoldens(file, (i) => `te.${i}.bigG_penultimate`, g.hidden, 4)
  await expectGoldens(file, (i) => `te.${i}.bigG_pooled`, g.pooled!, 4)
  await Promise.all([clipL.release(), bigG.release()])
})

test('textual-inversion fixes overwrite the token rows after offset + 1, cut at the chunk end', async () => {
  const w = await load('sd1/tiny-sd1.safetensors', TEXT_ENCODER_PRESETS.sd1.prefix)
  const enc = await TextEncoderSession.create(w, TEXT_ENCODER_PRESETS.sd1)
  const ids = [49406, 320, 0, 0, 49407, 49407]
  const vec = (v: number) => new Float32Array(32).fill(v)
  const e = enc.embed(ids, [{ offset: 1, vectors: [vec(1), vec(2)] }, { offset: 4, vectors: [vec(3), vec(4)] }])
  const plain = enc.embed(ids)
  const at = (t: HostTensor, i: number) => [...t.data.subarray(i * 32, (i + 1) * 32)]
  assert.deepEqual(at(e, 2), at({ shape: [], data: vec(1) }, 0))
  assert.deepEqual(at(e, 3), at({ shape: [], data: vec(2) }, 0))
  assert.deepEqual(at(e, 5), at({ shape: [], data: vec(3) }, 0))
  for (const i of [0, 1, 4]) assert.deepEqual(at(e, i), at(plain, i))
  assert.deepEqual(at(plain, 1), [...w.get(`${TEXT_ENCODER_PRESETS.sd1.prefix}embeddings.token_embedding.weight`).subarray(320 * 32, 321 * 32)])
  assert.throws(() => enc.embed(ids, [{ offset: 1, vectors: [vec(1).subarray(0, 16)] }]), { name: 'ModelMismatchError', message: 'tiny-sd1.safetensors: '
    + 'textual-inversion vector 0 at offset 1 has 16 values, but the text encoder "cond_stage_model.transformer.text_model.embeddings.'
    + 'token_embedding.weight" is 32 wide. Hint: the embedding was trained for another model family.' })
  assert.throws(() => enc.embed([49408]), new InputError('token id 49408 at position 0 is outside the vocabulary of '
    + '"cond_stage_model.transformer.text_model.embeddings.token_embedding.weight" in tiny-sd1.safetensors (0..49407)'))
  await enc.release()
})

test('head count: table for CLIP widths, width/64 otherwise, error when neither applies', () => {
  assert.deepEqual([32, 768, 1024, 1280, 512].map((c) => headsForWidth('m.safetensors', c)), [4, 12, 16, 20, 8])
  assert.throws(() => headsForWidth('m.safetensors', 100), new UnknownModelError('m.safetensors', 'text encoder width 100 is '
    + 'neither a known CLIP width (32, 768, 1024, 1280) nor a multiple of 64, so its attention head count cannot be inferred. '
    + 'Hint: this is not an SD text encoder.'))
})

test('a clip skip beyond the layer count is an input error', async () => {
  const w = await load('sd1/tiny-sd1.safetensors', TEXT_ENCODER_PRESETS.sd1.prefix)
  const spec: TextEncoderSpec = { ...TEXT_ENCODER_PRESETS.sd1, layer: 5 }
  await assert.rejects(TextEncoderSession.create(w, spec), new InputError('text encoder: hidden layer 5 from the end was asked '
    + 'for, but the encoder under "cond_stage_model.transformer.text_model." has 4 layers. Hint: clip skip must be between 1 and 4.'))
})

test('graphs bind only the weights they run: SD2 skips the last resblock, SDXL CLIP-L the final norm', async () => {
  const sd2 = await load('sd2/tiny-sd2-v.safetensors', TEXT_ENCODER_PRESETS.sd2.prefix)
  const keys2 = buildTextEncoderGraph(sd2, measureTextEncoder(sd2, 'open-clip', TEXT_ENCODER_PRESETS.sd2.prefix), TEXT_ENCODER_PRESETS.sd2).weightKeys
  assert.equal(keys2.filter((k) => k.includes('resblocks.3.')).length, 0)
  assert.equal(keys2.filter((k) => k.includes('resblocks.2.')).length, 12)
  assert.deepEqual(keys2.filter((k) => !k.includes('resblocks.')),
    ['cond_stage_model.model.positional_embedding', 'cond_stage_model.model.ln_final.weight', 'cond_stage_model.model.ln_final.bias'])
  const xl = await load('sdxl/tiny-sdxl-base.safetensors', 'conditioner.')
  const cfg = measureTextEncoder(xl, 'clip', TEXT_ENCODER_PRESETS.sdxlClipL.prefix)
  const keysL = buildTextEncoderGraph(xl, cfg, TEXT_ENCODER_PRESETS.sdxlClipL).weightKeys
  assert.equal(keysL.filter((k) => k.includes('final_layer_norm') || k.includes('layers.3.')).length, 0)
  assert.equal(keysL.length, 1 + 3 * 16)
})
