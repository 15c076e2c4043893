/**
 * The server's ModelResolver: names from requests (titles, names, hashes) become files of the model library only.
 * A path in a request is refused (library/names.ts), so no request reaches a file outside the library.
 */
import { stat } from 'node:fs/promises'
import type { ModelResolver } from '../engine/contract.ts'
import { findTaesd } from '../models/taesd/index.ts'
import type { Library } from '../library/library.ts'
import { findByName, LibraryNameError } from '../library/names.ts'
import { findUpscalerModels, type UpscalerModelFile } from '../pipeline/model-upscalers.ts'

export class LibraryResolver implements ModelResolver {
  constructor(private readonly library: Library) {}

  async checkpoint(ref: string): Promise<string> {
    return findByName(this.library.list('checkpoint'), 'checkpoint', ref).file
  }

  async vae(ref: string): Promise<string> {
    return findByName(this.library.list('vae'), 'vae', ref).file
  }

  async lora(name: string): Promise<string | undefined> {
    try {
      return findByName(this.library.list('lora'), 'lora', name).file
    } catch (e) {
      if (e instanceof LibraryNameError) return undefined
      throw e
    }
  }

  /** ESRGAN-family files of every root (models/ESRGAN by file name, models/RealESRGAN by A1111's names), listed afresh. */
  async upscalers(): Promise<UpscalerModelFile[]> {
    return (await Promise.all(this.library.layouts.map((l) => findUpscalerModels(l.root)))).flat()
  }

  /** An upscaler by its listed name only (the name is compared, never joined to a path). */
  async upscaler(name: string): Promise<string | undefined> {
    return (await this.upscalers()).find((u) => u.name === name)?.file
  }

  /**
   * The library's SHA-256 of a checkpoint (hashed once for its listing), trusted only while the file still has the
   * size and mtime it had when listed: a file replaced since the last scan is hashed again by the engine.
   */
  async knownSha256(file: string): Promise<string | undefined> {
    const e = this.library.entry(file)
    if (!e?.sha256) return undefined
    const st = await stat(file).catch(() => undefined)
    return st && st.size === e.size && st.mtimeMs === e.mtimeMs ? e.sha256 : undefined
  }

  /** A TAESD decoder for previews, where A1111 and ComfyUI keep it (models/VAE-approx, models/vae_approx) in any root. */
  async taesd(family: 'sd' | 'sdxl'): Promise<string | undefined> {
    return findTaesd({ family, part: 'decoder', roots: this.library.layouts.map((l) => l.root) })
  }

  /** The first root's embeddings folder (A1111 has one; extra roots' embeddings are listed but not loaded). */
  async embeddingsDir(): Promise<string | undefined> {
    return this.library.layouts.flatMap((l) => l.folders).find((f) => f.kind === 'embedding')?.dir
  }
}
