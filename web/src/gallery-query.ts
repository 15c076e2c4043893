/** The history's filter as a /sdloom/v1/images query (the server searches and pages; the page only asks). */

/** Images a page (the server allows up to 500). */
export const PAGE = 100

export interface Filter { readonly query: string; readonly from: string; readonly to: string }

/** The gallery query for a filter: dates are the browser's local days; `to` includes its whole day. */
export function galleryQuery(f: Filter, before?: string): string {
  const q = new URLSearchParams({ limit: String(PAGE), saved: 'true' })
  if (f.query.trim()) q.set('q', f.query.trim())
  if (f.from) q.set('since', String(new Date(`${f.from}T00:00:00`).getTime()))
  if (f.to) { const end = new Date(`${f.to}T00:00:00`); end.setDate(end.getDate() + 1); q.set('until', String(end.getTime())) }
  if (before) q.set('before', before)
  return `/sdloom/v1/images?${q}`
}
