/*
 * The adapter flags of `sdloom generate` (--lora, --loras, --embeddings, --strict) → what txt2img needs: the
 * embeddings for the prompt chunker/encoders and the infotext's Lora/TI hashes. The work is the adapters layer's
 * (pipeline/adapters.ts); this is the seam the CLI and the server call.
 */
import { InputError } from '../core/errors.ts'
import type { NetworkHash } from '../image/infotext.ts'
import { parseExtraNetworks } from '../prompt/index.ts'
import type { PromptEmbeddings } from './conditioning.ts'
import type { LoadedModel } from './load-model.ts'

export interface AdapterFlags {
  /** `--lora FILE[:W[:W_UNET]]`, repeatable. */
  readonly loras: readonly string[]
  readonly lorasDir?: string
  readonly embeddingsDir?: string
  readonly strict: boolean
}

export interface PreparedAdapters {
  readonly embeddings?: PromptEmbeddings
  readonly loraHashes?: readonly NetworkHash[]
  readonly tiHashes?: readonly NetworkHash[]
}

export async function prepareGenerateAdapters(_model: LoadedModel, prompt: string, flags: AdapterFlags,
  log: (line: string) => void): Promise<PreparedAdapters> {
  const calls = parseExtraNetworks(prompt).loras
  if (flags.loras.length > 0 || flags.lorasDir || flags.embeddingsDir) {
    throw new InputError('--lora, --loras and --embeddings are not available in this build yet (the adapters layer is being wired in)')
  }
  if (calls.length > 0) log(`warning: ${calls.map((c) => `<lora:${c.name}>`).join(', ')} in the prompt ignored: no --loras DIR given`)
  return {}
}
