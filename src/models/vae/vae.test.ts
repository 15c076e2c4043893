import { test } from 'node:test'
import assert from 'node:assert/strict'
import { assertClose, refTensors } from '../../../test/golden.ts'
import { InputError } from '../../core/errors.ts'
import { WeightStore } from '../weights.ts'
import { VAE_PREFIX, VaeDecoderSession, VaeEncoderSession } from './vae.ts'

const TOL = 1e-4

async function load(...model: string[]): Promise<WeightStore> {
  return WeightStore.load(await refTensors(...model), { prefixes: [VAE_PREFIX] })
}

async function checkDecode(model: string[], goldens: string[], names: string[]): Promise<VaeDecoderSession> {
  const dec = await VaeDecoderSession.create(await load(...model))
  const ref = await refTensors(...goldens)
  for (const name of names) {
    const zKey = `${name}.z`
    const z = { shape: [...ref.info(zKey).shape], data: await ref.readF32(zKey) }
    const image = await dec.decode(z)
    assert.deepEqual(image.shape, [...ref.info(`${name}.image`).shape])
    assertClose(image.data, await ref.readF32(`${name}.image`), TOL, `${goldens[0]} ${name}.image`)
  }
  return dec
}

test('SD1 VAE decode (8x8 and 12x8 latents) matches diffusers AutoencoderKL', async () => {
  const dec = await checkDecode(['sd1', 'tiny-sd1.safetensors'], ['sd1', 'goldens', 'sd1_goldens.safetensors'], ['vae.decode', 'vae.decode_nonsq'])
  assert.deepEqual({ ...dec.config }, {
    prefix: VAE_PREFIX, zChannels: 4, imageChannels: 3, convInChannels: 64, levels: [32, 64, 64, 64], blocksPerLevel: 3, attnLayout: 'conv',
  })
  await assert.rejects(dec.decode({ shape: [1, 3, 8, 8], data: new Float32Array(192) }),
    new InputError('VAE decode: expected [B, 4, H, W], got [1, 3, 8, 8]'))
  await dec.release()
})

test('SD2 VAE decode matches', async () => {
  await (await checkDecode(['sd2', 'tiny-sd2-v.safetensors'], ['sd2', 'goldens', 'sd2_goldens.safetensors'], ['vae.decode'])).release()
})

test('SDXL VAE decode of the sampler latents / 0.13025 gives the golden images', async () => {
  // sdxl/goldens has no vae.decode.* pair; sample.*.image = vae.decode(latent / 0.13025) before clamping.
  const dec = await VaeDecoderSession.create(await load('sdxl', 'tiny-sdxl-base.safetensors'))
  const ref = await refTensors('sdxl', 'goldens', 'sdxl_goldens.safetensors')
  for (const s of ['euler', 'dpmpp_2m_karras']) {
    const z = (await ref.readF32(`sample.${s}.64x64.latent`)).map((v) => v / 0.13025)
    const image = await dec.decode({ shape: [1, 4, 8, 8], data: z })
    assertClose(image.data, await ref.readF32(`sample.${s}.64x64.image`), TOL, `sdxl sample.${s}.64x64.image`)
  }
  await dec.release()
})

test('SD1 VAE encode gives the posterior mean and clamped logvar', async () => {
  const enc = await VaeEncoderSession.create(await load('sd1', 'tiny-sd1.safetensors'))
  assert.deepEqual([...enc.config.levels], [32, 64, 64, 64])
  assert.equal(enc.config.blocksPerLevel, 2)
  const ref = await refTensors('sd1', 'goldens', 'sd1_goldens.safetensors')
  const image = { shape: [...ref.info('vae.encode.image').shape], data: await ref.readF32('vae.encode.image') }
  const out = await enc.encode(image)
  assert.deepEqual(out.mean.shape, [...ref.info('vae.encode.mean').shape])
  assertClose(out.mean.data, await ref.readF32('vae.encode.mean'), TOL, 'vae.encode.mean')
  assertClose(out.logvar.data, await ref.readF32('vae.encode.logvar'), TOL, 'vae.encode.logvar')
  await assert.rejects(enc.encode({ shape: [1, 3, 60, 64], data: new Float32Array(3 * 60 * 64) }),
    new InputError('VAE encode: expected [B, 3, H, W] with H and W multiples of 8, got [1, 3, 60, 64]'))
  await enc.release()
})
