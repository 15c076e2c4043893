/**
 * Python's `html.unescape` (CPython 3.11 Lib/html/__init__.py), which open_clip's tokenizer applies twice after
 * ftfy, and the stricter entity fixer of ftfy 6.3.1 (`fixes.unescape_html`, default "auto" mode).
 * https://github.com/python/cpython/blob/v3.11.7/Lib/html/__init__.py
 * https://github.com/rspeer/python-ftfy/blob/v6.3.1/ftfy/fixes.py
 */
import { HTML5_ENTITIES, INVALID_CHARREFS, INVALID_CODEPOINTS } from './html-entities.ts'

// Python: r'&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)'
const CHARREF_RE = /&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)/gu

function numericCharref(body: string): string {
  const digits = body.replace(/;$/, '')
  const num = body[1] === 'x' || body[1] === 'X' ? parseInt(digits.slice(2), 16) : parseInt(digits.slice(1), 10)
  const replaced = INVALID_CHARREFS.get(num)
  if (replaced !== undefined) return replaced
  if ((num >= 0xd800 && num <= 0xdfff) || num > 0x10ffff) return '\ufffd'
  if (INVALID_CODEPOINTS.has(num)) return ''
  return String.fromCodePoint(num)
}

function namedCharref(body: string): string {
  const exact = HTML5_ENTITIES.get(body)
  if (exact !== undefined) return exact
  // The spec's longest-prefix rule: "&notit;" → "¬it;". Prefixes are counted in code points, as Python slices.
  const chars = [...body]
  for (let x = chars.length - 1; x > 1; x--) {
    const prefix = HTML5_ENTITIES.get(chars.slice(0, x).join(''))
    if (prefix !== undefined) return prefix + chars.slice(x).join('')
  }
  return '&' + body
}

/** Python `html.unescape`: named and numeric character references → text. */
export function htmlUnescape(text: string): string {
  if (!text.includes('&')) return text
  return text.replace(CHARREF_RE, (_m, body: string) => (body[0] === '#' ? numericCharref(body) : namedCharref(body)))
}

/** ftfy's own entity table: only names with ';', plus UPPERCASE forms of lowercase names that mean nothing else. */
function buildFtfyEntities(): ReadonlyMap<string, string> {
  const entities = new Map<string, string>()
  for (const [name, char] of HTML5_ENTITIES) {
    if (!name.endsWith(';')) continue
    entities.set('&' + name, char)
    if (name === name.toLowerCase()) {
      const upper = '&' + name.toUpperCase()
      if (htmlUnescape(upper) === upper) entities.set(upper, char.toUpperCase())
    }
  }
  return entities
}

let ftfyEntities: ReadonlyMap<string, string> | undefined
const FTFY_ENTITY_RE = /&#?[0-9A-Za-z]{1,24};/g

/** ftfy `unescape_html`: complete entities only; a numeric one that does not resolve stays as written. */
export function ftfyUnescapeHtml(text: string): string {
  if (!text.includes('&')) return text
  ftfyEntities ??= buildFtfyEntities()
  const table = ftfyEntities
  return text.replace(FTFY_ENTITY_RE, (match) => {
    const named = table.get(match)
    if (named !== undefined) return named
    if (match.startsWith('&#')) {
      const unescaped = htmlUnescape(match)
      return unescaped.includes(';') ? match : unescaped
    }
    return match
  })
}
