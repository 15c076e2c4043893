/*
 * `sdloom samplers`: the sampler registry and the schedule types as a user picks them, with A1111's and ComfyUI's
 * names, the "Automatic" schedule and A1111's per-sampler facts (model calls per step, noise, discard, ENSD).
 */
import { SAMPLERS, SCHEDULERS, effectiveScheduler } from '../../sampling/index.ts'
import type { SamplerEntry } from '../../sampling/index.ts'
import type { Command, CommandContext } from '../command.ts'

function describe(id: string, e: SamplerEntry) {
  return {
    id, label: e.label, comfy: e.comfy ?? null, aliases: e.aliases, kind: e.kind,
    automaticSchedule: e.kind === 'k-diffusion' ? SCHEDULERS[effectiveScheduler(e)].label : 'own timesteps',
    modelCallsPerStep: e.modelCallsPerStep, noise: e.noise, discardPenultimateSigma: e.discardPenultimateSigma,
    usesEnsd: e.usesEnsd, eta: e.eta ?? null,
  }
}

async function run(ctx: CommandContext): Promise<number> {
  const samplers = Object.entries(SAMPLERS).map(([id, e]) => describe(id, e))
  const schedules = Object.entries(SCHEDULERS).map(([id, e]) => ({ id, label: e.label, comfy: 'comfy' in e ? e.comfy : null }))
  if (ctx.json) {
    ctx.out(JSON.stringify({ samplers, schedules }, null, 2))
    return 0
  }
  const lines = samplers.map((s) => {
    const names = [s.comfy, ...s.aliases].filter((n) => n && n !== s.label).join(', ')
    const facts = [`${s.modelCallsPerStep} call${s.modelCallsPerStep > 1 ? 's' : ''}/step`, s.noise === 'none' ? '' : `${s.noise} noise`,
      s.discardPenultimateSigma ? 'discards penultimate sigma' : '', s.usesEnsd ? 'ENSD' : ''].filter(Boolean).join(', ')
    return `  ${s.label.padEnd(14)} Automatic = ${s.automaticSchedule.padEnd(13)} ${facts}${names ? `  (also: ${names})` : ''}`
  })
  ctx.out(['Samplers:', ...lines, '', 'Schedule types:', `  ${schedules.map((s) => s.label).join(', ')}`,
    '', 'A1111 1.8 names with a schedule suffix also work: "DPM++ 2M Karras" = DPM++ 2M + Karras.'].join('\n'))
  return 0
}

export const samplers: Command = {
  summary: 'list the samplers and schedule types, with their A1111/ComfyUI names and defaults',
  help: [
    'Usage: sdloom samplers [--json]',
    '',
    'Lists every sampler (A1111 label, ComfyUI name and aliases; the schedule type "Automatic" picks for it; model',
    'calls per step; noise kind: ancestral = fresh draws from the seed\'s stream, brownian = A1111\'s Brownian tree;',
    'whether it drops the penultimate sigma and records ENSD) and every schedule type.',
    '',
    'Options:',
    '  --json  the same as JSON: { samplers: [...], schedules: [...] }',
  ].join('\n'),
  options: {},
  run,
}
