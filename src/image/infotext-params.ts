/**
 * The `key: value` pairs of an infotext's parameter line: A1111's infotext_utils.re_param, run by findall,
 *   \s*([\w][\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)
 * found by one left-to-right scan instead of a backtracking regex. As a regex it is quadratic on a line of words
 * with no ':' (every start re-scans the key run to its end; 4,000 characters took 16 s), and a PNG upload or a pasted
 * infotext chooses its last line. The scan gives the regex's matches exactly (infotext-params.test.ts compares them).
 */
const SPACE = /\s*/uy
const KEY_FIRST = /[\p{L}\p{N}_]/uy
const KEY_RUN = /[\p{L}\p{N}_ \-/]+/uy
const LINE_TERMINATOR = /[\n\r\u2028\u2029]/

const endOf = (re: RegExp, s: string, at: number): number => {
  re.lastIndex = at
  return re.exec(s) ? re.lastIndex : at
}

/** `"(?:\\.|[^\\"])+"(?:,|$)` at `at`: the end of the quoted value, or -1 (then `[^,]*` applies). */
function quotedEnd(s: string, at: number): number {
  if (s[at] !== '"') return -1
  let i = at + 1
  for (;;) {
    if (s[i] === '\\' && i + 1 < s.length && !LINE_TERMINATOR.test(s[i + 1])) i += 2
    else if (i < s.length && s[i] !== '\\' && s[i] !== '"') i += 1
    else break
  }
  if (i === at + 1 || s[i] !== '"') return -1
  return i + 1 === s.length || s[i + 1] === ',' ? i + 1 : -1
}

/** The index after the code point at `i` (findall over a /u regex starts only at code point boundaries). */
const nextIndex = (s: string, i: number): number => {
  const c = s.charCodeAt(i)
  return c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00 ? i + 2 : i + 1
}

/** One match at `at`: the pair and where the next search starts, or `skipTo`, the first start that could match. */
function matchAt(s: string, at: number): { pair: [string, string]; next: number } | { skipTo: number } {
  const q = endOf(SPACE, s, at)
  if (endOf(KEY_FIRST, s, q) === q) return { skipTo: nextIndex(s, q) }
  const j = endOf(KEY_RUN, s, q)
  // Every start in [at, j) reaches the same key run, so none can match if this one does not.
  if (s[j] !== ':' || [...s.slice(q, j)].length < 2) return { skipTo: Math.max(j, nextIndex(s, at)) }
  const v = endOf(SPACE, s, j + 1)
  const quoted = quotedEnd(s, v)
  const end = quoted >= 0 ? quoted : (s.indexOf(',', v) + 1 || s.length + 1) - 1
  return { pair: [s.slice(q, j), s.slice(v, end)], next: end < s.length ? end + 1 : end }
}

/** Every `[key, raw value]` of `line`, as `line.matchAll(re_param)` finds them. */
export function paramPairs(line: string): [string, string][] {
  const out: [string, string][] = []
  for (let at = 0; at < line.length;) {
    const m = matchAt(line, at)
    if ('skipTo' in m) { at = m.skipTo; continue }
    out.push(m.pair)
    at = m.next
  }
  return out
}
