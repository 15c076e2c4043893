/**
 * A1111 `parse_prompt_attention`: "(x)" ×1.1, "[x]" ÷1.1, "(x:1.3)" ×1.3, escapes "\( \) \[ \] \\", "BREAK".
 * Port of modules/prompt_parser.py (webui @ c8a5322d, v1.8.0 line).
 * https://github.com/AUTOMATIC1111/stable-diffusion-webui/blob/c8a5322d/modules/prompt_parser.py
 */
import { PY_SPACE, PY_WORD, requireFloat } from './py-text.ts'

/** A piece of prompt text and its weight. A BREAK is `{ text: 'BREAK', weight: -1 }` (A1111's ["BREAK", -1]). */
export interface WeightedText {
  readonly text: string
  readonly weight: number
}

export const isBreak = (t: WeightedText): boolean => t.text === 'BREAK' && t.weight === -1

// re_attention, in the same alternative order: escapes, brackets, ":weight)", close brackets, text, a lone ':'.
const ATTENTION_RE = new RegExp(
  '\\\\\\(|\\\\\\)|\\\\\\[|\\\\\\]|\\\\\\\\|\\\\|\\(|\\[|'
  + `:[${PY_SPACE}]*([+-]?[.\\p{Nd}]+)[${PY_SPACE}]*\\)|\\)|\\]|[^\\\\()\\[\\]:]+|:`, 'gu')
// re_break = r"\s*\bBREAK\b\s*" (re.S)
const BREAK_RE = new RegExp(`[${PY_SPACE}]*(?<![${PY_WORD}])BREAK(?![${PY_WORD}])[${PY_SPACE}]*`, 'u')

const ROUND = 1.1
const SQUARE = 1 / 1.1

interface Piece { text: string; weight: number }

/** Parses A1111 attention syntax into weighted pieces; adjacent pieces of equal weight are merged, as A1111 does. */
export function parsePromptAttention(prompt: string): WeightedText[] {
  const res: Piece[] = []
  const round: number[] = []
  const square: number[] = []
  const multiplyRange = (start: number, by: number): void => {
    for (let p = start; p < res.length; p++) res[p].weight *= by
  }
  for (const m of prompt.matchAll(ATTENTION_RE)) {
    const text = m[0]
    const weight = m[1]
    if (text.startsWith('\\')) res.push({ text: text.slice(1), weight: 1.0 })
    else if (text === '(') round.push(res.length)
    else if (text === '[') square.push(res.length)
    else if (weight !== undefined && round.length > 0) {
      multiplyRange(round.pop() as number, requireFloat(weight, `the weight in "${text}"`))
    } else if (text === ')' && round.length > 0) multiplyRange(round.pop() as number, ROUND)
    else if (text === ']' && square.length > 0) multiplyRange(square.pop() as number, SQUARE)
    else {
      text.split(BREAK_RE).forEach((part, i) => {
        if (i > 0) res.push({ text: 'BREAK', weight: -1 })
        res.push({ text: part, weight: 1.0 })
      })
    }
  }
  for (const pos of round) multiplyRange(pos, ROUND)
  for (const pos of square) multiplyRange(pos, SQUARE)
  if (res.length === 0) res.push({ text: '', weight: 1.0 })
  return mergeEqualWeights(res)
}

function mergeEqualWeights(res: Piece[]): WeightedText[] {
  let i = 0
  while (i + 1 < res.length) {
    if (res[i].weight === res[i + 1].weight) {
      res[i].text += res[i + 1].text
      res.splice(i + 1, 1)
    } else {
      i += 1
    }
  }
  return res
}
