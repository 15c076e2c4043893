/**
 * How A1111 names library files, and how a name in a request finds its file. Requests carry names only: a title,
 * a relative name, a stem, a hash. A name is matched against the library's own list, so no request can reach a file
 * outside it; a `..` or an absolute path is refused outright with a clear error.
 *   checkpoint  title "sub/name.safetensors [autov2]" (hash only once known), model_name "sub_name" (sd_models.py)
 *   vae         model_name = base name with extension (sd_vae.py)
 *   lora        name = stem, alias = kohya ss_output_name (Lora extension networks.py)
 *   embedding   name = stem (textual_inversion.py)
 */
import { InputError, SdError } from '../core/errors.ts'
import type { LibraryKind } from './layout.ts'
import type { LibraryEntry } from './library-db.ts'
import { stemOf } from './sidecars.ts'

/** A name in a request that matches no library file of that kind. */
export class LibraryNameError extends SdError {
  override name = 'LibraryNameError'
  constructor(readonly kind: LibraryKind, readonly ref: string, known: readonly string[]) {
    super(`no ${kind} named "${ref}" in the model library${known.length ? `; known: ${known.slice(0, 8).map((k) => `"${k}"`).join(', ')}${known.length > 8 ? ', …' : ''}` : ' (it has none)'}. `
      + 'Hint: use a name from the list endpoint (for checkpoints, /sdapi/v1/sd-models); refresh it after adding files')
  }
}

const baseName = (rel: string): string => rel.slice(rel.lastIndexOf('/') + 1)

export const checkpointTitle = (e: LibraryEntry): string => (e.sha256 ? `${e.rel} [${e.sha256.slice(0, 10)}]` : e.rel)
export const checkpointModelName = (e: LibraryEntry): string => stemOf(e.rel.replaceAll('/', '_'))
export const vaeModelName = (e: LibraryEntry): string => baseName(e.rel)
export const networkName = (e: LibraryEntry): string => stemOf(baseName(e.rel))
export const loraAlias = (e: LibraryEntry): string => e.inspect?.outputName ?? networkName(e)

/** Every name A1111 accepts for an entry (checkpoint_aliases and friends). */
export function aliases(e: LibraryEntry): string[] {
  const hashes = e.sha256 ? [e.sha256, e.sha256.slice(0, 10)] : []
  switch (e.kind) {
    case 'checkpoint': return [checkpointTitle(e), e.rel, `${e.rel} [${e.sha256?.slice(0, 10) ?? ''}]`, checkpointModelName(e), networkName(e), ...hashes]
    case 'vae': return [vaeModelName(e), e.rel, networkName(e), ...hashes]
    case 'lora': return [networkName(e), loraAlias(e), stemOf(e.rel), ...hashes, ...(e.autov3 ? [e.autov3] : [])]
    case 'embedding': return [networkName(e), stemOf(e.rel)]
  }
}

/** Refuses anything path-like that is not a plain relative name. */
export function assertPlainName(kind: LibraryKind, ref: string): void {
  const parts = ref.split(/[\\/]/)
  if (ref.startsWith('/') || ref.startsWith('\\') || /^[a-zA-Z]:/.test(ref) || parts.includes('..') || ref.includes('\0')) {
    throw new InputError(`${kind} "${ref}": a name from the model library is expected, not a path. Hint: list names with the matching /sdapi/v1 endpoint`)
  }
}

/** The entry a name refers to: exact alias first, then case-insensitive (A1111 titles are matched exactly; clients vary). */
export function findByName(entries: readonly LibraryEntry[], kind: LibraryKind, ref: string): LibraryEntry {
  assertPlainName(kind, ref)
  const trimmed = ref.trim()
  const usable = entries.filter((e) => e.kind === kind)
  const hit = usable.find((e) => aliases(e).includes(trimmed))
    ?? usable.find((e) => aliases(e).some((a) => a.toLowerCase() === trimmed.toLowerCase()))
  if (!hit) throw new LibraryNameError(kind, ref, usable.map((e) => (kind === 'checkpoint' ? checkpointTitle(e) : networkName(e))))
  return hit
}
