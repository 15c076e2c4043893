/*
 * Variation seeds and "Resize seed from" through txt2img reproduce A1111's sd1/variation goldens: the slerped /
 * resized initial noise (x[0] = noise · sigma_max), every step's x and denoised, the final latent, PNG and infotext.
 */
import { test } from 'node:test'
import { txt2img } from '../../src/pipeline/txt2img.ts'
import { assertFinal, assertLatent, assertSteps, baseRequest, golden, modeEntries, modelFor, recorder } from './mode-goldens.ts'

for (const e of modeEntries('variation')) {
  const i = e.inputs
  test(`variation ${e.name}: initial noise, per-step states, latent, PNG and infotext`, async () => {
    const rec = recorder()
    const [img] = await txt2img(await modelFor(e), {
      ...baseRequest(e), subseed: i.subseed, subseedStrength: i.subseed_strength,
      ...(i.seed_resize_from_w ? { seedResizeFrom: { width: i.seed_resize_from_w, height: i.seed_resize_from_h } } : {}),
    }, rec.opts)
    const sigma0 = (await golden('variation', e, 'sigmas'))[0]
    assertLatent(rec.xs[0], (await golden('variation', e, 'noise')).map((v) => Math.fround(v * sigma0)), `${e.name} x[0] = noise · sigma_max`)
    await assertSteps('variation', e, rec)
    await assertFinal('variation', e, img)
  })
}
