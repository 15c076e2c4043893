import { basename } from 'node:path'
import { InputError } from '../../core/errors.ts'
import { bakeAdapters, type BakeAdapter } from '../../tools/bake.ts'
import type { Command, CommandContext } from '../command.ts'
import { dtypeOption, fileWithWeights, layerProgress, requiredString } from '../tool-options.ts'

function adapters(ctx: CommandContext): BakeAdapter[] {
  const v = ctx.values.lora
  const specs = (Array.isArray(v) ? v : v === undefined ? [] : [v]).map(String)
  if (specs.length === 0) throw new InputError('bake needs at least one --lora FILE[:WEIGHT]. See: sdloom bake --help')
  return specs.map((s) => {
    const { file, weights } = fileWithWeights(s)
    const te = weights[0] ?? 1
    return { file, te, unet: weights[1] ?? te }
  })
}

async function run(ctx: CommandContext): Promise<number> {
  if (ctx.positionals.length !== 1) throw new InputError(`bake takes one CHECKPOINT, got ${ctx.positionals.length}. See: sdloom bake --help`)
  const out = requiredString(ctx, 'out', 'bake')
  const progress = layerProgress(`bake ${basename(out)}`)
  const r = await bakeAdapters(ctx.positionals[0], adapters(ctx), out, { dtype: dtypeOption(ctx), strict: ctx.values.strict === true, onProgress: progress.onProgress })
  progress.end()
  for (const a of r.adapters) {
    if (a.unmatchedKeys.length > 0) ctx.warn(`warning: ${a.file}: ${a.unmatchedKeys.length} key(s) match no layer of this model, e.g. ${a.unmatchedKeys[0]}`)
    for (const s of a.skipped.slice(0, 5)) ctx.warn(`warning: ${a.file}: ${s.module} not applied: ${s.reason}`)
  }
  if (ctx.json) ctx.out(JSON.stringify(r, null, 2))
  else ctx.out(`wrote ${out}: ${r.architecture} checkpoint, ${r.tensorsChanged} tensors changed by `
    + r.adapters.map((a) => `${a.adapter} (UNet ${a.applied.unet}, TE ${a.applied.te1 + a.applied.te2} modules)`).join(', '))
  return 0
}

export const bake: Command = {
  summary: 'merge LoRAs (and LyCORIS, DoRA, …) into a checkpoint with the engine\'s own merge math',
  help: [
    'Usage: sdloom bake CHECKPOINT --lora FILE[:W | :TE:UNET]... --out FILE [--dtype fp16|bf16|fp32] [--strict]',
    '',
    'Writes CHECKPOINT with the adapters merged in, exactly as `sdloom generate` merges them (W += m·delta in',
    'float32, in the order given). Every adapter kind the engine applies is accepted. W multiplies both the text',
    'encoder and the UNet part; TE:UNET sets them apart (as <lora:name:te:unet>). Only the tensors the adapters',
    'touch are held in memory.',
    '',
    'Options:',
    '  --lora SPEC   an adapter file and its weight (default 1); repeat for several',
    '  --out FILE    the baked .safetensors',
    "  --dtype D     write float tensors as fp16, bf16 or fp32 (default: the checkpoint's dtype)",
    '  --strict      adapter keys that match no layer are an error (default: a warning)',
  ].join('\n'),
  options: { lora: { type: 'string', multiple: true }, out: { type: 'string' }, dtype: { type: 'string' }, strict: { type: 'boolean' } },
  run,
}
