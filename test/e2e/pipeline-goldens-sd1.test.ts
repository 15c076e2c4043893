/*
 * txt2img (prompt → conditioning → sampler → UNet → VAE → uint8) reproduces every sd1 sampler golden at 64x64 and
 * h96w64 from the single .safetensors file, and the Euler runs from the fp16 .ckpt too (same numbers by design).
 */
import { test } from 'node:test'
import { txt2img } from '../../src/pipeline/txt2img.ts'
import { ref } from '../golden.ts'
import { KEEP, assertMatchesGolden, goldenEntries, requestFor, sharedModel } from './pipeline-goldens.ts'

const SAFETENSORS = ref('sd1', 'tiny-sd1.safetensors')
const CKPT = ref('sd1', 'tiny-sd1.ckpt')

for (const e of goldenEntries('sd1', 'sd1_goldens')) {
  test(`sd1 ${e.key}: latent, image, uint8 and PNG`, async () => {
    const [img] = await txt2img(await sharedModel(SAFETENSORS, { threads: 1 }), requestFor(e), KEEP)
    await assertMatchesGolden(img, 'sd1', 'sd1_goldens', e.key)
  })
}

for (const e of goldenEntries('sd1', 'sd1_goldens').filter((x) => x.sampler === 'euler')) {
  test(`sd1 ${e.key} from tiny-sd1.ckpt (fp16 pickle)`, async () => {
    const [img] = await txt2img(await sharedModel(CKPT, { threads: 1 }), requestFor(e), KEEP)
    await assertMatchesGolden(img, 'sd1', 'sd1_goldens', e.key)
  })
}
