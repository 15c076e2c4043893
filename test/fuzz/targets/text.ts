/**
 * Text parsers that read strangers' strings: A1111 prompts (extra networks, AND weights, prompt editing and
 * alternation, attention), the CLIP tokenizer in both flavours, and PNG infotext. Inputs are grammar-aware token
 * soups (every bracket, colon, pipe, escape, number form, BREAK and AND, nesting past the parser's depth limit),
 * arbitrary Unicode (lone surrogates, controls, mojibake, HTML entities) and long runs.
 */
import fc from 'fast-check'
import { createClipTokenizer, type ClipTokenizer } from '../../../src/prompt/clip-tokenizer.ts'
import { parsePromptAttention } from '../../../src/prompt/attention.ts'
import { planPositivePrompt } from '../../../src/prompt/schedule.ts'
import { formatInfotext, parseInfotext, type GenerationInfo } from '../../../src/image/infotext.ts'
import { TOKENIZER_DIR, readRefJson } from '../../golden.ts'
import { FuzzFinding, type FuzzTarget } from '../harness.ts'

const PROMPT_TOKENS = ['(', ')', '[', ']', ':', '|', '\\', '\\(', '<', '>', '<lora:', '<hypernet:', '<lyco:x:', 'te=', 'unet=0.5',
  'dyn=', 'BREAK', ' AND ', 'AND', ':1.5', ':-0', '0.3', '1e309', '.5', '5.', '+', '-', 'nan', 'inf', '٣', ' ', '\n', '\t', '\u3000', 'cat',
  'a dog', ',', '&amp;', '&#x1F600;', '<|endoftext|>', '<start_of_text>', '\u00c3\u00a9', '\ud800', '\u0000', '\u200b', 'ﬁ', 'Ｆ', '😀']
const soup = fc.array(fc.oneof({ arbitrary: fc.constantFrom(...PROMPT_TOKENS), weight: 6 }, { arbitrary: fc.string({ maxLength: 6, unit: 'binary' }), weight: 1 }),
  { maxLength: 60 }).map((a) => a.join(''))
/** Runs that stress one construct: deep nesting, long words, long whitespace, many unclosed openers. */
const runs = fc.tuple(fc.constantFrom('(', '[', '[a:', '[a|', '<a:', '(x:', ' ', 'a', '東', ':', '\\', 'AND ', '&amp;', '\u00c3'),
  fc.integer({ min: 1, max: 1000 }), soup).map(([unit, n, tail]) => unit.repeat(n) + tail)
const goldenPrompts = (readRefJson<{ prompts: { prompt: string }[] }>('a1111', 'prompt_parser.json')).prompts.map((p) => p.prompt)
const promptInput = fc.oneof({ arbitrary: soup, weight: 5 }, { arbitrary: runs, weight: 2 }, { arbitrary: fc.constantFrom(...goldenPrompts), weight: 1 },
  { arbitrary: fc.string({ maxLength: 80, unit: 'binary' }), weight: 2 })

export const promptTarget: FuzzTarget<string> = {
  name: 'prompt',
  describe: 'prompt/: extra networks, AND weights, prompt editing/alternation schedules (plain and hires), attention',
  async arbitrary() { return promptInput },
  run(prompt) {
    const plan = planPositivePrompt(prompt, { steps: 20 })
    planPositivePrompt(prompt, { steps: 20, hiresSteps: 10 })
    for (const part of plan.parts) for (const s of part.schedule) parsePromptAttention(s.text)
  },
}

let tokenizer: ClipTokenizer | undefined
const VOCAB_SIZE = 49408

export const tokenizerTarget: FuzzTarget<string> = {
  name: 'tokenizer',
  describe: 'prompt/clip-tokenizer.ts (ftfy, html unescape, BPE) in the clip and open-clip flavours',
  async arbitrary() { return fc.oneof(promptInput, fc.string({ maxLength: 200, unit: 'grapheme' })) },
  run(text) {
    tokenizer ??= createClipTokenizer(TOKENIZER_DIR)
    for (const tok of [tokenizer, tokenizer.withFlavor('open-clip')]) {
      const ids = tok.encode(text)
      const bad = ids.find((id) => !Number.isInteger(id) || id < 0 || id >= VOCAB_SIZE)
      if (bad !== undefined) throw new FuzzFinding(`tokenizer (${tok.flavor}) produced id ${bad}`)
    }
  },
}

const infotextLine = fc.array(fc.oneof(fc.constantFrom('Steps: 20', 'Sampler: Euler a', 'Size: 512x768', 'Size: 99999999999999999999x1', 'Seed: -1',
  'CFG scale: nan', 'Lora hashes: "a: 1, b"', 'TI hashes: ', 'Model: "x, y"', 'Bad: "\\u12"', 'Bad: "', 'RNG: CPU', 'Version: v1.10.1'),
fc.tuple(fc.string({ maxLength: 12 }), fc.string({ maxLength: 20 })).map(([k, v]) => `${k}: ${v}`)), { maxLength: 20 }).map((a) => a.join(', '))
const infotextInput = fc.oneof(
  fc.tuple(soup, fc.option(soup), infotextLine).map(([p, n, l]) => `${p}${n === null ? '' : `\nNegative prompt: ${n}`}\n${l}`),
  fc.string({ maxLength: 300, unit: 'binary' }),
  runs,
)

export const infotextTarget: FuzzTarget<string> = {
  name: 'infotext',
  describe: 'image/infotext.ts: parse, then format what was parsed and parse again',
  async arbitrary() { return infotextInput },
  run(text) {
    const parsed = parseInfotext(text)
    const info = parsed.info
    if (info.steps !== undefined && info.sampler !== undefined && info.cfgScale !== undefined && info.seed !== undefined && info.width !== undefined && info.height !== undefined) {
      parseInfotext(formatInfotext(info as GenerationInfo))
    }
  },
}
