/*
 * Read-only memory maps of model files, so 16-bit weights can be used where the page cache already holds them.
 * On this VM, reading 2.13 GB into fresh memory costs ~8.5 s (the host backs each new guest page: ~9 s of system
 * time), mapping and touching the same cached file 0.7 s (BENCHMARKS.md "Load time: mapped 16-bit weights").
 *
 * Node has no mmap; @riaskov/mmap-io (an optional dependency, built at install) provides it. Where it is missing or
 * fails, `mapFile` returns undefined and readers fall back to reading into memory. A mapping is only made of a
 * regular file whose size is still the one its header was checked against; it lives as long as any view of it.
 * A file truncated while mapped would fault on access: sdloom's own tools replace files by renaming a new one
 * over them, which leaves the mapped old file intact.
 */
import { createRequire } from 'node:module'
import { closeSync, fstatSync, openSync } from 'node:fs'

interface MmapIo {
  map(size: number, protection: number, flags: number, fd: number, offset?: number, advise?: number): Buffer
  readonly PROT_READ: number
  readonly MAP_SHARED: number
  readonly MADV_WILLNEED: number
}

let mmapIo: MmapIo | null | undefined

function loadMmap(): MmapIo | null {
  if (mmapIo !== undefined) return mmapIo
  try {
    const mod = createRequire(import.meta.url)('@riaskov/mmap-io') as MmapIo | { default: MmapIo }
    mmapIo = 'default' in mod ? mod.default : mod
  } catch {
    mmapIo = null
  }
  return mmapIo
}

/** Whether files can be mapped here (the native module is installed); SDLOOM_NO_MMAP=1 turns mapping off. */
export const canMapFiles = (): boolean => process.env.SDLOOM_NO_MMAP !== '1' && loadMmap() !== null

/** The whole file, mapped read-only (bytes shared with the page cache), or undefined where mapping is unavailable. */
export function mapFile(file: string, expectedSize: number): Uint8Array | undefined {
  const io = canMapFiles() ? loadMmap() : null
  if (!io || expectedSize === 0) return undefined
  const fd = openSync(file, 'r')
  try {
    const st = fstatSync(fd)
    if (!st.isFile() || st.size !== expectedSize) return undefined
    const buf = io.map(expectedSize, io.PROT_READ, io.MAP_SHARED, fd, 0, io.MADV_WILLNEED)
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength)
  } catch {
    return undefined
  } finally {
    closeSync(fd)
  }
}
