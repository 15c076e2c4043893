/*
 * A request's VAE on a loaded model, without reloading the checkpoint (A1111's sd_vae switch): the VAE weights of the
 * model's store are replaced and only the VAE sessions are rebuilt. Going back to the checkpoint's own VAE (or on to
 * another separate one) first reads the VAE tensors of the checkpoint file again, since a separate VAE file need not
 * hold every key the last one replaced; that read (~160 MB for SD1.5) is what a switch costs beyond the new VAE's.
 * Runs inside the model's queue: no job uses the VAE meanwhile.
 */
import { basename } from 'node:path'
import { openTensorFile } from '../formats/open.ts'
import { VAE_PREFIX } from '../models/vae/index.ts'
import type { WeightStore } from '../models/weights.ts'
import { mergeVae } from '../pipeline/load-model.ts'
import type { ModelHandle } from './model-handle.ts'
import { fastIdentity } from './model-identity.ts'

/** Which VAE a handle holds: the checkpoint's own (identity '') or a separate file's version. */
export interface HeldVae {
  readonly file?: string
  readonly identity: string
}

export const vaeIdentity = async (file: string | undefined): Promise<string> => (file === undefined ? '' : fastIdentity(file, 'vae'))

/** The VAE key prefixes the store holds: the decoder's, and the encoder's when it was loaded (img2img, inpainting). */
function heldVaePrefixes(weights: WeightStore): string[] {
  const keys = [...weights.keys()]
  return keys.some((k) => k.startsWith(`${VAE_PREFIX}encoder.`)) ? [VAE_PREFIX] : [`${VAE_PREFIX}decoder.`, `${VAE_PREFIX}post_quant_conv.`]
}

async function restoreCheckpointVae(weights: WeightStore, checkpoint: string, prefixes: readonly string[]): Promise<void> {
  const source = await openTensorFile(checkpoint)
  try { await weights.merge(source, { prefixes }) } finally { await source.close() }
}

/**
 * Makes `handle` hold `vae` (undefined: the checkpoint's own), read from `checkpoint` (a path whose content is the
 * handle's, checked by the cache) when the checkpoint's VAE is needed back. Returns a line for the log, or undefined
 * when the VAE was already the one held.
 */
export async function useVae(handle: ModelHandle, checkpoint: string, vae: string | undefined): Promise<string | undefined> {
  const identity = await vaeIdentity(vae)
  if (identity === handle.vae.identity) return undefined
  const { weights } = handle.model
  const prefixes = heldVaePrefixes(weights)
  if (handle.vae.identity !== '') await restoreCheckpointVae(weights, checkpoint, prefixes)
  if (vae !== undefined) await mergeVae(weights, vae, prefixes)
  await handle.model.releaseSessions('vae')
  handle.model = { ...handle.model, vaeFile: vae }
  handle.vae = { file: vae, identity }
  handle.hashes = undefined
  return `VAE switched to ${vae === undefined ? 'the checkpoint\'s own' : basename(vae)} (no reload)`
}
