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
