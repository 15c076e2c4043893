/*
 * prepareAdapters on a loaded SD1 model: two stacked adapters of different kinds (tinylora 0.7 + tinylokr 0.5) equal
 * base + both merged deltas (the README's per-algorithm goldens at 0.7, rescaled), produce an image, and a switch
 * (one removed, then all) restores the weights bit for bit, with the already-built sessions following the change.
 * Errors and warnings: an SDXL LoRA on SD1, unmatched keys (warned; --strict fails), an unknown <lora:NAME>.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { InputError } from '../../src/core/errors.ts'
import { encodeF32As, writeSafetensors } from '../../src/formats/safetensors-writer.ts'
import { openTensorFile } from '../../src/formats/open.ts'
import { buildConditioning } from '../../src/pipeline/conditioning.ts'
import { loadModel, type LoadedModel } from '../../src/pipeline/load-model.ts'
import { prepareAdapters, type AdapterRequest } from '../../src/pipeline/adapters.ts'
import { txt2img } from '../../src/pipeline/txt2img.ts'
import { assertClose, maxAbsDiff, ref, refTensors } from '../golden.ts'
import { tokenizer } from './pipeline-goldens.ts'

const LORA = ref('sd1', 'adapters', 'tinylora.safetensors')
const LOKR = ref('sd1', 'adapters', 'tinylokr.safetensors')
const base = (extra: Partial<AdapterRequest> = {}): AdapterRequest => ({ loras: [], tokenizer, hashCache: false, ...extra })
const quiet = () => undefined

let model: LoadedModel
let tmp: string
before(async () => {
  model = await loadModel(ref('sd1', 'tiny-sd1.safetensors'), { threads: 1 })
  tmp = await mkdtemp(join(tmpdir(), 'sdloom-adapters-'))
})
after(async () => {
  await model.release()
  await rm(tmp, { recursive: true, force: true })
})

const goldenKeys = async (): Promise<string[]> =>
  (await refTensors('sd1', 'adapters', 'adapter_goldens.safetensors')).keys().filter((k) => k.startsWith('lora.')).map((k) => k.slice(5))

test('tinylora 0.7 + tinylokr 0.5 stacked: every golden layer = base + (lora@0.7 − base) + (lokr@0.7 − base) · 5/7', async () => {
  const golden = await refTensors('sd1', 'adapters', 'adapter_goldens.safetensors')
  const prepared = await prepareAdapters(model, base({ loras: [{ file: LORA, te: 0.7, unet: 0.7 }, { file: LOKR, te: 0.5, unet: 0.5 }] }), quiet)
  assert.deepEqual(prepared.report.loras.map((r) => [r.adapter, r.applied.te1, r.applied.unet]), [['tinylora', 24, 256], ['tinylokr', 24, 256]])
  for (const key of await goldenKeys()) {
    const w = model.weights.getBase(key)
    const [lora, lokr] = [await golden.readF32(`lora.${key}`), await golden.readF32(`lokr.${key}`)]
    const expected = w.map((v, i) => v + (lora[i] - v) + (lokr[i] - v) * (0.5 / 0.7))
    assertClose(model.weights.get(key), expected, 2e-6, key)
  }
  const [img] = await txt2img(model, { prompt: 'a photo of a cat', sampler: 'Euler', steps: 2, seed: 1, rng: 'cpu', width: 64, height: 64, tokenizer })
  assert.deepEqual(img.image.shape, [1, 3, 64, 64])
  assert.ok(img.image.data.every(Number.isFinite), 'stacked-adapter image has non-finite values')
})

test('a switch restores weights bit for bit: stack → tinylora alone equals tinylora applied first; none → the base arrays', async () => {
  const only = await prepareAdapters(model, base({ loras: [{ file: LORA, te: 0.7, unet: 0.7 }] }), quiet)
  const keys = model.weights.patchedKeys
  assert.equal(keys.length, only.report.patchedTensors)
  const snapshot = new Map(keys.map((k) => [k, Float32Array.from(model.weights.get(k))]))
  await prepareAdapters(model, base({ loras: [{ file: LORA, te: 0.7, unet: 0.7 }, { file: LOKR, te: 0.5, unet: 0.5 }] }), quiet)
  const back = await prepareAdapters(model, base({ loras: [{ file: LORA, te: 0.7, unet: 0.7 }] }), quiet)
  assert.equal(back.report.changedTensors, keys.length)
  for (const [k, v] of snapshot) assert.deepEqual(model.weights.get(k), v, k)
  const uncached = await prepareAdapters(model, base({ loras: [{ file: LORA, te: 0.7, unet: 0.7 }], cacheDeltas: false }), quiet)
  assert.equal(uncached.report.changedTensors, keys.length, 'a new patch set recomputes every tensor once')
  for (const [k, v] of snapshot) assert.deepEqual(model.weights.get(k), v, `${k} without cached deltas`)
  const none = await prepareAdapters(model, base(), quiet)
  assert.equal(none.report.patchedTensors, 0)
  assert.deepEqual(model.weights.patchedKeys, [])
  for (const k of keys) assert.equal(model.weights.get(k), model.weights.getBase(k), `${k} is not the base array`)
})

test('built text-encoder sessions follow a switch: "tinyneg, blurry" gives run.uncond with tinylora, ti.1.cond without', async () => {
  const golden = await refTensors('sd1', 'adapters', 'adapter_goldens.safetensors')
  const encode = async (loras: AdapterRequest['loras']) => {
    const prepared = await prepareAdapters(model, base({ loras, embeddingsDir: ref('sd1', 'adapters', 'embeddings') }), quiet)
    const c = await buildConditioning(model, { prompt: '', negativePrompt: 'tinyneg, blurry', scheduleSteps: 1, clipSkip: 1, tokenizer, embeddings: prepared.embeddings, width: 64, height: 64 })
    return c.uncondAt(0).context
  }
  assertClose(await encode([{ file: LORA, te: 0.7, unet: 0.7 }]), await golden.readF32('run.uncond'), 1e-4, 'run.uncond')
  assertClose(await encode([]), await golden.readF32('ti.1.cond'), 1e-4, 'ti.1.cond')
})

test('a multiplier change is recomputed in place and built sessions see it: 0.7 → 0.35 → 0.7', async () => {
  const golden = await refTensors('sd1', 'adapters', 'adapter_goldens.safetensors')
  const key = 'cond_stage_model.transformer.text_model.encoder.layers.0.self_attn.q_proj.weight'
  const encode = async (m: LoadedModel, w: number) => {
    const prepared = await prepareAdapters(m, base({ loras: [{ file: LORA, te: w, unet: w }], embeddingsDir: ref('sd1', 'adapters', 'embeddings') }), quiet)
    const c = await buildConditioning(m, { prompt: '', negativePrompt: 'tinyneg, blurry', scheduleSteps: 1, clipSkip: 1, tokenizer, embeddings: prepared.embeddings, width: 64, height: 64 })
    return c.uncondAt(0).context
  }
  assertClose(await encode(model, 0.7), await golden.readF32('run.uncond'), 1e-4, 'run.uncond at 0.7')
  const array = model.weights.get(key)
  const half = await encode(model, 0.35)
  assert.equal(model.weights.get(key), array, 'recomputed into the same array')
  const fresh = await loadModel(ref('sd1', 'tiny-sd1.safetensors'), { threads: 1 })
  try {
    assert.deepEqual(half, await encode(fresh, 0.35), 'in-place 0.35 differs from a fresh model at 0.35')
  } finally {
    await fresh.release()
  }
  assert.ok(maxAbsDiff(half, await golden.readF32('run.uncond')) > 1e-3, 'the session did not see the change')
  assertClose(await encode(model, 0.7), await golden.readF32('run.uncond'), 1e-4, 'run.uncond back at 0.7')
  await prepareAdapters(model, base(), quiet)
})

test('an SDXL LoRA on SD1 is one ModelMismatchError naming both, and leaves the weights as they were', async () => {
  await prepareAdapters(model, base(), quiet)
  await assert.rejects(
    prepareAdapters(model, base({ loras: [{ file: ref('sdxl', 'adapters', 'tinyxl_lora.safetensors'), te: 1, unet: 1 }] }), quiet),
    { name: 'ModelMismatchError', message: 'tinyxl_lora.safetensors: adapter "tinyxl_lora" is for SDXL but the base model is SD1.x: it has 24 modules with the prefix lora_te2_ '
      + '(SDXL\'s second text encoder, OpenCLIP bigG). Hint: load an SDXL checkpoint, or use an adapter made for SD1.x.' },
  )
  assert.deepEqual(model.weights.patchedKeys, [])
})

/** tinylora plus two modules the tiny SD1 model does not have. */
async function loraWithStrayKeys(): Promise<string> {
  const source = await openTensorFile(LORA)
  const tensors = []
  for (const name of source.keys()) tensors.push({ name, dtype: 'F32' as const, shape: source.info(name).shape, data: encodeF32As('F32', await source.readF32(name)) })
  await source.close()
  for (const m of ['lora_unet_down_blocks_9_attentions_0_proj_in', 'lora_unet_mid_block_attentions_0_bogus']) {
    tensors.push({ name: `${m}.lora_down.weight`, dtype: 'F32' as const, shape: [4, 32], data: encodeF32As('F32', new Float32Array(128)) })
  }
  const file = join(tmp, 'stray.safetensors')
  await writeSafetensors(file, tensors)
  return file
}

test('unmatched keys: a warning with the count and the first keys; --strict turns it into an error before anything changes', async () => {
  const file = await loraWithStrayKeys()
  const lines: string[] = []
  const prepared = await prepareAdapters(model, base({ loras: [{ file, te: 1, unet: 1 }] }), (l) => lines.push(l))
  assert.deepEqual(lines, [
    'LoRA stray (stray.safetensors): te 1, unet 1; patched 24 text-encoder and 256 UNet module(s)',
    'warning: LoRA "stray" (stray.safetensors): 2 key(s) match no layer of this SD1.x model and were ignored: '
      + '"lora_unet_down_blocks_9_attentions_0_proj_in.lora_down.weight", "lora_unet_mid_block_attentions_0_bogus.lora_down.weight". '
      + 'Hint: --strict makes this an error.',
  ])
  assert.equal(prepared.report.warnings.length, 1)
  const patched = model.weights.patchedKeys
  await assert.rejects(prepareAdapters(model, base({ loras: [{ file, te: 0.5, unet: 0.5 }], strict: true }), quiet), { name: 'ModelMismatchError', message: 'stray.safetensors: --strict: 2 key(s) or module(s) of LoRA "stray" cannot be applied to this SD1.x model: "lora_unet_down_blocks_9_attentions_0_proj_in.lora_down.weight", '
    + '"lora_unet_mid_block_attentions_0_bogus.lora_down.weight". Hint: run without --strict to apply the rest and see these as warnings.' })
  assert.deepEqual(model.weights.patchedKeys, patched)
  await prepareAdapters(model, base(), quiet)
})

test('<lora:NAME> not in --loras: an InputError listing close names; without --loras: says to add it', async () => {
  const dir = ref('sd1', 'adapters')
  await assert.rejects(prepareAdapters(model, base({ loras: [{ name: 'tinylorra', te: 1, unet: 1 }], lorasDir: dir }), quiet), new InputError(
    `<lora:tinylorra>: no LoRA named "tinylorra" in --loras ${dir} (names are file stems, searched recursively); close names: tinylora, tinyloha, tinylokr`))
  await assert.rejects(prepareAdapters(model, base({ loras: [{ name: 'tinylora', te: 1, unet: 1 }] }), quiet), new InputError(
    'the prompt uses <lora:tinylora> but no LoRA folder was given. Hint: add --loras DIR, or pass the file with --lora FILE:WEIGHT.'))
})

test('embeddings that do not fit are listed as skipped (SDXL embedding on SD1), the rest are registered', async () => {
  const lines: string[] = []
  const prepared = await prepareAdapters(model, base({ embeddingsDir: ref('sdxl', 'adapters', 'embeddings') }), (l) => lines.push(l))
  const file = ref('sdxl', 'adapters', 'embeddings', 'tinyxlemb.safetensors')
  assert.deepEqual(lines, [`warning: embedding "tinyxlemb" (${file}) skipped: vector width clip_l 32 + clip_g 32 does not fit this model's text encoder (32)`])
  assert.deepEqual(prepared.report.embeddings.loaded, [])
  assert.equal(prepared.embeddings.index.size, 0)
  const sd1 = await prepareAdapters(model, base({ embeddingsDir: ref('sd1', 'adapters', 'embeddings') }), quiet)
  assert.deepEqual(sd1.report.embeddings.loaded, ['tinyemb', 'tinyneg'])
})
