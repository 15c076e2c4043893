/*
 * img2img reproduces A1111's sd1/img2img goldens (3 resize modes × Euler a / DPM++ 2M Karras × denoise 0.75 / 0.3):
 * the encoded init picture (posterior mean × 0.18215), every sampler step's x and denoised, the final latent, the PNG.
 */
import { test } from 'node:test'
import { img2img } from '../../src/pipeline/img2img.ts'
import { encodePicture } from '../../src/pipeline/encode-picture.ts'
import { assertFinal, assertLatent, assertSteps, golden, goldenBytes, img2imgRequest, modeEntries, modelFor, recorder } from './mode-goldens.ts'

for (const e of modeEntries('img2img')) {
  test(`img2img ${e.name}: encoded latent, per-step states, latent and PNG`, async () => {
    const model = await modelFor(e)
    const picture = { width: 64, height: 64, channels: 3 as const, data: await goldenBytes('img2img', e, 'init_uint8') }
    assertLatent(await encodePicture(model, picture), await golden('img2img', e, 'encoded_latent'), `${e.name} encoded_latent`)
    const rec = recorder()
    const [img] = await img2img(model, await img2imgRequest('img2img', e), rec.opts)
    await assertSteps('img2img', e, rec)
    await assertFinal('img2img', e, img)
  })
}
