/**
 * A short, bounded preview of a parsed JSON value for error messages. JSON.stringify recurses: a hostile header
 * nested 100,000 levels deep overflows the stack inside the error path, and a 10 MB value would become a 10 MB
 * message. Shallow values print exactly as JSON.stringify prints them.
 */
const MAX_ITEMS = 8
const MAX_DEPTH = 3

function walk(v: unknown, depth: number): string {
  if (Array.isArray(v)) {
    if (depth >= MAX_DEPTH) return '[…]'
    const items = v.slice(0, MAX_ITEMS).map((x) => walk(x, depth + 1))
    return `[${items.join(',')}${v.length > MAX_ITEMS ? ',…' : ''}]`
  }
  if (typeof v === 'object' && v !== null) {
    if (depth >= MAX_DEPTH) return '{…}'
    const entries = Object.entries(v)
    const items = entries.slice(0, MAX_ITEMS).map(([k, x]) => `${JSON.stringify(clip(k, 40))}:${walk(x, depth + 1)}`)
    return `{${items.join(',')}${entries.length > MAX_ITEMS ? ',…' : ''}}`
  }
  return typeof v === 'string' ? JSON.stringify(clip(v, 60)) : String(JSON.stringify(v))
}

/** `s` cut to `max` characters with an ellipsis and the full length. */
export const clip = (s: string, max = 200): string => (s.length <= max ? s : `${s.slice(0, max)}… (${s.length} characters)`)

/** JSON.stringify for short values; nested or long ones are elided, so the result stays under ~200 characters. */
export const jsonPreview = (v: unknown, max = 200): string => clip(walk(v, 0), max)
