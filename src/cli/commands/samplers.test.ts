import { test } from 'node:test'
import assert from 'node:assert/strict'
import { samplers } from './samplers.ts'
import { SAMPLERS, SCHEDULERS } from '../../sampling/index.ts'
import type { CommandContext } from '../command.ts'

async function runCmd(json: boolean): Promise<{ code: number; out: string }> {
  let out = ''
  const ctx: CommandContext = { values: {}, positionals: [], json, out: (t) => { out += `${t}\n` }, warn: () => undefined }
  return { code: await samplers.run(ctx), out }
}

test('samplers --json: every registry entry with its names, Automatic schedule and A1111 facts; every schedule type', async () => {
  const { code, out } = await runCmd(true)
  assert.equal(code, 0)
  const j = JSON.parse(out)
  assert.deepEqual(j.samplers.map((s: { id: string }) => s.id), Object.keys(SAMPLERS))
  assert.deepEqual(j.schedules.map((s: { label: string }) => s.label), Object.values(SCHEDULERS).map((s) => s.label))
  const dpm2 = j.samplers.find((s: { id: string }) => s.id === 'dpm2')
  assert.deepEqual(dpm2, {
    id: 'dpm2', label: 'DPM2', comfy: 'dpm_2', aliases: ['k_dpm_2'], kind: 'k-diffusion', automaticSchedule: 'Karras',
    modelCallsPerStep: 2, noise: 'none', discardPenultimateSigma: true, usesEnsd: false, eta: null,
  })
})

test('samplers: one line per sampler, then the schedule types', async () => {
  const { code, out } = await runCmd(false)
  assert.equal(code, 0)
  assert.match(out, /^ {2}Euler a {8}Automatic = Uniform {7}1 call\/step, ancestral noise, ENSD {2}\(also: euler_ancestral, k_euler_a, k_euler_ancestral\)$/m)
  assert.match(out, /Schedule types:\n {2}Automatic, Uniform, Karras, /)
  assert.ok(samplers.help.startsWith('Usage: sdloom samplers [--json]'))
})
