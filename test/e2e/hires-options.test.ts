/*
 * Hires fix's second-pass options (A1111 hr_prompt, hr_negative_prompt, hr_sampler_name, hr_scheduler, hr_cfg):
 * given equal to the first pass's they change nothing (the sd1/hires golden still passes and no field is written);
 * given different, the first pass is untouched, the second pass runs with its own sampler schedule, and the infotext
 * carries A1111's fields in A1111's order.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { formatInfotext } from '../../src/image/infotext.ts'
import { txt2imgHires } from '../../src/pipeline/hires.ts'
import { resolveSampler, samplerSigmas, img2imgSigmas, type KDiffusionSampler } from '../../src/sampling/index.ts'
import { assertFinal, baseRequest, modeEntries, modelFor } from './mode-goldens.ts'

const entry = modeEntries('hires').find((e) => e.name === 'latent_euler_a_hr3')!
const hiresOf = (e: typeof entry) => ({ scale: e.inputs.hires_scale, upscaler: e.inputs.hires_upscaler, steps: e.inputs.hires_steps, denoisingStrength: e.inputs.hires_denoise })

test('hires options equal to the first pass\'s give the golden image and write no Hires prompt/sampler/CFG fields', async () => {
  const model = await modelFor(entry)
  const base = baseRequest(entry)
  const hires = { ...hiresOf(entry), prompt: base.prompt, negativePrompt: base.negativePrompt, sampler: base.sampler, cfgScale: base.cfgScale }
  const [img] = await txt2imgHires(model, { ...base, hires })
  await assertFinal('hires', entry, img)
  assert.doesNotMatch(formatInfotext(img.info), /Hires (prompt|negative prompt|sampler|schedule type|CFG Scale)/)
})

test('hires prompt, negative prompt, sampler, schedule type and CFG: first pass unchanged, second pass on its own schedule, A1111 fields', async () => {
  const model = await modelFor(entry)
  const base = baseRequest(entry)
  const run = async (hires: Record<string, unknown>) => {
    const sigmas: number[] = []
    const xs: Float32Array[] = []
    const [img] = await txt2imgHires(model, { ...base, hires: { ...hiresOf(entry), ...hires } }, {
      keepSessions: true, onProgress: (p) => { sigmas.push(p.sigma); xs.push(p.x.slice()) },
    })
    return { img, sigmas, xs }
  }
  const plain = await run({})
  const own = await run({ prompt: 'a photo of a dog', negativePrompt: 'ugly', sampler: 'DPM++ 2M', scheduler: 'Karras', cfgScale: 4 })
  const first = entry.inputs.steps as number
  for (let i = 0; i < first; i++) assert.deepEqual(own.xs[i], plain.xs[i], `first pass step ${i}`)
  assert.notDeepEqual(own.img.latent, plain.img.latent)
  // the second pass: DPM++ 2M on the Karras schedule, explicit hires steps (A1111 setup_img2img_steps)
  const dpm = resolveSampler('DPM++ 2M') as KDiffusionSampler
  const steps = entry.inputs.hires_steps as number
  const full = samplerSigmas(dpm, 'karras', { steps: Math.trunc(steps / Math.min(entry.inputs.hires_denoise, 0.999)), alphasCumprod: model.alphasCumprod, parameterization: model.prediction.value })
  const expected = img2imgSigmas(full, entry.inputs.hires_denoise, steps).slice(0, -1)
  assert.deepEqual(own.sigmas.slice(first), [...expected])
  const fields = formatInfotext(own.img.info).split('\n')[2]
  assert.match(fields, /, Hires upscale: 2, Hires steps: 3, Hires upscaler: Latent, Hires sampler: DPM\+\+ 2M, Hires prompt: a photo of a dog, Hires negative prompt: ugly, Hires schedule type: Karras, Hires CFG Scale: 4, /)
  assert.doesNotMatch(formatInfotext(plain.img.info), /Hires (prompt|sampler|schedule type|CFG Scale)/)
})
