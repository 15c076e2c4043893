/**
 * Adapters through the text encoders: the LoRA merged by PatchSet (at 0.7, te and unet) installed in the engine's
 * WeightStore, embeddings from embedding.ts spliced in by the prompt chunker, must reproduce A1111's conditioning of
 * the full-run goldens (sd1/adapters `run.cond` / `run.uncond`, sdxl/adapters `run.cond.*` / `run.uncond.*`; 1e-4).
 */
import { test } from 'node:test'
import { TOKENIZER_DIR, assertClose, ref, refTensors } from '../golden.ts'
import { openTensorFile } from '../../src/formats/open.ts'
import { WeightStore } from '../../src/models/weights.ts'
import { TEXT_ENCODER_PRESETS, TextEncoderSession, encodeChunks, type PromptChunk as ModelChunk } from '../../src/models/clip/index.ts'
import { encodeSdxlConditioning, sdxlSizeFor } from '../../src/models/clip/sdxl-conditioning.ts'
import { createClipTokenizer } from '../../src/prompt/clip-tokenizer.ts'
import { tokenizeLine, type PromptChunk } from '../../src/prompt/chunker.ts'
import { buildEmbeddingIndex } from '../../src/prompt/embedding-index.ts'
import { loadAdapter } from '../../src/adapters/adapter-file.ts'
import { loadEmbedding, type Embedding } from '../../src/adapters/embedding.ts'
import { PatchSet } from '../../src/adapters/patch-set.ts'
import type { Arch, BaseWeights } from '../../src/adapters/types.ts'

async function patchedStore(model: string[], lora: string[], arch: Arch): Promise<WeightStore> {
  const source = await openTensorFile(ref(...model))
  const store = await WeightStore.load(source)
  await source.close()
  const base: BaseWeights = { has: (k) => store.has(k), shape: (k) => store.shape(k), get: (k) => store.getBase(k) }
  const { tensors } = await new PatchSet(base, arch, { strict: true }).update([{ adapter: await loadAdapter(ref(...lora)), te: 0.7, unet: 0.7 }])
  store.setPatches(tensors)
  return store
}

const rowsOf = (t: { shape: readonly number[]; data: Float32Array }): Float32Array[] =>
  Array.from({ length: t.shape[0] }, (_, i) => t.data.subarray(i * t.shape[1], (i + 1) * t.shape[1]))

/** Prompt chunks with each fix's vectors taken from the embedding (te1 or te2 rows). */
function withVectors(chunks: readonly PromptChunk[], embeddings: readonly Embedding[], which: 'te1' | 'te2'): ModelChunk[] {
  return chunks.map((c) => ({
    tokens: c.tokens, multipliers: c.multipliers,
    fixes: c.fixes.map((f) => ({ offset: f.offset, vectors: rowsOf(embeddings.find((e) => e.name === f.name)!.vectors[which]!).slice(0, f.vectors) })),
  }))
}

test('SD1: tinylora at 0.7 in the text encoder + tinyneg in the negative prompt give A1111 run.cond / run.uncond', async () => {
  const store = await patchedStore(['sd1', 'tiny-sd1.safetensors'], ['sd1', 'adapters', 'tinylora.safetensors'], 'sd1')
  const encoder = await TextEncoderSession.create(store, TEXT_ENCODER_PRESETS.sd1, { threads: 1 })
  try {
    const tokenizer = createClipTokenizer(TOKENIZER_DIR)
    const neg = await loadEmbedding(ref('sd1', 'adapters', 'embeddings', 'tinyneg.safetensors'))
    const embeddings = buildEmbeddingIndex(tokenizer, [{ name: neg.name, vectors: neg.count }])
    const golden = await refTensors('sd1', 'adapters', 'adapter_goldens.safetensors')
    for (const [prompt, key] of [['a photo of a cat, masterpiece', 'run.cond'], ['tinyneg, blurry', 'run.uncond']]) {
      const line = tokenizeLine(prompt, { tokenizer, embeddings })
      const out = await encodeChunks(encoder, withVectors(line.chunks, [neg], 'te1'))
      assertClose(out.cond.data, await golden.readF32(key), 1e-4, key)
    }
  } finally {
    await encoder.release()
  }
})

test('SDXL: tinyxl_lora at 0.7 in both encoders + tinyxlemb (clip_l / clip_g) give A1111 run.cond / run.uncond', async () => {
  const store = await patchedStore(['sdxl', 'tiny-sdxl-base.safetensors'], ['sdxl', 'adapters', 'tinyxl_lora.safetensors'], 'sdxl')
  const clipL = await TextEncoderSession.create(store, TEXT_ENCODER_PRESETS.sdxlClipL, { threads: 1 })
  const bigG = await TextEncoderSession.create(store, TEXT_ENCODER_PRESETS.sdxlBigG, { threads: 1 })
  try {
    const tokenizer = createClipTokenizer(TOKENIZER_DIR)
    const emb = await loadEmbedding(ref('sdxl', 'adapters', 'embeddings', 'tinyxlemb.safetensors'))
    const embeddings = buildEmbeddingIndex(tokenizer, [{ name: emb.name, vectors: emb.count }])
    const golden = await refTensors('sdxl', 'adapters', 'sdxl_adapter_goldens.safetensors')
    for (const [prompt, key] of [['a photo of a cat, masterpiece ', 'run.cond'], ['tinyxlemb, blurry', 'run.uncond']]) {
      const line = tokenizeLine(prompt, { tokenizer, embeddings })
      const out = await encodeSdxlConditioning({ clipL, bigG }, {
        clipL: withVectors(line.chunks, [emb], 'te1'), bigG: withVectors(line.chunks, [emb], 'te2'),
      }, { size: sdxlSizeFor(64, 64) })
      assertClose(out.crossattn.data, await golden.readF32(`${key}.crossattn`), 1e-4, `${key}.crossattn`)
      assertClose(out.vector.data, await golden.readF32(`${key}.vector`), 1e-4, `${key}.vector`)
    }
  } finally {
    await clipL.release()
    await bigG.release()
  }
})
