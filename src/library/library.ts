/**
 * The model library: the files of one or more A1111/ComfyUI roots, indexed in SQLite. A scan re-inspects only the
 * files whose size or mtime changed (sidecars are re-read when theirs change); a file that fails to inspect is listed
 * with its error. Hashes are computed on first use and kept until the file changes. Scans never overlap: a request
 * during a scan gets one more scan after it.
 */
import { watch, type FSWatcher } from 'node:fs'
import { SdError } from '../core/errors.ts'
import { hashFile } from '../tools/hash.ts'
import { inspectSummary } from './inspect-summary.ts'
import { detectLayout, type LibraryKind, type LibraryLayout } from './layout.ts'
import { LibraryTable, type LibraryEntry } from './library-db.ts'
import { readSidecars } from './sidecars.ts'
import { walkFolders, type FoundFile } from './scan.ts'
import type Database from 'better-sqlite3'

export interface ScanReport {
  readonly files: number
  readonly inspected: number
  readonly sidecarsRead: number
  readonly removed: number
  readonly errors: number
  readonly ms: number
}

/** A message fit to show a client: SdErrors name the file by its base name; anything else says only what failed. */
const describe = (e: unknown): string => (e instanceof SdError ? e.message : `cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).name})`)

export class Library {
  private scanning: Promise<ScanReport> | undefined
  private followUp: Promise<ScanReport> | undefined
  /** The table's rows, parsed once per change: the metadata routes read this, not SQLite. */
  private snapshot: LibraryEntry[] | undefined
  private watchers: FSWatcher[] = []
  private readonly table: LibraryTable

  private constructor(db: Database.Database, readonly layouts: readonly LibraryLayout[]) {
    this.table = new LibraryTable(db)
  }

  /** Detects each root's layout (an error names a root that is neither A1111 nor ComfyUI). Does not scan. */
  static async open(db: Database.Database, roots: readonly string[]): Promise<Library> {
    const layouts: LibraryLayout[] = []
    for (const r of roots) layouts.push(await detectLayout(r))
    return new Library(db, layouts)
  }

  /** Every entry (or those of one kind), ordered by kind and relative path; served from memory between changes. */
  list(kind?: LibraryKind): LibraryEntry[] {
    this.snapshot ??= this.table.all()
    return kind ? this.snapshot.filter((e) => e.kind === kind) : [...this.snapshot]
  }

  entry(file: string): LibraryEntry | undefined {
    return this.list().find((e) => e.file === file)
  }

  /** Scans now, or once more after the scan in progress. */
  scan(): Promise<ScanReport> {
    if (this.scanning) {
      this.followUp ??= this.scanning.catch(() => undefined).then(() => { this.followUp = undefined; return this.scan() })
      return this.followUp
    }
    this.scanning = this.scanOnce().finally(() => { this.scanning = undefined })
    return this.scanning
  }

  private async scanOnce(): Promise<ScanReport> {
    const t0 = performance.now()
    const found = await walkFolders(this.layouts.flatMap((l) => l.folders))
    const known = new Map(this.table.all().map((e) => [e.file, e]))
    const changed: LibraryEntry[] = []
    let inspected = 0
    for (const f of found) {
      const old = known.get(f.file)
      if (old && old.size === f.size && old.mtimeMs === f.mtimeMs && old.kind === f.kind) {
        if (old.sidecarSig !== f.sidecarSig) changed.push({ ...old, sidecars: await readSidecars(f.file, f.sidecars), sidecarSig: f.sidecarSig })
        continue
      }
      changed.push(await this.inspectOne(f))
      inspected++
    }
    this.table.putAll(changed)
    const present = new Set(found.map((f) => f.file))
    const gone = [...known.keys()].filter((p) => !present.has(p))
    this.table.remove(gone)
    this.snapshot = undefined
    const ms = performance.now() - t0
    return { files: found.length, inspected, sidecarsRead: changed.length - inspected, removed: gone.length, errors: this.table.errorCount(), ms }
  }

  private async inspectOne(f: FoundFile): Promise<LibraryEntry> {
    const base = { kind: f.kind, file: f.file, folder: f.folder, rel: f.rel, size: f.size, mtimeMs: f.mtimeMs, sidecarSig: f.sidecarSig }
    const sidecars = await readSidecars(f.file, f.sidecars)
    try {
      return { ...base, sidecars, inspect: await inspectSummary(f.file) }
    } catch (e) {
      return { ...base, sidecars, error: describe(e) }
    }
  }

  /** sha256 + AutoV3 of a library file, computed once per content (size + mtime) and kept in the table. */
  async hashes(entry: LibraryEntry): Promise<{ sha256: string; autov2: string; autov3: string }> {
    if (entry.sha256 && entry.autov3) return { sha256: entry.sha256, autov2: entry.sha256.slice(0, 10), autov3: entry.autov3 }
    const h = await hashFile(entry.file, ['sha256', 'autov3'], { cache: false })
    this.table.setHashes(entry.file, entry.size, entry.mtimeMs, h)
    this.snapshot = undefined
    return { ...h, autov2: h.sha256.slice(0, 10) }
  }

  /** Rescans (debounced) when files change under any kind folder. */
  watch(onScan: (r: ScanReport | Error) => void, debounceMs = 500): void {
    let timer: NodeJS.Timeout | undefined
    const kick = (): void => {
      clearTimeout(timer)
      timer = setTimeout(() => { this.scan().then(onScan, onScan) }, debounceMs)
    }
    for (const f of this.layouts.flatMap((l) => l.folders)) {
      const w = watch(f.dir, { recursive: true, persistent: false }, kick)
      w.on('error', (e) => onScan(e))
      this.watchers.push(w)
    }
  }

  close(): void {
    for (const w of this.watchers) w.close()
    this.watchers = []
  }
}
