/**
 * The library's table: one row per model file, keyed by absolute path. size + mtime decide whether a file must be
 * inspected again; the hashes are cleared whenever they change (so a cached hash always belongs to the bytes on disk).
 */
import type Database from 'better-sqlite3'
import type { LibraryKind } from './layout.ts'
import type { InspectSummary } from './inspect-summary.ts'
import type { Sidecars } from './sidecars.ts'
import type { FoundFile } from './scan.ts'

/** A model file as the table holds it: where it was found (scan.ts FoundFile) plus what was learnt about it. */
export interface LibraryEntry extends Omit<FoundFile, 'sidecars'> {
  readonly inspect?: InspectSummary
  /** Why inspect failed (the file is listed, never dropped). */
  readonly error?: string
  readonly sha256?: string
  /** AutoV3: sha256 of a safetensors file's data after the header (12 hex), or of the whole file otherwise. */
  readonly autov3?: string
  readonly sidecars: Sidecars
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS library_files (
  path TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  folder TEXT NOT NULL,
  rel TEXT NOT NULL,
  size INTEGER NOT NULL,
  mtime_ms REAL NOT NULL,
  inspect TEXT,
  error TEXT,
  sha256 TEXT,
  autov3 TEXT,
  sidecars TEXT NOT NULL,
  sidecar_sig TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS library_by_kind ON library_files (kind, rel);
`

interface Row {
  path: string; kind: LibraryKind; folder: string; rel: string; size: number; mtime_ms: number; inspect: string | null
  error: string | null; sha256: string | null; autov3: string | null; sidecars: string; sidecar_sig: string
}

const toEntry = (r: Row): LibraryEntry => ({
  kind: r.kind, file: r.path, folder: r.folder, rel: r.rel, size: r.size, mtimeMs: r.mtime_ms,
  ...(r.inspect !== null ? { inspect: JSON.parse(r.inspect) as InspectSummary } : {}),
  ...(r.error !== null ? { error: r.error } : {}),
  ...(r.sha256 !== null ? { sha256: r.sha256 } : {}),
  ...(r.autov3 !== null ? { autov3: r.autov3 } : {}),
  sidecars: JSON.parse(r.sidecars) as Sidecars, sidecarSig: r.sidecar_sig,
})

export class LibraryTable {
  constructor(private readonly db: Database.Database) {
    db.exec(SCHEMA)
  }

  all(kind?: LibraryKind): LibraryEntry[] {
    const rows = kind
      ? this.db.prepare('SELECT * FROM library_files WHERE kind = ? ORDER BY rel').all(kind)
      : this.db.prepare('SELECT * FROM library_files ORDER BY kind, rel').all()
    return (rows as Row[]).map(toEntry)
  }

  /**
   * Inserts or replaces rows in one transaction (one fsync, not one per file); a row's hashes survive only when its
   * size and mtime are unchanged.
   */
  putAll(entries: readonly LibraryEntry[]): void {
    const ins = this.db.prepare(`INSERT INTO library_files (path, kind, folder, rel, size, mtime_ms, inspect, error, sha256, autov3, sidecars, sidecar_sig)
      VALUES (@file, @kind, @folder, @rel, @size, @mtimeMs, @inspect, @error, NULL, NULL, @sidecars, @sidecarSig)
      ON CONFLICT (path) DO UPDATE SET kind = excluded.kind, folder = excluded.folder, rel = excluded.rel, inspect = excluded.inspect,
        error = excluded.error, sidecars = excluded.sidecars, sidecar_sig = excluded.sidecar_sig,
        sha256 = CASE WHEN size = excluded.size AND mtime_ms = excluded.mtime_ms THEN sha256 END,
        autov3 = CASE WHEN size = excluded.size AND mtime_ms = excluded.mtime_ms THEN autov3 END,
        size = excluded.size, mtime_ms = excluded.mtime_ms`)
    this.db.transaction(() => {
      for (const e of entries) {
        ins.run({ ...e, inspect: e.inspect ? JSON.stringify(e.inspect) : null, error: e.error ?? null, sidecars: JSON.stringify(e.sidecars) })
      }
    })()
  }

  errorCount(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM library_files WHERE error IS NOT NULL').get() as { n: number }).n
  }


  setHashes(file: string, size: number, mtimeMs: number, h: { sha256: string; autov3: string }): void {
    this.db.prepare('UPDATE library_files SET sha256 = ?, autov3 = ? WHERE path = ? AND size = ? AND mtime_ms = ?').run(h.sha256, h.autov3, file, size, mtimeMs)
  }

  remove(files: readonly string[]): void {
    const del = this.db.prepare('DELETE FROM library_files WHERE path = ?')
    this.db.transaction(() => { for (const f of files) del.run(f) })()
  }

  paths(): Set<string> {
    return new Set((this.db.prepare('SELECT path FROM library_files').all() as { path: string }[]).map((r) => r.path))
  }
}
