/*
 * The VAE encoder's weights read into a model loaded without them (loadModel reads only the decoder unless asked:
 * SD1.5's encoder is 136 MB of float32 a txt2img run never uses). A long-lived engine loads a checkpoint for txt2img
 * and adds the encoder the first time an img2img, inpainting or pixel-upscaler hires request needs it, instead of
 * holding a second copy of the model. The checkpoint's encoder first, then a separate VAE's over it, as loadModel.
 */
import { openTensorFile } from '../formats/open.ts'
import { VAE_PREFIX } from '../models/vae/index.ts'
import { mergeVae, type LoadedModel } from './load-model.ts'

const ENCODER_PREFIXES = [`${VAE_PREFIX}encoder.`, `${VAE_PREFIX}quant_conv.`]

export const hasVaeEncoder = (model: LoadedModel): boolean => model.weights.has(`${VAE_PREFIX}encoder.conv_in.weight`)

/** Reads the encoder weights unless the model holds them already (call it where no other job uses the model). */
export async function ensureVaeEncoder(model: LoadedModel): Promise<void> {
  if (hasVaeEncoder(model)) return
  const source = await openTensorFile(model.file)
  try {
    await model.weights.merge(source, { prefixes: ENCODER_PREFIXES })
  } finally {
    await source.close()
  }
  if (model.vaeFile) await mergeVae(model.weights, model.vaeFile, ENCODER_PREFIXES)
}
