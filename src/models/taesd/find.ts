/*
 * Where TAESD files live: A1111 keeps them in `models/VAE-approx/` (taesd_decoder.pt, taesdxl_decoder.pt), ComfyUI
 * in `models/vae_approx/` (taesd_decoder.pth / .safetensors, taesdxl_…). An explicit path (`--taesd FILE`) wins.
 */
import { existsSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { InputError } from '../../core/errors.ts'

export const TAESD_FOLDERS = ['VAE-approx', 'vae_approx'] as const
const EXTENSIONS = ['safetensors', 'pth', 'pt'] as const

/** SD1/SD2 latents use `taesd_*`, SDXL latents `taesdxl_*` (same architecture, other weights). */
export type TaesdFamily = 'sd' | 'sdxl'

export interface FindTaesdOptions {
  readonly family: TaesdFamily
  readonly part: 'decoder' | 'encoder'
  /** An explicit file: used as given (a missing file is an error, never a silent search instead). */
  readonly file?: string
  /** Folders holding `models/` (default: the working directory). */
  readonly roots?: readonly string[]
}

const isFile = (p: string): boolean => existsSync(p) && statSync(p).isFile()

/** The TAESD file to use, or undefined when none is installed (callers fall back to the cheap preview, and say so). */
export function findTaesd(opts: FindTaesdOptions): string | undefined {
  if (opts.file !== undefined) {
    if (!isFile(opts.file)) throw new InputError(`--taesd: ${opts.file} is not a file. Hint: give a taesd_${opts.part}.pth or .safetensors file.`)
    return opts.file
  }
  const stem = `${opts.family === 'sdxl' ? 'taesdxl' : 'taesd'}_${opts.part}`
  for (const root of opts.roots ?? [process.cwd()]) {
    for (const folder of TAESD_FOLDERS) {
      for (const ext of EXTENSIONS) {
        const p = join(root, 'models', folder, `${stem}.${ext}`)
        if (isFile(p)) return p
      }
    }
  }
  return undefined
}
