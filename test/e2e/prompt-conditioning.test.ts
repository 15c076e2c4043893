/**
 * The prompt layer's own A1111 forward (src/prompt/conditioning.ts: chunking, 0-after-EOS for OpenCLIP, batched
 * emphasis "Original", chunk concatenation, first-chunk pooled) around the models' text encoders must reproduce
 * A1111's conditioning goldens `a1111_cond.*` of sd1 (clip skip 1 and 2), sd2 and sdxl (1e-4).
 */
import { test } from 'node:test'
import { TOKENIZER_DIR, assertClose, readRefJson, ref, refTensors } from '../golden.ts'
import { openTensorFile } from '../../src/formats/open.ts'
import { WeightStore } from '../../src/models/weights.ts'
import { TEXT_ENCODER_PRESETS, TextEncoderSession, argmaxId, type TextEncoderSpec } from '../../src/models/clip/index.ts'
import { createClipTokenizer, type ClipTokenizer } from '../../src/prompt/clip-tokenizer.ts'
import { encodeTexts, type ChunkEncoder } from '../../src/prompt/conditioning.ts'

const tokenizer = createClipTokenizer(TOKENIZER_DIR)

async function storeOf(...model: string[]): Promise<WeightStore> {
  const source = await openTensorFile(ref(...model))
  const store = await WeightStore.load(source)
  await source.close()
  return store
}

/** The models' session as a prompt-layer ChunkEncoder (no embeddings in these prompts). */
const chunkEncoder = (session: TextEncoderSession): ChunkEncoder => async (ids) => {
  const out = await session.run(session.embed(ids), [argmaxId(ids)])
  return { z: out.hidden.data, pooled: out.pooled?.data }
}

async function withSession<T>(store: WeightStore, spec: TextEncoderSpec, f: (s: TextEncoderSession) => Promise<T>): Promise<T> {
  const session = await TextEncoderSession.create(store, spec, { threads: 1 })
  try { return await f(session) } finally { await session.release() }
}

const encodeOne = async (prompt: string, session: TextEncoderSession, tok: ClipTokenizer, padId: number) =>
  (await encodeTexts([prompt], { tokenizer: tok, encode: chunkEncoder(session), padId }))[0]

test('sd1: a1111_cond.J.clipskipS', async () => {
  const store = await storeOf('sd1', 'tiny-sd1.safetensors')
  const golden = await refTensors('sd1', 'goldens', 'sd1_goldens.safetensors')
  const entries = readRefJson('sd1', 'goldens', 'sd1_goldens.json').text_encoder.a1111
  for (const skip of [1, 2]) {
    await withSession(store, { ...TEXT_ENCODER_PRESETS.sd1, layer: skip }, async (session) => {
      for (const e of entries.filter((x: { clip_skip: number }) => x.clip_skip === skip)) {
        const c = await encodeOne(e.prompt, session, tokenizer, tokenizer.eos)
        assertClose(c.z, await golden.readF32(e.key), 1e-4, e.key)
      }
    })
  }
})

test('sd2: a1111_cond.J (OpenCLIP, zeros after EOS)', async () => {
  const store = await storeOf('sd2', 'tiny-sd2-v.safetensors')
  const golden = await refTensors('sd2', 'goldens', 'sd2_goldens.safetensors')
  const openClip = tokenizer.withFlavor('open-clip')
  await withSession(store, TEXT_ENCODER_PRESETS.sd2, async (session) => {
    for (const e of readRefJson('sd2', 'goldens', 'sd2_goldens.json').text_encoder.a1111) {
      const c = await encodeOne(e.prompt, session, openClip, 0)
      assertClose(c.z, await golden.readF32(e.key), 1e-4, e.key)
    }
  })
})

test('sdxl: a1111_cond.J crossattn (CLIP-L | bigG per token) and the pooled part of vector', async () => {
  const store = await storeOf('sdxl', 'tiny-sdxl-base.safetensors')
  const golden = await refTensors('sdxl', 'goldens', 'sdxl_goldens.safetensors')
  const entries = readRefJson('sdxl', 'goldens', 'sdxl_goldens.json').a1111_conditioning.entries
    // J=5, the empty negative prompt, is zeroed by the pipeline (A1111 force_zero_embeddings), not by this layer
    .filter((e: { key: string; is_negative_prompt?: boolean; prompt?: string }) =>
      e.key.startsWith('a1111_cond.') && !(e.is_negative_prompt && e.prompt === ''))
  await withSession(store, TEXT_ENCODER_PRESETS.sdxlClipL, (clipL) => withSession(store, TEXT_ENCODER_PRESETS.sdxlBigG,
    async (bigG) => {
      for (const e of entries) {
        const l = await encodeOne(e.prompt, clipL, tokenizer, tokenizer.eos)
        const g = await encodeOne(e.prompt, bigG, tokenizer.withFlavor('open-clip'), 0)
        const crossattn = new Float32Array(l.z.length + g.z.length)
        for (let r = 0; r < l.tokens; r++) {
          crossattn.set(l.z.subarray(r * l.dim, (r + 1) * l.dim), r * (l.dim + g.dim))
          crossattn.set(g.z.subarray(r * g.dim, (r + 1) * g.dim), r * (l.dim + g.dim) + l.dim)
        }
        assertClose(crossattn, await golden.readF32(`${e.key}.crossattn`), 1e-4, `${e.key}.crossattn`)
        const pooled = g.pooled as Float32Array
        assertClose(pooled, (await golden.readF32(`${e.key}.vector`)).subarray(0, pooled.length), 1e-4, `${e.key}.pooled`)
      }
    }))
})
