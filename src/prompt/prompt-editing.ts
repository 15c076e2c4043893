/**
 * A1111 prompt editing: `get_learned_conditioning_prompt_schedules` (`[from:to:when]`, `[to:when]`, `[from::when]`,
 * alternation `[a|b]`, nested), with its step arithmetic for hires passes and the "old scheduling" option.
 * https://github.com/AUTOMATIC1111/stable-diffusion-webui/blob/c8a5322d/modules/prompt_parser.py
 *
 * A1111 parses with this lark (Earley) grammar:
 *   !start: (prompt | /[][():]/+)*
 *   prompt: (emphasized | scheduled | alternate | plain | WHITESPACE)*
 *   !emphasized: "(" prompt ")" | "(" prompt ":" prompt ")" | "[" prompt "]"
 *   scheduled: "[" [prompt ":"] prompt ":" [WHITESPACE] NUMBER [WHITESPACE] "]"
 *   alternate: "[" prompt ("|" [prompt])+ "]"
 *   plain: /([^\\\[\]():|]|\\.)+/      NUMBER: lark's SIGNED_NUMBER
 * Inside `prompt` every bracket must be structural and the grammar is unambiguous, so a greedy descent parser finds the
 * same tree. Only the top level is ambiguous (a bracket may also be a stray character). Valid bracket spans nest like
 * parentheses; sdloom always takes the outermost valid structure (a left-to-right scan that tries a structure at each
 * bracket before calling it stray), which is what lark returns for ordinary prompts (all 40 goldens, and all but 3 of
 * 6000 random bracket-heavy prompts checked against lark). The exceptions are a structure directly followed by stray
 * brackets, e.g. `[x:0.25]::`: lark 1.1.2 (A1111's pin) breaks that tie through an unordered set, so A1111's own
 * result changes with Python's hash seed from one start to the next; sdloom keeps the structure.
 * A prompt lark cannot parse at all ('|' outside brackets, a trailing backslash) is used verbatim for every step,
 * as A1111 does.
 */
import { PY_SPACE } from './py-text.ts'

type Node =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'scheduled'; readonly before: readonly Node[] | undefined; readonly after: readonly Node[];
      readonly number: string }
  | { readonly kind: 'alternate'; readonly options: readonly (readonly Node[])[] }

interface Parsed { readonly nodes: Node[]; readonly end: number }

/**
 * Whether a structure starts at a position does not depend on what surrounds it, so each position is parsed once
 * (memo). Nesting is capped: deeper than MAX_DEPTH, a bracket counts as stray (A1111 itself fails with Python's
 * RecursionError on such prompts; unbalanced runs like "[[[[…" stay verbatim in both).
 */
interface Ctx { readonly s: string; readonly memo: Map<number, Parsed | undefined>; limitHit: boolean; work: number }
const MAX_DEPTH = 300
/**
 * Structures past the depth limit are not memoised, so runs of unclosed brackets ("[a:" × 20000) are re-parsed up to
 * MAX_DEPTH levels from every bracket: seconds of CPU per request, quadratic in the worst case. Ordinary prompts
 * stay far below this budget of structure parses per character; a prompt above it is used verbatim, as a prompt
 * lark cannot parse (only runs of brackets that nest past the limit get there, and those are verbatim anyway).
 */
const WORK_PER_CHAR = 8
class BudgetExceeded extends Error {}

const PLAIN_RE = /(?:[^\\[\]():|]|\\[^\n])+/y
const SPACE_RE = new RegExp(`[${PY_SPACE}]+`, 'uy')
// lark common.SIGNED_NUMBER: ["+"|"-"] (FLOAT | INT), FLOAT = INT _EXP | DECIMAL _EXP?
const NUMBER_RE = /[+-]?(?:[0-9]+[eE][+-]?[0-9]+|(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[0-9]+)/y

function matchAt(re: RegExp, s: string, at: number): string | undefined {
  re.lastIndex = at
  return re.exec(s)?.[0]
}

const text = (t: string): Node => ({ kind: 'text', text: t })

/** `prompt`: a greedy run of plain text, whitespace and structures. */
function parsePrompt(ctx: Ctx, at: number, depth: number): Parsed {
  const nodes: Node[] = []
  let i = at
  for (;;) {
    const plain = matchAt(PLAIN_RE, ctx.s, i)
    if (plain !== undefined) { nodes.push(text(plain)); i += plain.length; continue }
    const structure = parseStructure(ctx, i, depth)
    if (structure === undefined) return { nodes, end: i }
    for (const n of structure.nodes) nodes.push(n)
    i = structure.end
  }
}

/** A structure ("(…)" or "[…]") starting at `at`, or undefined. */
function parseStructure(ctx: Ctx, at: number, depth: number): Parsed | undefined {
  const c = ctx.s[at]
  if (c !== '(' && c !== '[') return undefined
  if (ctx.memo.has(at)) return ctx.memo.get(at)
  if (depth >= MAX_DEPTH) { ctx.limitHit = true; return undefined }
  if (++ctx.work > WORK_PER_CHAR * ctx.s.length + 10_000) throw new BudgetExceeded()
  const outerHit = ctx.limitHit
  ctx.limitHit = false
  const result = c === '(' ? parseParen(ctx, at, depth + 1) : parseBracket(ctx, at, depth + 1)
  if (!ctx.limitHit) ctx.memo.set(at, result)
  ctx.limitHit ||= outerHit
  return result
}

/** `"(" prompt ")"` or `"(" prompt ":" prompt ")"`; kept verbatim. */
function parseParen(ctx: Ctx, at: number, depth: number): Parsed | undefined {
  const s = ctx.s
  const first = parsePrompt(ctx, at + 1, depth)
  if (s[first.end] === ')') return { nodes: [text('('), ...first.nodes, text(')')], end: first.end + 1 }
  if (s[first.end] !== ':') return undefined
  const second = parsePrompt(ctx, first.end + 1, depth)
  if (s[second.end] !== ')') return undefined
  return { nodes: [text('('), ...first.nodes, text(':'), ...second.nodes, text(')')], end: second.end + 1 }
}

/** `[WHITESPACE] NUMBER [WHITESPACE] "]"` at `at`: the number and the end, or undefined. */
function parseWhen(s: string, at: number): { number: string; end: number } | undefined {
  let i = at + (matchAt(SPACE_RE, s, at)?.length ?? 0)
  const number = matchAt(NUMBER_RE, s, i)
  if (number === undefined) return undefined
  i += number.length
  i += matchAt(SPACE_RE, s, i)?.length ?? 0
  return s[i] === ']' ? { number, end: i + 1 } : undefined
}

/** "[" … "]": emphasized, scheduled or alternate, told apart by what follows the first prompt. */
function parseBracket(ctx: Ctx, at: number, depth: number): Parsed | undefined {
  const s = ctx.s
  const first = parsePrompt(ctx, at + 1, depth)
  const next = s[first.end]
  if (next === ']') return { nodes: [text('['), ...first.nodes, text(']')], end: first.end + 1 }
  if (next === '|') return parseAlternate(ctx, first, depth)
  if (next !== ':') return undefined
  const when = parseWhen(s, first.end + 1)
  if (when) return { nodes: [{ kind: 'scheduled', before: undefined, after: first.nodes, number: when.number }], end: when.end }
  const second = parsePrompt(ctx, first.end + 1, depth)
  if (s[second.end] !== ':') return undefined
  const when2 = parseWhen(s, second.end + 1)
  if (!when2) return undefined
  return { nodes: [{ kind: 'scheduled', before: first.nodes, after: second.nodes, number: when2.number }], end: when2.end }
}

function parseAlternate(ctx: Ctx, first: Parsed, depth: number): Parsed | undefined {
  const s = ctx.s
  const options: Node[][] = [first.nodes]
  let i = first.end
  while (s[i] === '|') {
    const option = parsePrompt(ctx, i + 1, depth)
    options.push(option.nodes)
    i = option.end
  }
  return s[i] === ']' ? { nodes: [{ kind: 'alternate', options }], end: i + 1 } : undefined
}

/** `start`: the top level, where brackets that open no valid structure are kept as stray characters. */
function parseStart(s: string): Node[] | undefined {
  const ctx: Ctx = { s, memo: new Map(), limitHit: false, work: 0 }
  let nodes: Node[] = []
  let i = 0
  while (i < s.length) {
    let part: Parsed
    try {
      part = parsePrompt(ctx, i, 0)
    } catch (e) {
      if (e instanceof BudgetExceeded) return undefined
      throw e
    }
    nodes = nodes.concat(part.nodes)
    i = part.end
    if (i >= s.length) break
    if (!'[]():'.includes(s[i])) return undefined   // '|' outside brackets, or '\' at the end / before '\n'
    nodes.push(text(s[i]))
    i += 1
  }
  return nodes
}

/** How `[a:b:N]` numbers become steps (A1111 `collect_steps`). */
export interface ScheduleOptions {
  /**
   * Steps of the pass (A1111 `base_steps`). A1111 passes `sampler_config.total_steps(steps)` here, i.e. steps × 2 for
   * samplers marked second_order (Heun, DPM2, …), because its step counter (`CFGDenoiser.step`) counts denoiser calls.
   */
  readonly steps: number
  /** Steps of the hires pass, when scheduling for it (A1111: the second pass's total_steps, with `steps` still the
   *  first pass's): then integers count from the end of the first pass and fractions from 1.0 (e.g. 1.5 = the
   *  middle of the hires pass). */
  readonly hiresSteps?: number
  /** A1111 setting "use_old_scheduling": N < 1 is a fraction, N >= 1 a step, in every pass. */
  readonly useOldScheduling?: boolean
}

/** One conditioning of a schedule: `text` is used for every step up to and including `endAtStep`. */
export interface ScheduledText {
  readonly endAtStep: number
  readonly text: string
}

function whenStep(number: string, o: ScheduleOptions, steps: number): number {
  const hires = o.hiresSteps !== undefined && !o.useOldScheduling
  let v = Number(number)
  if (o.useOldScheduling) v = v < 1 ? v * steps : v
  else if (number.includes('.')) v = (v - (hires ? 1.0 : 0)) * steps
  else v = v - (hires ? o.steps : 0)
  return Math.min(steps, Math.trunc(v))
}

function collectSteps(nodes: readonly Node[], when: (n: string) => number, steps: number, out: Set<number>): void {
  for (const node of nodes) {
    if (node.kind === 'scheduled') {
      const w = when(node.number)
      if (w >= 1) out.add(w)
      if (node.before) collectSteps(node.before, when, steps, out)
      collectSteps(node.after, when, steps, out)
    } else if (node.kind === 'alternate') {
      for (let k = 1; k <= steps; k++) out.add(k)
      for (const option of node.options) collectSteps(option, when, steps, out)
    }
  }
}

function textAtStep(nodes: readonly Node[], step: number, when: (n: string) => number): string {
  let out = ''
  for (const node of nodes) {
    if (node.kind === 'text') out += node.text
    else if (node.kind === 'scheduled') {
      const chosen = step <= when(node.number) ? node.before : node.after
      if (chosen) out += textAtStep(chosen, step, when)
    } else out += textAtStep(node.options[(step - 1) % node.options.length], step, when)
  }
  return out
}

/** A1111 `get_learned_conditioning_prompt_schedules` for one prompt. */
export function promptSchedule(prompt: string, options: ScheduleOptions): ScheduledText[] {
  const useHires = options.hiresSteps !== undefined && !options.useOldScheduling
  const steps = useHires ? options.hiresSteps as number : options.steps
  const tree = parseStart(prompt)
  if (tree === undefined) return [{ endAtStep: steps, text: prompt }]
  const when = (n: string): number => whenStep(n, options, steps)
  const stepSet = new Set<number>([steps])
  collectSteps(tree, when, steps, stepSet)
  return [...stepSet].sort((a, b) => a - b).map((endAtStep) => ({ endAtStep, text: textAtStep(tree, endAtStep, when) }))
}
