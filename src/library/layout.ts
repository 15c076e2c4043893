/**
 * Where the model files of an A1111 or ComfyUI install live (ui-and-clients.md §4.1), detected from the folders
 * present under the root. Sub-folders are allowed everywhere; a kind's extensions follow A1111's scanners.
 */
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { InputError } from '../core/errors.ts'

export const LIBRARY_KINDS = ['checkpoint', 'lora', 'vae', 'embedding'] as const
export type LibraryKind = (typeof LIBRARY_KINDS)[number]

export interface KindFolder {
  readonly kind: LibraryKind
  /** Absolute folder. */
  readonly dir: string
}

export interface LibraryLayout {
  readonly root: string
  readonly flavor: 'a1111' | 'comfyui'
  readonly folders: readonly KindFolder[]
}

const FOLDERS: Record<LibraryLayout['flavor'], readonly { kind: LibraryKind; rel: string }[]> = {
  a1111: [
    { kind: 'checkpoint', rel: 'models/Stable-diffusion' }, { kind: 'lora', rel: 'models/Lora' }, { kind: 'lora', rel: 'models/LyCORIS' },
    { kind: 'vae', rel: 'models/VAE' }, { kind: 'embedding', rel: 'embeddings' },
  ],
  comfyui: [
    { kind: 'checkpoint', rel: 'models/checkpoints' }, { kind: 'lora', rel: 'models/loras' }, { kind: 'vae', rel: 'models/vae' },
    { kind: 'embedding', rel: 'models/embeddings' },
  ],
}

const EXTENSIONS: Record<LibraryKind, readonly string[]> = {
  checkpoint: ['.safetensors', '.ckpt'],
  lora: ['.safetensors', '.ckpt', '.pt'],
  vae: ['.safetensors', '.ckpt', '.pt'],
  embedding: ['.safetensors', '.pt', '.bin'],
}

const isDir = async (p: string): Promise<boolean> => (await stat(p).catch(() => undefined))?.isDirectory() ?? false

/** The kind a file in a kind folder has, or undefined when the scanner skips it (A1111: `*.vae.*` beside checkpoints are VAEs). */
export function kindOfFile(folderKind: LibraryKind, name: string): LibraryKind | undefined {
  const lower = name.toLowerCase()
  const ext = EXTENSIONS[folderKind].find((e) => lower.endsWith(e))
  if (ext === undefined) return undefined
  if (folderKind === 'checkpoint' && lower.slice(0, -ext.length).endsWith('.vae')) return EXTENSIONS.vae.includes(ext) ? 'vae' : undefined
  return folderKind
}

/** Detects the flavor from its folders; a root with neither layout is an error naming both. */
export async function detectLayout(root: string): Promise<LibraryLayout> {
  if (!(await isDir(root))) throw new InputError(`--models ${root}: not a folder. Hint: give the root of an A1111 or ComfyUI install`)
  for (const flavor of ['a1111', 'comfyui'] as const) {
    const present: KindFolder[] = []
    for (const f of FOLDERS[flavor]) if (await isDir(join(root, f.rel))) present.push({ kind: f.kind, dir: join(root, f.rel) })
    if (present.length > 0) return { root, flavor, folders: present }
  }
  throw new InputError(`--models ${root}: neither an A1111 root (models/Stable-diffusion, models/Lora, models/VAE, embeddings) `
    + `nor a ComfyUI root (models/checkpoints, models/loras, models/vae, models/embeddings) was found there`)
}
