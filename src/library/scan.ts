/**
 * Walking the kind folders: every model file with its size, mtime and the sidecar files beside it. Only stat and
 * readdir here; what changed is decided by the caller against the table.
 */
import { readdir, stat } from 'node:fs/promises'
import { join, relative, sep } from 'node:path'
import { kindOfFile, type KindFolder, type LibraryKind } from './layout.ts'
import { sidecarNames, stemOf } from './sidecars.ts'

export interface FoundFile {
  readonly kind: LibraryKind
  /** Absolute path. */
  readonly file: string
  /** The kind folder it was found in (models/Lora, …). */
  readonly folder: string
  /** Path under that folder with '/' separators ("sub/name.safetensors"). */
  readonly rel: string
  readonly size: number
  readonly mtimeMs: number
  /** Names of the sidecar files beside it. */
  readonly sidecars: readonly string[]
  /** Sidecar names + mtimes: a change means they are read again, without inspecting the model. */
  readonly sidecarSig: string
}

async function sidecarSig(dir: string, names: readonly string[]): Promise<string> {
  const parts = await Promise.all(names.map(async (n) => `${n}@${(await stat(join(dir, n)).catch(() => undefined))?.mtimeMs ?? 0}`))
  return parts.join('|')
}

async function walkDir(folder: KindFolder, dir: string, out: FoundFile[]): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => [])
  // Symlinked files count as files (users link one model into several installs); symlinked folders are not followed,
  // so a link cycle cannot loop the scan.
  const names = new Set(entries.filter((e) => e.isFile() || e.isSymbolicLink()).map((e) => e.name))
  for (const e of entries) {
    const path = join(dir, e.name)
    if (e.isDirectory()) { await walkDir(folder, path, out); continue }
    if (!e.isFile() && !e.isSymbolicLink()) continue
    const kind = kindOfFile(folder.kind, e.name)
    if (kind === undefined) continue
    const st = await stat(path).catch(() => undefined)
    if (!st?.isFile()) continue
    const sidecars = sidecarNames(stemOf(e.name), names)
    out.push({
      kind, file: path, folder: folder.dir, rel: relative(folder.dir, path).split(sep).join('/'), size: st.size, mtimeMs: st.mtimeMs,
      sidecars, sidecarSig: await sidecarSig(dir, sidecars),
    })
  }
}

export async function walkFolders(folders: readonly KindFolder[]): Promise<FoundFile[]> {
  const out: FoundFile[] = []
  for (const f of folders) await walkDir(f, f.dir, out)
  return out
}
