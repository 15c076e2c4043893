/**
 * From a prompt to what the sampler needs per step, as A1111 composes it (processing.py / prompt_parser.py, v1.8):
 * positive prompt: extra networks removed → AND-parts with weights → a prompt-editing schedule per part;
 * negative prompt: a schedule only (A1111 neither splits it at AND nor reads extra networks from it).
 * The pipeline encodes each distinct text once and switches conditioning only where `stepSegments` says so.
 * https://github.com/AUTOMATIC1111/stable-diffusion-webui/blob/c8a5322d/modules/prompt_parser.py
 */
import { parseExtraNetworks, type ParsedExtraNetworks } from './extra-networks.ts'
import { multicondPromptList } from './multicond.ts'
import { promptSchedule, type ScheduleOptions, type ScheduledText } from './prompt-editing.ts'

export interface PromptPart {
  /** AND weight (composable diffusion); 1 for a prompt without AND. */
  readonly weight: number
  readonly schedule: readonly ScheduledText[]
}

export interface PositivePromptPlan {
  /** The prompt with `<lora:…>` etc. removed: the text A1111 hands to the prompt parser. */
  readonly text: string
  readonly extraNetworks: ParsedExtraNetworks
  readonly parts: readonly PromptPart[]
}

export interface NegativePromptPlan {
  readonly schedule: readonly ScheduledText[]
}

/** Positive prompt → extra networks, AND-parts and their schedules. */
export function planPositivePrompt(prompt: string, options: ScheduleOptions): PositivePromptPlan {
  const extraNetworks = parseExtraNetworks(prompt)
  const { parts, texts } = multicondPromptList([extraNetworks.text])
  const schedules = texts.map((t) => promptSchedule(t, options))
  return {
    text: extraNetworks.text,
    extraNetworks,
    parts: parts[0].map(({ index, weight }) => ({ weight, schedule: schedules[index] })),
  }
}

/** Negative prompt → its schedule (no AND, no extra networks: A1111 encodes them as plain text). */
export function planNegativePrompt(prompt: string, options: ScheduleOptions): NegativePromptPlan {
  return { schedule: promptSchedule(prompt, options) }
}

/**
 * A1111 `reconstruct_cond_batch`: the schedule entry used at `stepIndex`, where stepIndex is A1111's
 * `CFGDenoiser.step` (0-based, counting denoiser calls): the first entry with stepIndex <= endAtStep, else entry 0.
 */
export function entryAtStep(schedule: readonly ScheduledText[], stepIndex: number): ScheduledText {
  return schedule.find((e) => stepIndex <= e.endAtStep) ?? schedule[0]
}

/** Distinct texts to encode for a set of schedules (each text once, in first-use order). */
export function distinctTexts(schedules: readonly (readonly ScheduledText[])[]): string[] {
  return [...new Set(schedules.flatMap((s) => s.map((e) => e.text)))]
}

/** A run of step indices [firstStep, lastStep] over which every part keeps the same text. */
export interface StepSegment {
  readonly firstStep: number
  readonly lastStep: number
  /** Per part (in plan order): its text in this run (weights stay on the parts). */
  readonly texts: readonly string[]
}

/** Splits step indices 0..calls-1 into runs with unchanged conditioning, so each switch re-encodes once. */
export function stepSegments(parts: readonly PromptPart[] | NegativePromptPlan, calls: number): StepSegment[] {
  const schedules = 'schedule' in parts ? [parts.schedule] : parts.map((p) => p.schedule)
  const segments: StepSegment[] = []
  for (let step = 0; step < calls; step++) {
    const texts = schedules.map((s) => entryAtStep(s, step).text)
    const last = segments[segments.length - 1]
    if (last && last.texts.every((t, k) => t === texts[k])) segments[segments.length - 1] = { ...last, lastStep: step }
    else segments.push({ firstStep: step, lastStep: step, texts })
  }
  return segments
}
