/**
 * The model inspector: pick any library file and see what `sdloom inspect` says of it (kind, base architecture,
 * format, LoRA algorithm/rank/alpha, trigger tags, embedding vectors) with its hashes, computed on request.
 */
import { Fragment } from 'preact'
import { useState } from 'preact/hooks'
import { api } from './api.ts'
import type { LibraryEntry } from './types.ts'

interface Inspected {
  readonly rel: string; readonly kind: string; readonly size: number
  readonly hashes: { readonly sha256: string; readonly autov2: string; readonly autov3: string | null } | null
  readonly report: Record<string, unknown>
}

const show = (v: unknown): string => (typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v))

export function InspectorView({ library }: { readonly library: readonly LibraryEntry[] }) {
  const [file, setFile] = useState('')
  const [result, setResult] = useState<Inspected | undefined>()
  const [error, setError] = useState<string | undefined>()
  const [busy, setBusy] = useState(false)
  const run = (hash: boolean): void => {
    if (!file) return
    setBusy(true)
    setError(undefined)
    api<Inspected>(`/sdloom/v1/library/inspect?file=${encodeURIComponent(file)}${hash ? '&hash=1' : ''}`)
      .then(setResult, (e: Error) => { setResult(undefined); setError(e.message) }).finally(() => setBusy(false))
  }
  const r = result?.report
  const arch = r?.architecture as { label?: string; supported?: boolean; note?: string } | undefined
  return (
    <section class="inspector" aria-label="Model inspector">
      <div class="row">
        <label class="inline">Model file
          <select value={file} onChange={(e) => { setFile((e.currentTarget as HTMLSelectElement).value); setResult(undefined) }}>
            <option value="">choose…</option>
            {library.map((e) => <option key={e.file} value={e.file}>{e.kind}: {e.rel}</option>)}
          </select>
        </label>
        <button type="button" class="primary" disabled={!file || busy} onClick={() => run(false)}>Inspect</button>
        <button type="button" disabled={!file || busy} onClick={() => run(true)}>Inspect + hashes</button>
      </div>
      {error && <p class="error" role="alert">{error}</p>}
      {result && r && (
        <dl class="report" data-testid="inspect-report">
          <dt>File</dt><dd>{result.rel} ({(result.size / 1024 / 1024).toFixed(1)} MiB)</dd>
          <dt>Kind</dt><dd>{show(r.kind)}</dd>
          <dt>Format</dt><dd>{show(r.format)}</dd>
          {arch && <><dt>Base</dt><dd>{arch.label}{arch.supported === false ? ' (not supported)' : ''}{arch.note ? ` — ${arch.note}` : ''}</dd></>}
          {Object.entries(r).filter(([k]) => !['kind', 'format', 'architecture', 'file', 'fileSize'].includes(k)).map(([k, v]) => (
            <Fragment key={k}><dt>{k}</dt><dd><pre>{JSON.stringify(v, null, 1)}</pre></dd></Fragment>
          ))}
          <dt>Hashes</dt><dd>{result.hashes ? `SHA-256 ${result.hashes.sha256} · AutoV2 ${result.hashes.autov2}${result.hashes.autov3 ? ` · AutoV3 ${result.hashes.autov3}` : ''}` : 'not computed yet'}</dd>
        </dl>
      )}
    </section>
  )
}
