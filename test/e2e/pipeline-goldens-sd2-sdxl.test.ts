/*
 * txt2img reproduces the SDXL sampler goldens from the single file (both encoders, pooled + size ids, LegacyDDPM
 * schedule since the file carries none, latent / 0.13025) and the SD2-v goldens (--prediction v; regenerated
 * well-conditioned at seed 1234, CFG 7 / 4: README "sd2/goldens/"). The SD2 run is also checked in its parts: the
 * pipeline's conditioning equals sample.cond/uncond, and the golden latent decodes to the golden image, uint8 and PNG.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { buildConditioning } from '../../src/pipeline/conditioning.ts'
import { txt2img } from '../../src/pipeline/txt2img.ts'
import { assertClose, ref, refTensors } from '../golden.ts'
import { KEEP, NEGATIVE, PROMPT, assertMatchesGolden, goldenEntries, requestFor, sharedModel, tokenizer } from './pipeline-goldens.ts'

const SD2 = ref('sd2', 'tiny-sd2-v.safetensors')
const SDXL = ref('sdxl', 'tiny-sdxl-base.safetensors')

for (const e of goldenEntries('sdxl', 'sdxl_goldens')) {
  test(`sdxl ${e.key}: latent, image, uint8 and PNG`, async () => {
    const [img] = await txt2img(await sharedModel(SDXL, { threads: 1 }), requestFor(e), KEEP)
    await assertMatchesGolden(img, 'sdxl', 'sdxl_goldens', e.key)
  })
}

for (const e of goldenEntries('sd2', 'sd2_goldens')) {
  test(`sd2 ${e.key} (--prediction v): latent, image, uint8 and PNG`, async () => {
    const [img] = await txt2img(await sharedModel(SD2, { threads: 1, prediction: 'v' }), requestFor(e), KEEP)
    await assertMatchesGolden(img, 'sd2', 'sd2_goldens', e.key)
  })
}

for (const e of goldenEntries('sd2', 'sd2_goldens')) {
  test(`sd2 ${e.key}: the golden latent decodes (latent / 0.18215, VAE, A1111 uint8) to the golden image and PNG`, async () => {
    const model = await sharedModel(SD2, { threads: 1, prediction: 'v' })
    const latent = await (await refTensors('sd2', 'goldens', 'sd2_goldens.safetensors')).readF32(`${e.key}.latent`)
    const z = latent.map((v) => Math.fround(v / model.vaeScale))
    const image = await (await model.vaeDecoder()).decode({ shape: [1, 4, e.height / 8, e.width / 8], data: z })
    await assertMatchesGolden({ image, latent }, 'sd2', 'sd2_goldens', e.key)
  })
}

test('sd2 and sdxl: the pipeline conditioning of the sampler runs equals sample.cond / sample.uncond', async () => {
  for (const [path, dir, goldens, suffix] of [[SD2, 'sd2', 'sd2_goldens', ''], [SDXL, 'sdxl', 'sdxl_goldens', '.crossattn']]) {
    const model = await sharedModel(path, { threads: 1, ...(dir === 'sd2' ? { prediction: 'v' } : {}) })
    const c = await buildConditioning(model, {
      prompt: PROMPT, negativePrompt: NEGATIVE, scheduleSteps: 8, clipSkip: 1, tokenizer, width: 64, height: 64,
    })
    const src = await refTensors(dir, 'goldens', `${goldens}.safetensors`)
    assertClose(c.condAt(0)[0].context, await src.readF32(`sample.cond${suffix}`), 1e-4, `${dir} cond`)
    assertClose(c.uncondAt(7).context, await src.readF32(`sample.uncond${suffix}`), 1e-4, `${dir} uncond`)
    if (dir === 'sdxl') {
      assertClose(c.condAt(0)[0].vector!, await src.readF32('sample.cond.vector'), 1e-4, 'sdxl cond vector')
      assertClose(c.uncondAt(0).vector!, await src.readF32('sample.uncond.vector'), 1e-4, 'sdxl uncond vector')
    }
  }
})

test('sdxl: an empty negative prompt is zeros in crossattn and pooled, size ids kept (A1111 a1111_cond.5)', async () => {
  const model = await sharedModel(SDXL, { threads: 1 })
  const c = await buildConditioning(model, { prompt: '', negativePrompt: '', scheduleSteps: 8, clipSkip: 1, tokenizer, width: 64, height: 64 })
  const src = await refTensors('sdxl', 'goldens', 'sdxl_goldens.safetensors')
  assertClose(c.uncondAt(0).context, await src.readF32('a1111_cond.5.crossattn'), 1e-4, 'empty negative crossattn')
  assertClose(c.uncondAt(0).vector!, await src.readF32('a1111_cond.5.vector'), 1e-4, 'empty negative vector')
  assertClose(c.condAt(0)[0].context, await src.readF32('a1111_cond.4.crossattn'), 1e-4, 'empty positive crossattn (not zeroed)')
})

test('prediction: SD2 takes --prediction, else A1111\'s probe (which reads this tiny random v-model as eps); SD1/SDXL are eps', async () => {
  assert.deepEqual((await sharedModel(SD2, { threads: 1, prediction: 'v' })).prediction, { value: 'v', source: 'flag', detail: '--prediction v' })
  const probed = await sharedModel(SD2, { threads: 1 })
  assert.equal(probed.prediction.source, 'probe')
  assert.equal(probed.prediction.value, 'eps')
  assert.equal(probed.nativeSize, 512)
  assert.equal((await sharedModel(SD2, { threads: 1, prediction: 'v' })).nativeSize, 768)
  const xl = await sharedModel(SDXL, { threads: 1 })
  assert.deepEqual([xl.arch, xl.prediction.value, xl.vaeScale, xl.nativeSize, xl.alphasCumprod], ['sdxl', 'eps', 0.13025, 1024, undefined])
})
