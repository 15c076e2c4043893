/*
 * Hires fix reproduces A1111's sd1/hires goldens (64 → 128, denoise 0.7; "Latent", "Latent (nearest-exact)",
 * "Lanczos"; hires steps 0 and 3): the upscaled latent (or the Lanczos-upscaled picture and its encoding), every
 * second-pass step, the final latent, the PNG and the infotext.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { txt2imgHires } from '../../src/pipeline/hires.ts'
import { encodePicture } from '../../src/pipeline/encode-picture.ts'
import { upscaleLatent } from '../../src/image/latent-upscale.ts'
import { LANCZOS_UPSCALER, upscaleTo } from '../../src/image/pixel-upscale.ts'
import { assertFinal, assertLatent, assertSteps, baseRequest, golden, goldenBytes, modeEntries, modelFor, recorder } from './mode-goldens.ts'

for (const e of modeEntries('hires')) {
  const i = e.inputs
  test(`hires ${e.name}: upscale, second-pass steps, latent, PNG and infotext`, async () => {
    const model = await modelFor(e)
    const first = await golden('hires', e, 'first.latent')
    if (i.hires_upscaler === 'Lanczos') {
      const small = { width: 64, height: 64, channels: 3 as const, data: await goldenBytes('hires', e, 'first.decoded_uint8') }
      const big = await upscaleTo(small, 128, 128, LANCZOS_UPSCALER)
      assert.deepEqual(big.data, await goldenBytes('hires', e, 'upscaled_uint8'), 'upscaled_uint8')
      assertLatent(await encodePicture(model, big), await golden('hires', e, 'hr.init_latent'), 'hr.init_latent')
    } else {
      assertLatent(upscaleLatent(first, [1, 4, 8, 8], 16, 16, i.hires_upscaler), await golden('hires', e, 'hr.init_latent'), 'hr.init_latent')
    }
    const rec = recorder()
    const hires = { scale: i.hires_scale, upscaler: i.hires_upscaler, steps: i.hires_steps, denoisingStrength: i.hires_denoise }
    const [img] = await txt2imgHires(model, { ...baseRequest(e), hires }, rec.opts)
    const sigma0 = (await golden('hires', e, 'first.sigmas'))[0]
    assertLatent(rec.xs[0], (await golden('hires', e, 'noise')).map((v) => Math.fround(v * sigma0)), 'first pass x[0] = noise · sigma_max')
    await assertSteps('hires', e, rec, { prefix: 'hr.', offset: i.steps })
    await assertFinal('hires', e, img)
  })
}
