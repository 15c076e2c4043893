/*
 * The adapter flags of `sdloom generate` (--lora, --loras, --embeddings, --strict) → what txt2img needs: the
 * embeddings for the prompt chunker/encoders and the infotext's Lora/TI hashes. The work is the adapters layer's
 * (pipeline/adapters.ts prepareAdapters); this is the seam the CLI (and later the server) calls. It always runs, so a
 * call without adapters gives the model back its base weights.
 */
import type { NetworkHash } from '../image/infotext.ts'
import type { ClipTokenizer } from '../prompt/index.ts'
import { prepareAdapters, type AdapterMode, type AdaptersReport } from './adapters.ts'
import type { PromptEmbeddings } from './conditioning.ts'
import { loraRequestsFromPrompt, parseLoraFlag } from './extra-networks-resolve.ts'
import type { LoadedModel } from './load-model.ts'

export interface AdapterFlags {
  /** `--lora FILE[:W[:W_UNET]]`, repeatable. */
  readonly loras: readonly string[]
  readonly lorasDir?: string
  readonly embeddingsDir?: string
  readonly strict: boolean
  /** --lora-mode (default merge): see AdapterRequest.mode. */
  readonly mode?: AdapterMode
  /** The model is used for this run only (the CLI): LoRAs are merged into its base weights in place (AdapterRequest.oneShot). */
  readonly oneShot?: boolean
  /** Layers merged of the total, while a one-shot merge runs. */
  readonly onProgress?: (done: number, total: number) => void
}

export interface GenerateAdapters {
  readonly embeddings: PromptEmbeddings
  /** Live lists: TI hashes fill as the conditioning uses embeddings. */
  readonly loraHashes: readonly NetworkHash[]
  readonly tiHashes: readonly NetworkHash[]
  readonly report: AdaptersReport
}

export async function prepareGenerateAdapters(model: LoadedModel, prompt: string, flags: AdapterFlags, tokenizer: ClipTokenizer,
  log: (line: string) => void): Promise<GenerateAdapters> {
  const prepared = await prepareAdapters(model, {
    loras: [...flags.loras.map(parseLoraFlag), ...loraRequestsFromPrompt(prompt)],
    lorasDir: flags.lorasDir, embeddingsDir: flags.embeddingsDir, strict: flags.strict, tokenizer, mode: flags.mode, oneShot: flags.oneShot, onProgress: flags.onProgress,
  }, log)
  return { embeddings: prepared.embeddings, ...prepared.infotext, report: prepared.report }
}
