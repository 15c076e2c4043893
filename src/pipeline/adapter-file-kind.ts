/*
 * A file given as a LoRA (--lora FILE, <lora:NAME>) that is something else is refused by name before its tensors
 * are read: a 4 GB checkpoint passed as a LoRA used to be read whole, patch 0 layers, and generate as if nothing
 * was asked (issue #14). The header alone says what the file is (models/detect, as `sdloom inspect` shows it).
 */
import { basename } from 'node:path'
import { ModelMismatchError } from '../core/errors.ts'
import { openTensorFile } from '../formats/open.ts'
import { identifyModel } from '../models/detect/index.ts'

const WHAT: Readonly<Record<string, string>> = {
  'checkpoint': 'a full checkpoint', 'unet-only': 'a UNet (no VAE, no text encoder)', 'vae': 'a VAE', 'text-encoder': 'a text encoder',
  'controlnet': 'a ControlNet', 'embedding': 'a textual-inversion embedding',
}

const HINT: Readonly<Record<string, string>> = {
  'checkpoint': 'pass it with --model, or make a LoRA of its difference to its base with `sdloom lora extract`',
  'vae': 'pass it with --vae',
  'embedding': 'put it in the --embeddings DIR and write its file name in the prompt',
}

/** Throws ModelMismatchError when `file` is a model file of another kind; LoRAs and unrecognised files pass on. */
export async function refuseNonAdapter(file: string): Promise<void> {
  const source = await openTensorFile(file)
  let kind: string
  let label: string
  try {
    const id = identifyModel(source)
    kind = id.kind
    label = id.architecture.label
  } finally {
    await source.close()
  }
  const what = WHAT[kind]
  if (what === undefined) return // a LoRA, or a file the adapter reader reports on itself
  throw new ModelMismatchError(file, `is ${what} (${label}), not a LoRA: --lora and <lora:…> take LoRA/LyCORIS files. `
    + `Hint: ${HINT[kind] ?? `${basename(file)} cannot be used as an adapter`}.`)
}
