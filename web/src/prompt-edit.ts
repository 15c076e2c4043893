/**
 * Prompt text edits of the extra-networks cards and the autocomplete: `<lora:NAME:W>` tags in and out (a second
 * click removes what the first inserted), a tag's weight changed in place, plain words (embedding names) toggled, and
 * the word being typed at the caret.
 */
const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

const loraRe = (name: string): RegExp => new RegExp(`\\s*,?\\s*<lora:${escapeRe(name)}(:[^>]*)?>`, 'g')

export function hasLora(prompt: string, name: string): boolean {
  return loraRe(name).test(prompt)
}

function append(prompt: string, piece: string): string {
  const t = prompt.trimEnd()
  return t === '' ? piece : `${t}${t.endsWith(',') ? ' ' : ', '}${piece}`
}

/** Adds `<lora:NAME:W>` or, when the prompt has one, removes it. */
export function toggleLora(prompt: string, name: string, weight: number): string {
  if (hasLora(prompt, name)) return prompt.replace(loraRe(name), '').replace(/^\s*,\s*/, '')
  return append(prompt, `<lora:${name}:${weight}>`)
}

/** Rewrites the weight of NAME's tag, if the prompt has it. */
export function setLoraWeight(prompt: string, name: string, weight: number): string {
  return prompt.replace(new RegExp(`<lora:${escapeRe(name)}(:[^>]*)?>`, 'g'), `<lora:${name}:${weight}>`)
}

const wordRe = (word: string): RegExp => new RegExp(`(^|[\\s,(])${escapeRe(word)}(?=$|[\\s,):])`)

export function hasWord(prompt: string, word: string): boolean {
  return wordRe(word).test(prompt)
}

/** Adds an embedding's name or, when present, removes it with its separator. */
export function toggleWord(prompt: string, word: string): string {
  if (!hasWord(prompt, word)) return append(prompt, word)
  return prompt.replace(new RegExp(`(^|,?\\s*)${escapeRe(word)}(?=$|[\\s,):])`), '').replace(/^\s*,\s*/, '').trim()
}

/** The word being typed before the caret: from the last separator (comma, paren, newline, '<'), trimmed. */
export function tokenAt(text: string, caret: number): { start: number; word: string } {
  const before = text.slice(0, caret)
  const start = Math.max(before.lastIndexOf(','), before.lastIndexOf('('), before.lastIndexOf('\n'), before.lastIndexOf('<') - 1) + 1
  const raw = before.slice(start)
  const lead = raw.length - raw.trimStart().length
  return { start: start + lead, word: raw.trimStart() }
}

export interface Edit { readonly text: string; readonly start: number; readonly end: number }

const round = (w: number): number => Math.round(w * 100) / 100

/**
 * A1111's Ctrl+↑/↓: inside `(words:W)` the weight moves by `delta` (at 1 the parentheses go); otherwise the
 * selection, or the word at the caret, becomes `(words:1±delta)`. The edited words stay selected.
 */
export function adjustWeight(text: string, start: number, end: number, delta: number): Edit {
  const open = text.lastIndexOf('(', start - 1)
  const close = text.indexOf(')', end)
  const inner = open >= 0 && close >= 0 ? text.slice(open + 1, close) : ''
  const m = /^([^()]*):(-?\d+(?:\.\d+)?)$/.exec(inner)
  if (m && !text.slice(open + 1, start).includes(')')) {
    const w = round(Number(m[2]) + delta)
    const words = m[1]
    const replaced = w === 1 ? words : `(${words}:${w})`
    const at = open + (w === 1 ? 0 : 1)
    return { text: text.slice(0, open) + replaced + text.slice(close + 1), start: at, end: at + words.length }
  }
  let [s, e] = [start, end]
  if (s === e) {
    while (s > 0 && !/[\s,()<>]/.test(text[s - 1])) s--
    while (e < text.length && !/[\s,()<>]/.test(text[e])) e++
  }
  if (s === e) return { text, start, end }
  const words = text.slice(s, e)
  return { text: `${text.slice(0, s)}(${words}:${round(1 + delta)})${text.slice(e)}`, start: s + 1, end: s + 1 + words.length }
}
