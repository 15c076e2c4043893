/*
 * A LoRA given with `--lora FILE[:W[:W_UNET]]` is written into the saved prompt as A1111 users type it,
 * `<lora:NAME:W>` (or `<lora:NAME:TE:UNET>`), so the infotext reproduces the image in A1111 (whose "Lora hashes"
 * field only names the LoRAs the prompt calls). NAME is the file name without its extension, the name A1111 and
 * `sdloom --loras DIR` resolve; tags are appended after a space, as A1111's extra-networks cards add them
 * (extra_networks_add_text_separator, default " ").
 */
import { basename } from 'node:path'
import { parseLoraFlag } from '../pipeline/extra-networks-resolve.ts'

export function loraTag(flag: string): string {
  const l = parseLoraFlag(flag)
  const name = basename(l.file ?? '').replace(/\.(safetensors|pt|ckpt)$/i, '')
  return l.unet === l.te ? `<lora:${name}:${l.te}>` : `<lora:${name}:${l.te}:${l.unet}>`
}

/** The prompt the infotext records: the user's prompt with each --lora as a tag. */
export function promptWithLoraTags(prompt: string, flags: readonly string[]): string {
  return [prompt, ...flags.map(loraTag)].filter((p) => p !== '').join(' ')
}
