import { basename } from 'node:path'
import { InputError } from '../../core/errors.ts'
import { mergeCheckpoints, type MergeMethod } from '../../tools/merge-checkpoints.ts'
import type { Command, CommandContext } from '../command.ts'
import { dtypeOption, layerProgress, numberOption, requiredString } from '../tool-options.ts'

const METHODS: readonly MergeMethod[] = ['weighted-sum', 'add-difference', 'no-interpolation']
const BY_COUNT: readonly MergeMethod[] = ['no-interpolation', 'weighted-sum', 'add-difference']

function method(ctx: CommandContext): MergeMethod {
  const v = ctx.values.method
  if (v === undefined) {
    const m = BY_COUNT[ctx.positionals.length - 1]
    if (!m) throw new InputError(`merge takes 1 to 3 models (A [B [C]]), got ${ctx.positionals.length}. See: sdloom merge --help`)
    return m
  }
  if (!METHODS.includes(String(v) as MergeMethod)) throw new InputError(`--method: "${v}" is not one of ${METHODS.join(', ')}`)
  return String(v) as MergeMethod
}

async function run(ctx: CommandContext): Promise<number> {
  const out = requiredString(ctx, 'out', 'merge')
  const [a, b, c] = ctx.positionals
  const progress = layerProgress(`merge ${basename(out)}`)
  const str = (k: string) => (ctx.values[k] === undefined ? undefined : String(ctx.values[k]))
  const r = await mergeCheckpoints({ a, b, c }, out, {
    method: method(ctx), alpha: numberOption(ctx, 'alpha') ?? 0.3, blocks: str('blocks'), vae: str('vae'),
    dtype: dtypeOption(ctx), discard: str('discard'), onProgress: progress.onProgress,
  })
  progress.end()
  if (ctx.json) ctx.out(JSON.stringify(r, null, 2))
  else ctx.out(`wrote ${out}: ${r.architecture}${r.inpainting ? ' inpainting' : ''} checkpoint, ${r.method}; ${r.merged} tensors merged, `
    + `${r.copied} copied from A${r.vaeBaked ? `, ${r.vaeBaked} from the VAE` : ''}${r.discarded ? `, ${r.discarded} discarded` : ''}`)
  return 0
}

export const merge: Command = {
  summary: "merge checkpoints as A1111's Checkpoint Merger (weighted sum, add difference, per-block weights, VAE bake)",
  help: [
    'Usage: sdloom merge A [B [C]] --out FILE [--method M] [--alpha M] [--blocks LIST] [--vae FILE]',
    '                    [--dtype fp16|bf16|fp32] [--discard REGEX]',
    '',
    'Methods (default by the number of models: 1 no-interpolation, 2 weighted-sum, 3 add-difference):',
    '  weighted-sum      A·(1 − M) + B·M',
    '  add-difference    A + (B − C)·M  (A an inpainting model, B a fine-tune, C its base: an inpainting fine-tune)',
    '  no-interpolation  A alone (to bake a VAE, change dtype or discard keys)',
    'Only keys whose name contains "model" are merged, as A1111 does; the rest come from A. Models of different',
    'architectures are refused. A merged with an inpainting/instruct-pix2pix B must be that model itself (A1111).',
    'The output is written tensor by tensor (memory does not grow with model size), through a temp file, with',
    "A1111's sd_merge_recipe / sd_merge_models metadata.",
    '',
    'Options:',
    '  --out FILE      the merged .safetensors',
    '  --alpha M       the multiplier (default 0.3, as A1111)',
    '  --blocks LIST   per-block M: 25 values IN00..IN11,M00,OUT00..OUT11 (SD1/SD2) or 19 IN00..IN08,M00,OUT00..OUT08',
    '                  (SDXL), with --alpha for the rest (BASE: text encoders, VAE); or one more value, BASE first',
    '  --vae FILE      bake this VAE in (replaces first_stage_model.*)',
    "  --dtype D       write float tensors as fp16, bf16 or fp32 (default: A's dtype)",
    '  --discard RE    drop keys matching this regular expression (e.g. "^model_ema\\.")',
  ].join('\n'),
  options: {
    out: { type: 'string' }, method: { type: 'string' }, alpha: { type: 'string' }, blocks: { type: 'string' },
    vae: { type: 'string' }, dtype: { type: 'string' }, discard: { type: 'string' },
  },
  run,
}
