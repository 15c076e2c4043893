/**
 * The gallery of every saved image (newest first), searched by prompt text or model (both are in the infotext) and
 * by date; a click shows it full size with its parameters and "send to generate".
 */
import { useEffect, useState } from 'preact/hooks'
import { api } from './api.ts'
import { onJobEvent } from './events.ts'
import type { GalleryImage } from './types.ts'

/** The local calendar day (what a date input shows), as YYYY-MM-DD. */
const day = (t: number): string => {
  const d = new Date(t)
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`
}

export function HistoryView({ sendToGenerate }: { readonly sendToGenerate: (url: string) => void }) {
  const [images, setImages] = useState<GalleryImage[]>([])
  const [error, setError] = useState<string | undefined>()
  const [query, setQuery] = useState('')
  const [from, setFrom] = useState('')
  const [to, setTo] = useState('')
  const [open, setOpen] = useState<GalleryImage | undefined>()
  const load = (): void => { api<GalleryImage[]>('/sdloom/v1/images?limit=500').then(setImages, (e: Error) => setError(e.message)) }
  useEffect(() => { load(); return onJobEvent((e) => { if (e.type === 'settled') load() }) }, [])
  const q = query.trim().toLowerCase()
  const shown = images.filter((im) => im.url && (q === '' || im.infotext.toLowerCase().includes(q))
    && (from === '' || day(im.createdAt) >= from) && (to === '' || day(im.createdAt) <= to))
  return (
    <section class="history" aria-label="History">
      {error && <p class="error" role="alert">{error}</p>}
      <div class="row">
        <label class="inline">Search prompt or model <input type="search" value={query} onInput={(e) => setQuery((e.currentTarget as HTMLInputElement).value)} /></label>
        <label class="inline">From <input type="date" value={from} onInput={(e) => setFrom((e.currentTarget as HTMLInputElement).value)} /></label>
        <label class="inline">To <input type="date" value={to} onInput={(e) => setTo((e.currentTarget as HTMLInputElement).value)} /></label>
        <span class="hint">{shown.length} of {images.length}</span>
      </div>
      {open && (
        <div class="detail" role="dialog" aria-label="Image details">
          <img src={open.url!} alt={`Seed ${open.seed}`} />
          <pre class="infotext">{open.infotext}</pre>
          <div class="row">
            <button type="button" onClick={() => sendToGenerate(open.url!)}>Send to generate</button>
            <button type="button" onClick={() => setOpen(undefined)}>Close</button>
          </div>
        </div>
      )}
      <ul class="gallery">
        {shown.map((im) => (
          <li key={im.url}>
            <button type="button" class="thumb" onClick={() => setOpen(im)} aria-label={`Open image, seed ${im.seed}, ${new Date(im.createdAt).toLocaleString()}`}>
              <img loading="lazy" src={im.url!} alt="" />
            </button>
          </li>
        ))}
      </ul>
    </section>
  )
}
