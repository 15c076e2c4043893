/*
 * A1111's hires checkpoint (hr_checkpoint_name, `--hires-checkpoint`): hires fix's second pass on another checkpoint.
 * A1111's goldens have no such case, so the test checks what must hold by construction:
 *  - a checkpoint whose UNet and text encoder equal the first's but whose VAE decoder differs gives the same second-
 *    pass latents, decoded by its own VAE (decoding the plain run's latents with that VAE gives the same picture);
 *  - a copy of the first checkpoint under another path (loaded again, LoRA merged into it, its VAE encoding the
 *    Lanczos-upscaled picture) gives the plain run's image bit for bit, and "Hires checkpoint: name [AutoV2]";
 *  - another family is refused naming the field; a copy as the refiner (with the request's LoRA merged into it too)
 *    gives the refiner-less image; through the worker thread (EngineClient) the refiner, the hires checkpoint and a
 *    network upscaler are found by the names the caller's resolver knows.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { copyFile, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { EngineClient } from '../../src/engine/client.ts'
import type { GenerationRequest, ModelResolver } from '../../src/engine/contract.ts'
import { Engine } from '../../src/engine/engine.ts'
import { fileResolver } from '../../src/engine/file-resolver.ts'
import { encodeF32As } from '../../src/formats/f32-encode.ts'
import { openTensorFile } from '../../src/formats/open.ts'
import { writeSafetensors } from '../../src/formats/safetensors-writer.ts'
import { formatInfotext } from '../../src/image/infotext.ts'
import { decodeOne } from '../../src/pipeline/decode.ts'
import { txt2imgHires, type HiresRequest } from '../../src/pipeline/hires.ts'
import { loadModel, type LoadedModel } from '../../src/pipeline/load-model.ts'
import { hashFile } from '../../src/tools/hash.ts'
import { tinyEsrgan, writeEsrganSafetensors } from '../fixtures/tiny-esrgan.ts'
import { TOKENIZER_DIR, ref } from '../golden.ts'
import { NEGATIVE, PROMPT, tokenizer } from './pipeline-goldens.ts'

const SD1 = ref('sd1', 'tiny-sd1.safetensors')
const DECODER_OUT = 'first_stage_model.decoder.conv_out.weight'

let dir: string
let copy: string
let copy2: string
let otherVae: string
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sdloom-hires-ckpt-'))
  copy = join(dir, 'copy.safetensors')
  copy2 = join(dir, 'copy2.safetensors')
  await copyFile(SD1, copy)
  await copyFile(SD1, copy2)
  // the same checkpoint with its VAE decoder's last conv halved: same UNet and text encoder, another decoder
  otherVae = join(dir, 'other-vae.safetensors')
  const src = await openTensorFile(SD1)
  const tensors = []
  for (const name of src.keys()) {
    const values = await src.readF32(name)
    if (name === DECODER_OUT) for (let i = 0; i < values.length; i++) values[i] *= 0.5
    tensors.push({ name, dtype: 'F32' as const, shape: src.info(name).shape, data: encodeF32As('F32', values) })
  }
  await src.close()
  await writeSafetensors(otherVae, tensors)
})
after(() => rm(dir, { recursive: true, force: true }))

test('pipeline: the second pass samples and decodes on the hires model (its VAE decoder here), named in the infotext', async () => {
  const a = await loadModel(SD1, { threads: 1 })
  const b = await loadModel(otherVae, { threads: 1 })
  try {
    const req: HiresRequest = {
      prompt: PROMPT, negativePrompt: NEGATIVE, sampler: 'Euler', steps: 4, cfgScale: 7, seed: 5, rng: 'cpu', width: 64, height: 64, tokenizer,
      hires: { scale: 2, upscaler: 'Latent', steps: 3, denoisingStrength: 0.5 },
    }
    const [plain] = await txt2imgHires(a, req)
    const [switched] = await txt2imgHires(a, { ...req, hires: { ...req.hires, checkpointTitle: 'other-vae [0123456789]' } }, { hiresModel: { model: b } })
    assert.deepEqual(switched.latent, plain.latent, 'same UNet and text encoder: the same second-pass latents')
    const byB = await decodeOne(b, plain.latent, 0, [4, 16, 16])
    assert.deepEqual(switched.image.data, byB.image.data, 'decoded by the hires model\'s VAE')
    assert.notDeepEqual(switched.image.data, plain.image.data)
    assert.match(formatInfotext(switched.info), /Hires upscaler: Latent, Hires checkpoint: other-vae \[0123456789\]/)
    assert.doesNotMatch(formatInfotext(plain.info), /Hires checkpoint/)
  } finally {
    await a.release()
    await b.release()
  }
})

const REQ: GenerationRequest = {
  mode: 'txt2img', model: SD1, prompt: `${PROMPT} <lora:tinylora:0.8>`, negativePrompt: NEGATIVE, sampler: 'Euler', steps: 3, seed: 9, rng: 'cpu',
  width: 64, height: 64, hires: { scale: 2, upscaler: 'Lanczos', steps: 2, denoisingStrength: 0.5 },
  // merged on both models (the hires checkpoint's private copy is always merged; bypass rounds differently)
  loraMode: 'merge',
}
const resolver = (): ModelResolver => fileResolver({ lorasDir: ref('sd1', 'adapters') })

test('engine: a copy as the hires checkpoint (LoRA merged into it, its VAE encoding) gives the plain image; another family is refused', async () => {
  const engine = new Engine({ resolver: resolver(), tokenizerDir: TOKENIZER_DIR, hashCache: false, loader: (spec, opts) => loadModel(spec.file, { ...opts, threads: 1 }) })
  try {
    const plain = await engine.generate(REQ)
    const switched = await engine.generate({ ...REQ, hires: { ...REQ.hires, checkpoint: copy } })
    assert.deepEqual(switched.images[0].rgb, plain.images[0].rgb)
    const hash = (await hashFile(copy, ['autov2'], { cache: false })).autov2
    assert.match(switched.images[0].infotext, new RegExp(`Hires upscaler: Lanczos, Hires checkpoint: copy \\[${hash}\\]`))
    const other = await engine.generate({ ...REQ, hires: { ...REQ.hires, checkpoint: otherVae } })
    assert.notDeepEqual(other.images[0].rgb, plain.images[0].rgb, 'another VAE decoder: another picture')
    // the refiner gets the request's LoRAs too (A1111's networks apply to whichever model runs): a copy taking over
    // half way gives the refiner-less image bit for bit, and is named in the infotext
    const { hires: _hires, ...noHires } = REQ
    const single = await engine.generate(noHires)
    const refined = await engine.generate({ ...noHires, refiner: copy2, refinerSwitchAt: 0.5 })
    assert.deepEqual(refined.images[0].rgb, single.images[0].rgb)
    assert.match(refined.images[0].infotext, /Refiner: copy2 \[[0-9a-f]{10}\], Refiner switch at: 0\.5/)
    await assert.rejects(engine.generate({ ...REQ, hires: { ...REQ.hires, checkpoint: ref('sd2', 'tiny-sd2-v.safetensors') } }), {
      name: 'InputError', message: 'hires checkpoint tiny-sd2-v.safetensors is SD2, the first pass ran SD1: pick a checkpoint of the same family',
    })
  } finally {
    await engine.close()
  }
})

test('worker thread: the refiner, the hires checkpoint and a network upscaler reach the worker by the caller\'s names', async () => {
  const upscaler = join(dir, '4x-Tiny.safetensors')
  await writeEsrganSafetensors(upscaler, tinyEsrgan({ features: 4, growth: 2, blocks: 1, upsamples: 2, unshuffle: 1, seed: 3 }))
  const files = resolver()
  const client = new EngineClient({
    resolver: { ...files, upscaler: async (name) => (name === '4x-Tiny' ? upscaler : undefined) }, tokenizerDir: TOKENIZER_DIR, hashCache: false, threads: 1,
  })
  try {
    const r = await client.generate({ ...REQ, refiner: copy2, refinerSwitchAt: 0.5, hires: { ...REQ.hires, upscaler: '4x-Tiny', checkpoint: copy } })
    const info = r.images[0].infotext
    assert.match(info, /Hires upscaler: 4x-Tiny, Hires checkpoint: copy \[[0-9a-f]{10}\]/)
    assert.match(info, /Refiner: copy2 \[[0-9a-f]{10}\], Refiner switch at: 0\.5/, 'the refiner ran (it is named only after the switch)')
  } finally {
    await client.close()
  }
})
