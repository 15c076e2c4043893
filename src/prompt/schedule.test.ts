import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readRefJson } from '../../test/golden.ts'
import { parseExtraNetworks } from './extra-networks.ts'
import { planPositivePrompt, planNegativePrompt, entryAtStep, distinctTexts, stepSegments } from './schedule.ts'

const parser = readRefJson('a1111', 'prompt_parser.json')
const byPrompt = (p: string) => parser.prompts.find((c: { prompt: string }) => c.prompt === p)

test('extra networks are cut out of the text as A1111 parse_prompt does (sdxl adapters run)', () => {
  const run = readRefJson('sdxl', 'adapters', 'sdxl_adapter_goldens.json').run
  const parsed = parseExtraNetworks(run.prompt)
  assert.equal(parsed.text, run.prompt_for_text_encoder)
  assert.deepEqual(parsed.loras, [{ name: 'tinyxl_lora', te: 0.7, unet: 0.7 }])
})

test('lora multipliers: positional te/unet/dyn, te= unet= dyn= keywords, lyco alias, hypernet', () => {
  const parsed = parseExtraNetworks('a <lora:x:0.5:0.25> b <lyco:y:unet=0.5:te=2> <lora:z> <lora:w:1:2:8> '
    + '<hypernet:h:0.3> <foo:bar>')
  assert.equal(parsed.text, 'a  b     ')
  assert.deepEqual(parsed.loras, [
    { name: 'x', te: 0.5, unet: 0.25 },
    { name: 'y', te: 2, unet: 0.5 },
    { name: 'z', te: 1, unet: 1 },
    { name: 'w', te: 1, unet: 2, dyn: 8 },
  ])
  assert.deepEqual(parsed.hypernets, [{ name: 'h', multiplier: 0.3 }])
  assert.deepEqual(parsed.calls.map((c) => c.kind), ['lora', 'lyco', 'lora', 'lora', 'hypernet', 'foo'])
})

test('a lora multiplier that is not a number is an InputError', () => {
  assert.throws(() => parseExtraNetworks('<lora:x:strong>'), {
    name: 'InputError',
    message: 'prompt: <lora:x:strong>: the text-encoder multiplier "strong" is not a number. Hint: write e.g. <lora:x:0.8>.',
  })
})

test('positive plan = AND parts with their own schedules (golden multicond + schedules)', () => {
  const c = byPrompt('a cat AND a dog :1.5')
  const plan = planPositivePrompt(`${c.prompt}<lora:x:1>`, { steps: 10 })
  assert.equal(plan.text, c.prompt)
  assert.deepEqual(plan.parts.map((p) => p.weight), c.multicond.indexes[0].map((w: number[]) => w[1]))
  assert.deepEqual(plan.parts.map((p) => p.schedule.map((e) => e.text)), c.multicond.prompt_flat_list.map((t: string) => [t]))
})

test('negative plan keeps AND as text and schedules it', () => {
  const c = byPrompt('[cat:dog:0.25] on a [mat:rug:0.75]')
  const plan = planNegativePrompt(c.prompt, { steps: 10 })
  assert.deepEqual(plan.schedule.map((e) => [e.endAtStep, e.text]), c.schedules_steps10)
  assert.equal(planNegativePrompt('a AND b', { steps: 10 }).schedule[0].text, 'a AND b')
})

test('step segments: conditioning switches only where the schedule does (A1111 step <= end_at_step)', () => {
  const c = byPrompt('[cat:dog:0.25] on a [mat:rug:0.75]')
  const plan = planPositivePrompt(c.prompt, { steps: 10 })
  const schedule = plan.parts[0].schedule
  const segments = stepSegments(plan.parts, 10)
  assert.deepEqual(segments.map((s) => s.texts[0]), schedule.map((e) => e.text))
  // each segment runs up to and including its entry's end_at_step (the last is cut at the final call)
  assert.deepEqual(segments.map((s) => s.lastStep), [...schedule.slice(0, -1).map((e) => e.endAtStep), 9])
  for (const s of segments) for (let k = s.firstStep; k <= s.lastStep; k++) assert.equal(entryAtStep(schedule, k).text, s.texts[0])
  assert.deepEqual(distinctTexts([schedule]), schedule.map((e) => e.text))
})

test('past the last entry A1111 falls back to entry 0', () => {
  const schedule = planNegativePrompt(byPrompt('[cat:dog:3]').prompt, { steps: 10 }).schedule
  assert.equal(entryAtStep(schedule, 11).text, schedule[0].text)
})
