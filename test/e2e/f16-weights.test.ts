/*
 * --weights auto (the default) keeps an fp16 checkpoint's weights at their stored width, as views of the mapped file
 * (or read as stored where mapping is unavailable), and each graph casts them to float32 where they are used. A Cast
 * from half is exact, so the images must equal those of the same file widened at load (--weights fp32) bit for bit:
 * plain, with a LoRA merged (the patched weights are fed as float32 and the sessions rebuilt for them), merged into the
 * base by a one-shot run, bypassed, and after the LoRA is taken off again.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { canMapFiles } from '../../src/formats/file-map.ts'
import { openSafetensors } from '../../src/formats/safetensors.ts'
import { loadModel, type LoadedModel, type WeightPrecision } from '../../src/pipeline/load-model.ts'
import { prepareAdapters, type AdapterMode } from '../../src/pipeline/adapters.ts'
import { loraRequestsFromPrompt } from '../../src/pipeline/extra-networks-resolve.ts'
import { txt2img } from '../../src/pipeline/txt2img.ts'
import { readRefJson, ref } from '../golden.ts'
import { writeF16Checkpoint } from '../fixtures/f16-checkpoint.ts'
import { goldenEntries, requestFor, tokenizer } from './pipeline-goldens.ts'

const dir = await mkdtemp(join(tmpdir(), 'sdloom-f16-'))
const FILE = join(dir, 'tiny-sd1-f16.safetensors')
const converted = await writeF16Checkpoint(ref('sd1', 'tiny-sd1.safetensors'), FILE)
test.after(() => rm(dir, { recursive: true, force: true }))

async function withModel<T>(weights: WeightPrecision, noMmap: boolean, f: (m: LoadedModel) => Promise<T>): Promise<T> {
  if (noMmap) process.env.SDLOOM_NO_MMAP = '1'
  try {
    const model = await loadModel(FILE, { threads: 1, weights })
    try { return await f(model) } finally { await model.release() }
  } finally {
    delete process.env.SDLOOM_NO_MMAP
  }
}

const euler = () => requestFor(goldenEntries('sd1', 'sd1_goldens').find((x) => x.sampler === 'euler')!)

test('auto holds an fp16 file 16-bit (mapped, or read without mmap) and gives the fp32 image bit for bit', async () => {
  assert.ok(converted > 100, `${converted} tensors written as F16`)
  const src = await openSafetensors(FILE)
  const keys = src.keys().filter((k) => src.info(k).dtype === 'F16')
  if (canMapFiles()) assert.ok(src.storedView(keys[0]) !== undefined, 'mmap is installed: the file maps')
  await src.close()
  const [plain, held] = await withModel('fp32', false, async (m) => [(await txt2img(m, euler()))[0].image.data, m.weights.heldBytes()] as const)
  for (const noMmap of [false, true]) {
    const [image, heldAuto] = await withModel('auto', noMmap, async (m) => {
      const unet = keys.filter((k) => k.startsWith('model.diffusion_model.'))
      assert.ok(unet.every((k) => m.weights.isF16(k)), 'every UNet weight is held as float16')
      return [(await txt2img(m, euler()))[0].image.data, m.weights.heldBytes()] as const
    })
    assert.ok(heldAuto < held * 0.55, `auto holds ${heldAuto} bytes, fp32 ${held}`)
    assert.deepEqual(image, plain, `auto${noMmap ? ' without mmap' : ''} vs fp32`)
  }
})

const run = () => readRefJson<{ run: { prompt: string; negative_prompt: string; steps: number; cfg_scale: number; seed: number; size: number[] } }>('sd1', 'adapters', 'adapter_goldens.json').run

async function loraImage(m: LoadedModel, mode: AdapterMode, oneShot: boolean, prompt: string): Promise<Float32Array> {
  const r = run()
  const adapters = await prepareAdapters(m, {
    loras: loraRequestsFromPrompt(prompt), lorasDir: ref('sd1', 'adapters'), embeddingsDir: ref('sd1', 'adapters', 'embeddings'),
    tokenizer, hashCache: false, mode, oneShot,
  }, () => undefined)
  const [img] = await txt2img(m, {
    prompt, negativePrompt: r.negative_prompt, sampler: 'Euler', steps: r.steps, cfgScale: r.cfg_scale,
    seed: r.seed, rng: 'cpu', width: r.size[1], height: r.size[0], tokenizer, embeddings: adapters.embeddings,
  })
  return img.image.data
}

for (const { mode, oneShot } of [{ mode: 'merge', oneShot: false }, { mode: 'merge', oneShot: true }, { mode: 'bypass', oneShot: false }] as const) {
  test(`auto with a LoRA (${mode}${oneShot ? ', one-shot merge into the base' : ''}) equals fp32 bit for bit`, async () => {
    const prompt = run().prompt
    const expected = await withModel('fp32', false, (m) => loraImage(m, mode, oneShot, prompt))
    await withModel('auto', false, async (m) => {
      assert.deepEqual(await loraImage(m, mode, oneShot, prompt), expected)
      if (oneShot) return
      // the LoRA taken off: back to 16-bit inputs (sessions rebuilt again) and the plain image
      const plainPrompt = prompt.replace(/<lora:[^>]*>/g, '')
      const plain = await withModel('fp32', false, (f) => loraImage(f, mode, false, plainPrompt))
      assert.deepEqual(await loraImage(m, mode, false, plainPrompt), plain)
      assert.ok([...m.weights.keys()].filter((k) => k.startsWith('model.diffusion_model.')).every((k) => m.weights.isF16(k)))
    })
  })
}
