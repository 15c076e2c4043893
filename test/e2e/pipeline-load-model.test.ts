/*
 * loadModel: what it refuses (with one clear message naming the file and what it is), a separate VAE file merged over
 * the checkpoint's, and how SD2's prediction is decided (flag > metadata > A1111's probe).
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openTensorFile } from '../../src/formats/open.ts'
import { writeSafetensors, type WriteTensor } from '../../src/formats/safetensors-writer.ts'
import { loadModel, predictionFromMetadata } from '../../src/pipeline/load-model.ts'
import { txt2img } from '../../src/pipeline/txt2img.ts'
import { tinyCheckpoint, tinyVae, writeSpecs } from '../fixtures/tiny-files.ts'
import { ref } from '../golden.ts'
import { goldenEntries, requestFor } from './pipeline-goldens.ts'

let root: string
before(async () => { root = await mkdtemp(join(tmpdir(), 'sdloom-load-')) })
after(async () => { await rm(root, { recursive: true, force: true }) })

test('refuses what is not a txt2img checkpoint, naming the file and what it is', async () => {
  const files = {
    vae: join(root, 'vae.safetensors'), refiner: join(root, 'refiner.safetensors'), inpaint: join(root, 'inpaint.safetensors'),
    other: join(root, 'other.safetensors'),
  }
  await tinyVae(files.vae)
  await tinyCheckpoint(files.refiner, { family: 'sdxl-refiner' })
  await tinyCheckpoint(files.inpaint, { family: 'sd1', inChannels: 9 })
  // 9-channel inpainting checkpoints load (img2img issue): the model carries its conditioning width.
  const inpaint = await loadModel(files.inpaint)
  assert.equal(inpaint.unetConfig.inChannels, 9)
  await inpaint.release()
  // SDXL refiner checkpoints load too (as the --refiner stage or on their own; test/e2e/sdxl-refiner.test.ts runs one)
  const refiner = await loadModel(files.refiner)
  assert.deepEqual([refiner.arch, refiner.identification.architecture.label, refiner.nativeSize], ['sdxl', 'SDXL refiner', 1024])
  await refiner.release()
  await writeSpecs(files.other, [{ name: 'foo.weight', dtype: 'F32', shape: [2] }])
  const cases: [string, string][] = [
    [ref('sd1', 'adapters', 'tinylora.safetensors'), 'tinylora.safetensors: is a LoRA (SD1.x), not a checkpoint. Hint: pass it with --lora FILE and a checkpoint with --model.'],
    [ref('sd1', 'adapters', 'embeddings', 'tinyemb.pt'), 'tinyemb.pt: is a textual-inversion embedding (embedding of non-standard width), not a checkpoint. '
      + 'Hint: put it in the --embeddings DIR and pass a checkpoint with --model.'],
    [files.vae, 'vae.safetensors: is a standalone VAE (SD-family VAE (4-channel latent)), not a full checkpoint (UNet + VAE + text encoder). '
      + 'Hint: pass it with --vae and a checkpoint with --model.'],
    [files.other, 'other.safetensors: is not a Stable Diffusion checkpoint: no UNet, VAE, text-encoder, LoRA or embedding keys found (1 tensors, first: "foo.weight").'],
  ]
  for (const [file, message] of cases) await assert.rejects(loadModel(file), { message }, file)
})

test('--vae: a separate VAE file (LDM names without prefix) replaces the built-in one; the same weights give the same image', async () => {
  const source = await openTensorFile(ref('sd1', 'tiny-sd1.safetensors'))
  const tensors: WriteTensor[] = []
  for (const k of source.keys().filter((x) => x.startsWith('first_stage_model.'))) {
    tensors.push({ name: k.slice('first_stage_model.'.length), dtype: 'F32', shape: source.info(k).shape, data: new Uint8Array((await source.readF32(k)).buffer) })
  }
  await source.close()
  const vae = join(root, 'tiny-vae.safetensors')
  await writeSafetensors(vae, tensors)
  const e = goldenEntries('sd1', 'sd1_goldens')[0]
  const plain = await loadModel(ref('sd1', 'tiny-sd1.safetensors'), { threads: 1 })
  const withVae = await loadModel(ref('sd1', 'tiny-sd1.safetensors'), { threads: 1, vae })
  try {
    assert.equal(withVae.vaeFile, vae)
    const [a] = await txt2img(plain, { ...requestFor(e), steps: 2 })
    const [b] = await txt2img(withVae, { ...requestFor(e), steps: 2 }, { vaeHash: '0123456789' })
    assert.deepEqual(b.image.data, a.image.data)
    assert.deepEqual([b.info.vae, b.info.vaeHash, a.info.vae], ['tiny-vae.safetensors', '0123456789', undefined])
  } finally {
    await plain.release()
    await withVae.release()
  }
  await assert.rejects(loadModel(ref('sd1', 'tiny-sd1.safetensors'), { vae: ref('sd1', 'adapters', 'tinylora.safetensors') }), {
    message: 'tinylora.safetensors: is not a VAE: no decoder weights ("decoder.conv_in.weight" or "first_stage_model.decoder.conv_in.weight"). Hint: --vae takes a VAE file such as vae-ft-mse-840000-ema-pruned.safetensors.',
  })
})

test('prediction from file metadata: modelspec.prediction_type, then kohya ss_v_parameterization', () => {
  assert.deepEqual(predictionFromMetadata({ 'modelspec.prediction_type': 'v' }), { value: 'v', source: 'metadata', detail: 'modelspec.prediction_type = v' })
  assert.deepEqual(predictionFromMetadata({ 'modelspec.prediction_type': 'epsilon', 'ss_v_parameterization': 'True' }),
    { value: 'eps', source: 'metadata', detail: 'modelspec.prediction_type = epsilon' })
  assert.deepEqual(predictionFromMetadata({ ss_v_parameterization: 'True' }), { value: 'v', source: 'metadata', detail: 'ss_v_parameterization = True' })
  assert.equal(predictionFromMetadata({ format: 'pt' }), undefined)
})

test('weights: UNet, text encoder and VAE decoder only, unless the VAE encoder is asked for (img2img)', async () => {
  const keys = async (vaeEncoder: boolean) => {
    const m = await loadModel(ref('sd1', 'tiny-sd1.safetensors'), { vaeEncoder })
    try { return [...m.weights.keys()] } finally { await m.release() }
  }
  const txt2img = await keys(false)
  assert.ok(txt2img.includes('first_stage_model.decoder.conv_in.weight') && txt2img.includes('first_stage_model.post_quant_conv.weight'))
  assert.deepEqual(txt2img.filter((k) => k.startsWith('first_stage_model.encoder.') || k.startsWith('first_stage_model.quant_conv.')), [])
  assert.ok((await keys(true)).includes('first_stage_model.encoder.conv_in.weight'))
})
