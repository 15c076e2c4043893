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
const S = `[${PY_SPACE}]`
// re_weight = r"^((?:\s|.)*?)(?:\s*:\s*([-+]?(?:\d+\.?|\d*\.\d+)))?\s*$"; Python's `$` also matches before a final
// '\n', which the `\s*` in front of it already covers.
const WEIGHT_RE = new RegExp(`^([\\s\\S]*?)(?:${S}*:${S}*([-+]?(?:\\p{Nd}+\\.?|\\p{Nd}*\\.\\p{Nd}+)))?${S}*$`, 'u')

/** Splits one AND-part into its text and weight (default 1). */
export function splitAndWeight(part: string): { text: string; weight: number } {
  const m = WEIGHT_RE.exec(part)
  if (!m) return { text: part, weight: 1.0 }
  return { text: m[1], weight: m[2] === undefined ? 1.0 : (pyFloat(m[2]) as number) }
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
