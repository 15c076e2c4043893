/**
 * The gallery of every saved image (newest first), a page at a time: scrolling to the end (or "Load more") asks the
 * server for the images after the last one shown (`before` = its cursor). Search by prompt text or model (both are
 * in the infotext) and the date range are the server's query, so they reach images far past the first page.
 * A click shows the image full size with its parameters, "send to generate" and "send to img2img".
 */
import { useEffect, useRef, useState } from 'preact/hooks'
import { api } from './api.ts'
import { onJobEvent } from './events.ts'
import { galleryQuery, PAGE, type Filter } from './gallery-query.ts'
import type { GalleryImage } from './types.ts'

interface Props {
  readonly sendToGenerate: (url: string) => void
  readonly sendToImg2img: (url: string) => void
}

export function HistoryView({ sendToGenerate, sendToImg2img }: Props) {
  const [images, setImages] = useState<GalleryImage[]>([])
  const [complete, setComplete] = useState(false)
  const [loading, setLoading] = useState(false)
  const [error, setError] = useState<string | undefined>()
  const [filter, setFilter] = useState<Filter>({ query: '', from: '', to: '' })
  const [open, setOpen] = useState<GalleryImage | undefined>()
  const sentinel = useRef<HTMLLIElement>(null)
  // Which filter the shown images answer (a slow page for an old filter is dropped).
  const generation = useRef(0)

  const fetchPage = (f: Filter, after: GalleryImage | undefined): void => {
    const gen = generation.current
    setLoading(true)
    api<GalleryImage[]>(galleryQuery(f, after?.cursor)).then((page) => {
      if (gen !== generation.current) return
      setImages((old) => (after ? [...old, ...page] : page))
      setComplete(page.length < PAGE)
      setError(undefined)
    }, (e: Error) => setError(e.message)).finally(() => { if (gen === generation.current) setLoading(false) })
  }
  // A new filter starts over from the newest image (typing waits a moment so each key is not a query).
  useEffect(() => {
    generation.current++
    const t = setTimeout(() => fetchPage(filter, undefined), filter.query ? 250 : 0)
    return () => clearTimeout(t)
  }, [filter])
  // New images arrive at the top; pages already loaded stay.
  useEffect(() => onJobEvent((e) => {
    if (e.type !== 'settled') return
    api<GalleryImage[]>(galleryQuery(filter)).then((page) => setImages((old) => {
      const known = new Set(old.map((im) => im.cursor))
      return [...page.filter((im) => !known.has(im.cursor) && (old.length === 0 || im.createdAt >= old[0]!.createdAt)), ...old]
    }), (err: Error) => setError(err.message))
  }), [filter])
  const more = (): void => { if (!loading && !complete) fetchPage(filter, images.at(-1)) }
  // Scrolling the last thumbnail into view loads the next page.
  useEffect(() => {
    const el = sentinel.current
    if (!el || complete) return undefined
    const io = new IntersectionObserver((entries) => { if (entries.some((x) => x.isIntersecting)) more() }, { rootMargin: '400px' })
    io.observe(el)
    return () => io.disconnect()
  })
  const edit = (patch: Partial<Filter>): void => setFilter((f) => ({ ...f, ...patch }))
  const value = (e: Event): string => (e.currentTarget as HTMLInputElement).value

  return (
    <section class="history" aria-label="History">
      {error && <p class="error" role="alert">{error}</p>}
      <div class="row">
        <label class="inline">Search prompt or model <input type="search" value={filter.query} onInput={(e) => edit({ query: value(e) })} /></label>
        <label class="inline">From <input type="date" value={filter.from} onInput={(e) => edit({ from: value(e) })} /></label>
        <label class="inline">To <input type="date" value={filter.to} onInput={(e) => edit({ to: value(e) })} /></label>
        <span class="hint" data-testid="history-count">{images.length}{complete ? '' : '+'} image(s)</span>
      </div>
      {open && (
        <div class="detail" role="dialog" aria-label="Image details">
          <img src={open.url!} alt={`Seed ${open.seed}`} />
          <pre class="infotext">{open.infotext}</pre>
          <div class="row">
            <button type="button" onClick={() => sendToGenerate(open.url!)}>Send to generate</button>
            <button type="button" onClick={() => sendToImg2img(open.url!)}>Send to img2img</button>
            <button type="button" onClick={() => setOpen(undefined)}>Close</button>
          </div>
        </div>
      )}
      <ul class="gallery">
        {images.map((im) => (
          <li key={im.cursor}>
            <button type="button" class="thumb" onClick={() => setOpen(im)} aria-label={`Open image, seed ${im.seed}, ${new Date(im.createdAt).toLocaleString()}`}>
              <img loading="lazy" src={im.url!} alt="" />
            </button>
          </li>
        ))}
        {!complete && <li ref={sentinel} class="gallery-end"><button type="button" disabled={loading} onClick={more}>{loading ? 'Loading…' : 'Load more'}</button></li>}
      </ul>
    </section>
  )
}
