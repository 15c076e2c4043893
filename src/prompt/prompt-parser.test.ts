import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readRefJson } from '../../test/golden.ts'
import { parsePromptAttention } from './attention.ts'
import { promptSchedule, type ScheduledText } from './prompt-editing.ts'
import { multicondPromptList } from './multicond.ts'

interface Case {
  prompt: string
  parse_prompt_attention: [string, number][]
  schedules_steps10: [number, string][]
  schedules_steps10_hires: [number, string][]
  schedules_steps10_old: [number, string][]
  multicond: { indexes: [number, number][][]; prompt_flat_list: string[] }
}
const golden = readRefJson<{ steps: number; prompts: Case[] }>('a1111', 'prompt_parser.json')
const pairs = (s: ScheduledText[]): [number, string][] => s.map((e) => [e.endAtStep, e.text])

test('the golden has all 40 A1111 cases', () => {
  assert.equal(golden.prompts.length, 40)
  assert.equal(golden.steps, 10)
})

test('parse_prompt_attention: exact pieces and weights', () => {
  for (const c of golden.prompts) {
    const got = parsePromptAttention(c.prompt).map((w): [string, number] => [w.text, w.weight])
    assert.deepEqual(got, c.parse_prompt_attention, JSON.stringify(c.prompt))
  }
})

test('prompt editing schedules: 10 steps, hires (10 then 20 steps), old scheduling', () => {
  for (const c of golden.prompts) {
    const what = JSON.stringify(c.prompt)
    assert.deepEqual(pairs(promptSchedule(c.prompt, { steps: 10 })), c.schedules_steps10, what)
    assert.deepEqual(pairs(promptSchedule(c.prompt, { steps: 10, hiresSteps: 20 })), c.schedules_steps10_hires, what)
    assert.deepEqual(pairs(promptSchedule(c.prompt, { steps: 10, useOldScheduling: true })),
      c.schedules_steps10_old, what)
  }
})

test('AND split with weights (get_multicond_prompt_list)', () => {
  for (const c of golden.prompts) {
    const got = multicondPromptList([c.prompt])
    assert.deepEqual(got.texts, c.multicond.prompt_flat_list, JSON.stringify(c.prompt))
    assert.deepEqual(got.parts.map((p) => p.map((w): [number, number] => [w.index, w.weight])), c.multicond.indexes)
  }
})

test('multicond shares texts across a batch of prompts', () => {
  const cases = golden.prompts.filter((c) => c.multicond.prompt_flat_list.length > 1)
  const first = cases[0]
  const got = multicondPromptList([first.prompt, first.prompt])
  assert.deepEqual(got.texts, first.multicond.prompt_flat_list)
  assert.deepEqual(got.parts[1], got.parts[0])
})

test('a weight A1111 cannot read is an InputError', () => {
  assert.throws(() => parsePromptAttention('(a:1.2.3)'), {
    name: 'InputError',
    message: 'prompt: the weight in ":1.2.3)": "1.2.3" is not a number (A1111 fails on it too). '
      + 'Hint: write a plain decimal number such as 1.2.',
  })
})

test('thousands of unbalanced brackets stay verbatim (no recursion limit hit)', () => {
  for (const prompt of ['['.repeat(5000), '[a:'.repeat(2000), '('.repeat(5000) + 'x']) {
    assert.deepEqual(pairs(promptSchedule(prompt, { steps: 10 })), [[10, prompt]])
  }
})
