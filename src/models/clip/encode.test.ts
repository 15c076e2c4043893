import { test } from 'node:test'
import assert from 'node:assert/strict'
import { assertClose, readRefJson, refTensors } from '../../../test/golden.ts'
import { InputError } from '../../core/errors.ts'
import { WeightStore } from '../weights.ts'
import { encodeChunks, encoderTokens, type PromptChunk } from './encode.ts'
import { encodeSdxlConditioning, sdxlSizeEmbedding, sdxlSizeFor } from './sdxl-conditioning.ts'
import { TEXT_ENCODER_PRESETS, TextEncoderSession } from './text-encoder.ts'
import type { EmbeddingFix } from './embed.ts'

const TOL = 1e-4

interface RefChunk { tokens: number[]; multipliers: number[]; encoded_tokens?: number[]; fixes?: unknown[] }
const plainChunk = (c: RefChunk): PromptChunk => {
  assert.deepEqual(c.fixes ?? [], [])
  return { tokens: c.tokens, multipliers: c.multipliers, fixes: [] }
}

/** Chunks of the tokenizer.json prompt with the same text. */
function chunksFor(file: string[], prompt: string, field: string): RefChunk[] {
  const entry = readRefJson(...file).prompts.find((p: { prompt: string }) => p.prompt === prompt)
  assert.ok(entry, `no tokenizer entry for ${JSON.stringify(prompt)}`)
  return entry[field]
}

test('SD1: A1111 conditioning over chunks (multi-chunk, BREAK, empty) at clip skip 1 and 2', async () => {
  const w = await WeightStore.load(await refTensors('sd1', 'tiny-sd1.safetensors'), { prefixes: [TEXT_ENCODER_PRESETS.sd1.prefix] })
  const ref = await refTensors('sd1', 'goldens', 'sd1_goldens.safetensors')
  const encoders = new Map([1, 2].map((s) => [s, TextEncoderSession.create(w, { ...TEXT_ENCODER_PRESETS.sd1, layer: s })]))
  const entries = readRefJson('sd1', 'goldens', 'sd1_goldens.json').text_encoder.a1111 as { key: string; prompt: string; clip_skip: number; shape: number[] }[]
  assert.equal(entries.length, 10)
  for (const e of entries) {
    const chunks = chunksFor(['sd1', 'goldens', 'tokenizer.json'], e.prompt, 'a1111_chunks').map(plainChunk)
    const out = await encodeChunks(await encoders.get(e.clip_skip)!, chunks)
    assert.deepEqual(out.cond.shape, e.shape)
    assertClose(out.cond.data, await ref.readF32(e.key), TOL, e.key)
  }
  for (const s of encoders.values()) await (await s).release()
})

test('SD1: textual-inversion chunks (placeholders + vectors, with emphasis) match A1111', async () => {
  const w = await WeightStore.load(await refTensors('sd1', 'tiny-sd1.safetensors'), { prefixes: [TEXT_ENCODER_PRESETS.sd1.prefix] })
  const ref = await refTensors('sd1', 'adapters', 'adapter_goldens.safetensors')
  const enc = await TextEncoderSession.create(w, TEXT_ENCODER_PRESETS.sd1)
  const ti = readRefJson('sd1', 'adapters', 'adapter_goldens.json').textual_inversion
  const vectors = async (name: string): Promise<Float32Array[]> => {
    const v = await ref.readF32(`ti.vec.${name}`)
    return Array.from({ length: v.length / 32 }, (_, i) => v.slice(i * 32, (i + 1) * 32))
  }
  for (const e of ti.entries as { key: string; chunks: { tokens: number[]; multipliers: number[]; fixes: { offset: number; embedding: string }[] }[] }[]) {
    const chunks = await Promise.all(e.chunks.map(async (c) => ({
      tokens: c.tokens, multipliers: c.multipliers,
      fixes: await Promise.all(c.fixes.map(async (f): Promise<EmbeddingFix> => ({ offset: f.offset, vectors: await vectors(f.embedding) }))),
    })))
    assertClose((await encodeChunks(enc, chunks)).cond.data, await ref.readF32(e.key), TOL, e.key)
  }
  await enc.release()
})

test('SD2: ids after the first EOS become 0 and the conditioning matches A1111', async () => {
  const w = await WeightStore.load(await refTensors('sd2', 'tiny-sd2-v.safetensors'), { prefixes: [TEXT_ENCODER_PRESETS.sd2.prefix] })
  const ref = await refTensors('sd2', 'goldens', 'sd2_goldens.safetensors')
  const enc = await TextEncoderSession.create(w, TEXT_ENCODER_PRESETS.sd2)
  const entries = readRefJson('sd2', 'goldens', 'sd2_goldens.json').text_encoder.a1111 as { key: string; prompt: string; shape?: number[] }[]
  assert.equal(entries.length, 5)
  for (const e of entries) {
    const raw = chunksFor(['sd2', 'goldens', 'tokenizer.json'], e.prompt, 'a1111_chunks')
    for (const c of raw) assert.deepEqual(encoderTokens('open-clip', c.tokens), c.encoded_tokens)
    const out = await encodeChunks(enc, raw.map(plainChunk))
    assertClose(out.cond.data, await ref.readF32(e.key), TOL, e.key)
  }
  await enc.release()
})

test('SDXL: crossattn (CLIP-L ‖ bigG) and vector (first-chunk pooled + size Fourier) match A1111; empty negative is zero', async () => {
  const w = await WeightStore.load(await refTensors('sdxl', 'tiny-sdxl-base.safetensors'), { prefixes: ['conditioner.'] })
  const ref = await refTensors('sdxl', 'goldens', 'sdxl_goldens.safetensors')
  const encoders = {
    clipL: await TextEncoderSession.create(w, TEXT_ENCODER_PRESETS.sdxlClipL),
    bigG: await TextEncoderSession.create(w, TEXT_ENCODER_PRESETS.sdxlBigG),
  }
  const entries = readRefJson('sdxl', 'goldens', 'sdxl_goldens.json').a1111_conditioning.entries as
    { key: string; prompt: string; is_negative_prompt?: boolean; height: number; width: number; crossattn_shape: number[] }[]
  const conds = entries.filter((e) => e.key.startsWith('a1111_cond.'))
  assert.equal(conds.length, 6)
  for (const e of conds) {
    const file = ['sdxl', 'goldens', 'tokenizer.json']
    const bigG = chunksFor(file, e.prompt, 'bigG_chunks')
    for (const c of bigG) assert.deepEqual(encoderTokens('open-clip', c.tokens), c.encoded_tokens)
    const out = await encodeSdxlConditioning(encoders, {
      clipL: chunksFor(file, e.prompt, 'clip_l_chunks').map(plainChunk), bigG: bigG.map(plainChunk),
    }, { size: sdxlSizeFor(e.height, e.width), emptyNegative: e.is_negative_prompt === true && e.prompt === '' })
    assert.deepEqual(out.crossattn.shape, e.crossattn_shape)
    assertClose(out.crossattn.data, await ref.readF32(`${e.key}.crossattn`), TOL, `${e.key}.crossattn`)
    assertClose(out.vector.data, await ref.readF32(`${e.key}.vector`), TOL, `${e.key}.vector`)
  }
  await Promise.all([encoders.clipL.release(), encoders.bigG.release()])
})

test('SDXL size embedding matches sgm/diffusers for square, large and cropped sizes', async () => {
  const ref = await refTensors('sdxl', 'goldens', 'sdxl_goldens.safetensors')
  const cases = [
    { key: 'time_emb.h64w64c0_0', size: sdxlSizeFor(64, 64) },
    { key: 'time_emb.h1024w1024c0_0', size: sdxlSizeFor(1024, 1024) },
    { key: 'time_emb.h96w64c16_8', size: { ...sdxlSizeFor(96, 64), cropTop: 16, cropLeft: 8 } },
  ]
  for (const c of cases) assertClose(sdxlSizeEmbedding(c.size), await ref.readF32(c.key), TOL, c.key)
})

test('SDXL textual inversion: clip_l rows go to CLIP-L, clip_g rows to bigG, at the same placeholder positions', async () => {
  const w = await WeightStore.load(await refTensors('sdxl', 'tiny-sdxl-base.safetensors'), { prefixes: ['conditioner.'] })
  const ref = await refTensors('sdxl', 'adapters', 'sdxl_adapter_goldens.safetensors')
  const encoders = {
    clipL: await TextEncoderSession.create(w, TEXT_ENCODER_PRESETS.sdxlClipL),
    bigG: await TextEncoderSession.create(w, TEXT_ENCODER_PRESETS.sdxlBigG),
  }
  const rows = async (k: string) => { const v = await ref.readF32(k); return [v.slice(0, 32), v.slice(32, 64)] }
  const vec = { clipL: await rows('ti.vec.clip_l'), bigG: await rows('ti.vec.clip_g') }
  const entries = readRefJson('sdxl', 'adapters', 'sdxl_adapter_goldens.json').textual_inversion.entries as
    { key: string; height: number; width: number; clip_l_tokens: number[]; bigG_tokens: number[]; multipliers: number[]; fixes_clip_l: [number, string][] }[]
  for (const e of entries) {
    const chunk = (tokens: number[], v: Float32Array[]): PromptChunk =>
      ({ tokens, multipliers: e.multipliers, fixes: e.fixes_clip_l.map(([offset]) => ({ offset, vectors: v })) })
    const out = await encodeSdxlConditioning(encoders,
      { clipL: [chunk(e.clip_l_tokens, vec.clipL)], bigG: [chunk(e.bigG_tokens, vec.bigG)] }, { size: sdxlSizeFor(e.height, e.width) })
    assertClose(out.crossattn.data, await ref.readF32(`${e.key}.crossattn`), TOL, `${e.key}.crossattn`)
    assertClose(out.vector.data, await ref.readF32(`${e.key}.vector`), TOL, `${e.key}.vector`)
  }
  await assert.rejects(encodeSdxlConditioning(encoders, { clipL: [], bigG: [chunk0()] }, { size: sdxlSizeFor(64, 64) }),
    new InputError('SDXL conditioning: 0 CLIP-L chunks but 1 bigG chunks; both encoders chunk the same text'))
  await Promise.all([encoders.clipL.release(), encoders.bigG.release()])
})

const chunk0 = (): PromptChunk => ({ tokens: [49406, ...new Array<number>(76).fill(49407)], multipliers: new Array<number>(77).fill(1), fixes: [] })
