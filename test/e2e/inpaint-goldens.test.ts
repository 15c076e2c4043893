/*
 * Inpainting reproduces A1111's sd1/inpaint goldens: plain model (latent blend at every call) over whole picture /
 * only masked × the four masked-content fills, the 9-channel inpainting checkpoint (c_concat), and txt2img with the
 * inpainting checkpoint. Per-step x and (blended) denoised, the final latent, the decoded picture and the composite PNG.
 */
import { test } from 'node:test'
import { img2img } from '../../src/pipeline/img2img.ts'
import { txt2img } from '../../src/pipeline/txt2img.ts'
import { inpaintConditioning } from '../../src/pipeline/image-conditioning.ts'
import { prepareInpaintPicture } from '../../src/image/inpaint-prep.ts'
import { assertFinal, assertLatent, assertSteps, baseRequest, golden, img2imgRequest, modeEntries, modelFor, recorder } from './mode-goldens.ts'

for (const e of modeEntries('inpaint')) {
  test(`inpaint ${e.name}: per-step states, latent, decoded picture and composite`, async () => {
    const model = await modelFor(e)
    const rec = recorder()
    if (e.kind === 'txt2img') {
      const [img] = await txt2img(model, baseRequest(e), rec.opts)
      await assertSteps('inpaint', e, rec)
      return assertFinal('inpaint', e, img)
    }
    const req = await img2imgRequest('inpaint', e)
    if (e.arrays[`${e.name}.image_conditioning`] && req.inpaint) {
      const prep = prepareInpaintPicture(req.init, req.inpaint.mask, {
        width: 64, height: 64, resizeMode: 'just', maskBlur: 4, invertMask: false, fill: req.inpaint.fill ?? 'original',
        ...(req.inpaint.onlyMasked ? { onlyMasked: { padding: 32 } } : {}),
      })
      const ic = await inpaintConditioning(model, prep.picture, prep.mask, 1)
      assertLatent(ic.data, await golden('inpaint', e, 'image_conditioning'), `${e.name} image_conditioning`)
    }
    const [img] = await img2img(model, req, rec.opts)
    await assertSteps('inpaint', e, rec)
    await assertFinal('inpaint', e, img, req.inpaint?.onlyMasked ? 2 : 1)
  })
}
