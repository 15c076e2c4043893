/*
 * The resolver of a caller that names files itself (the CLI, scripts, tests): checkpoints and VAEs are paths; a LoRA
 * is a path when it names a network file (`--lora FILE`), else a name looked up in the LoRA folder as A1111 does
 * (pipeline/extra-networks-resolve.ts: file stem, then `ss_output_name` alias; an unknown name lists close names).
 * TAESD preview decoders are found as `generate --preview` finds them (models/taesd/find.ts).
 * A server uses its library's resolver instead, which never takes a path from a request.
 */
import { extname } from 'node:path'
import { InputError } from '../core/errors.ts'
import { findTaesd } from '../models/taesd/index.ts'
import { listNetworks, NETWORK_EXTENSIONS, resolveNetworkName } from '../pipeline/extra-networks-resolve.ts'
import type { ModelResolver } from './contract.ts'

export interface FileResolverOptions {
  /** Where `<lora:NAME>` is looked up (--loras). */
  readonly lorasDir?: string
  /** Textual-inversion embeddings (--embeddings). */
  readonly embeddingsDir?: string
  /** Folders holding `models/VAE-approx` or `models/vae_approx` with TAESD decoders (default: the working directory). */
  readonly taesdRoots?: readonly string[]
}

export function fileResolver(opts: FileResolverOptions = {}): ModelResolver {
  let available: Promise<Map<string, string>> | undefined
  return {
    checkpoint: async (ref) => ref,
    vae: async (ref) => ref,
    async lora(name) {
      if (NETWORK_EXTENSIONS.includes(extname(name).toLowerCase()) || /[\\/]/.test(name)) return name
      const dir = opts.lorasDir
      if (dir === undefined) {
        throw new InputError(`the prompt uses <lora:${name}> but no LoRA folder was given. Hint: add --loras DIR, or pass the file with --lora FILE:WEIGHT.`)
      }
      available ??= listNetworks(dir)
      return resolveNetworkName(name, await available, dir)
    },
    embeddingsDir: async () => opts.embeddingsDir,
    taesd: async (family) => findTaesd({ family, part: 'decoder', roots: opts.taesdRoots }),
  }
}
