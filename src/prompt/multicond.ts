/**
 * A1111 composable diffusion: `get_multicond_prompt_list` splits a prompt at the word AND and reads a trailing
 * ":weight" of each part (so "a cat AND a dog :1.5" is "a cat" ×1 and " a dog" ×1.5; a trailing ":1.2" outside any
 * bracket is an AND weight even without AND). Parts with the same text share one entry.
 * https://github.com/AUTOMATIC1111/stable-diffusion-webui/blob/c8a5322d/modules/prompt_parser.py
 */
import { PY_SPACE, pyFloat, pyWordRe } from './py-text.ts'

export interface WeightedPart {
  /** Index into `texts`. */
  readonly index: number
  readonly weight: number
}

export interface MulticondPrompts {
  /** Per input prompt, its AND-parts in order. */
  readonly parts: readonly (readonly WeightedPart[])[]
  /** The distinct part texts (A1111 `prompt_flat_list`), each to be scheduled and encoded once. */
  readonly texts: readonly string[]
}

const AND_RE = pyWordRe('AND', 'u')
// re_weight = r"^((?:\s|.)*?)(?:\s*:\s*([-+]?(?:\d+\.?|\d*\.\d+)))?\s*$" (Python's `$` also matches before a final
// '\n', which the `\s*` in front of it already covers). Run as a regex, the lazy prefix retries the `\s*$` tail at
// every position: quadratic in a long run of spaces (20,000 spaces took 4.6 s). The same match, found directly:
// strip trailing space; the weight, if any, is what follows the last ':' before it.
const IS_SPACE = new RegExp(`[${PY_SPACE}]`, 'u')
const NUMBER_RE = /^[-+]?(?:\p{Nd}+\.?|\p{Nd}*\.\p{Nd}+)$/u

/** Splits one AND-part into its text and weight (default 1). */
export function splitAndWeight(part: string): { text: string; weight: number } {
  const isSpace = (i: number): boolean => IS_SPACE.test(part[i])
  let end = part.length
  while (end > 0 && isSpace(end - 1)) end--
  const colon = end > 0 ? part.lastIndexOf(':', end - 1) : -1
  if (colon >= 0) {
    let num = colon + 1
    while (num < end && isSpace(num)) num++
    if (NUMBER_RE.test(part.slice(num, end))) {
      let start = colon
      while (start > 0 && isSpace(start - 1)) start--
      return { text: part.slice(0, start), weight: pyFloat(part.slice(num, end)) as number }
    }
  }
  return { text: part.slice(0, end), weight: 1.0 }
}

/** A1111 `get_multicond_prompt_list` over a batch of prompts. */
export function multicondPromptList(prompts: readonly string[]): MulticondPrompts {
  const texts: string[] = []
  const indexOf = new Map<string, number>()
  const parts = prompts.map((prompt) => prompt.split(AND_RE).map((sub) => {
    const { text, weight } = splitAndWeight(sub)
    let index = indexOf.get(text)
    if (index === undefined) {
      index = texts.length
      texts.push(text)
      indexOf.set(text, index)
    }
    return { index, weight }
  }))
  return { parts, texts }
}
