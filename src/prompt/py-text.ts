/**
 * Python string semantics that A1111's prompt code relies on, for regexes written in JS: `\s`, `\w`, `\b` and `\d`
 * of Python's `re` on str patterns are Unicode-wide, and `float()` / `int()` accept more than JS's Number().
 */
import { InputError } from '../core/errors.ts'

/** Python `\s` on str (str.isspace): JS's `\s` differs (it has U+FEFF, lacks U+001C..U+001F and U+0085). */
export const PY_SPACE = '\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000'
/** Python `\w` on str: letters, numbers and '_' (JS's `\w` is ASCII only even with the u flag). */
export const PY_WORD = '\\p{L}\\p{N}_'

/** Python `\bWORD\b` for a word made of `\w` characters. */
export const pyWordRe = (word: string, flags = 'gu'): RegExp =>
  new RegExp(`(?<![${PY_WORD}])${word}(?![${PY_WORD}])`, flags)

const DIGIT_RE = /\p{Nd}/u

/** Maps any Unicode decimal digit to its ASCII digit (Python's float()/int() accept them all). */
function asciiDigits(text: string): string {
  let out = ''
  for (const ch of text) {
    if (ch >= '0' && ch <= '9' || !DIGIT_RE.test(ch)) { out += ch; continue }
    // Nd characters come in runs of ten starting at their zero; walk back to the start of the run.
    let cp = ch.codePointAt(0) as number
    let zero = cp
    while (DIGIT_RE.test(String.fromCodePoint(zero - 1))) zero--
    cp = (cp - zero) % 10
    out += String(cp)
  }
  return out
}

const PY_SPACE_EDGES = new RegExp(`^[${PY_SPACE}]+|[${PY_SPACE}]+$`, 'gu')
const FLOAT_RE = /^[+-]?(?:(?:\d(?:_?\d)*)?\.\d(?:_?\d)*|\d(?:_?\d)*\.?)(?:[eE][+-]?\d(?:_?\d)*)?$/
const SPECIAL_RE = /^([+-]?)(inf|infinity|nan)$/i

/** Python `float(text)`; undefined where Python raises ValueError. */
export function pyFloat(text: string): number | undefined {
  const t = asciiDigits(text.replace(PY_SPACE_EDGES, ''))
  const special = SPECIAL_RE.exec(t)
  if (special) return special[2].toLowerCase() === 'nan' ? NaN : (special[1] === '-' ? -Infinity : Infinity)
  return FLOAT_RE.test(t) ? Number(t.replaceAll('_', '')) : undefined
}

/** Python `int(text)` for base-10 text; undefined where Python raises ValueError. */
export function pyInt(text: string): number | undefined {
  const t = asciiDigits(text.replace(PY_SPACE_EDGES, ''))
  return /^[+-]?\d(?:_?\d)*$/.test(t) ? Number(t.replaceAll('_', '')) : undefined
}

/** `float(text)` where A1111 would fail with ValueError: an InputError naming the prompt and the bad number. */
export function requireFloat(text: string, what: string): number {
  const value = pyFloat(text)
  if (value === undefined) {
    throw new InputError(`prompt: ${what}: "${text}" is not a number (A1111 fails on it too). Hint: write a plain `
      + 'decimal number such as 1.2.')
  }
  return value
}
