import { basename } from 'node:path'
import { InputError } from '../../core/errors.ts'
import { progressBar, type Progress } from '../../core/progress.ts'
import { convertModel, type EmaMode, type ModelPart, type TargetDType } from '../../tools/convert.ts'
import type { Command, CommandContext } from '../command.ts'

const DTYPES: Record<string, TargetDType> = { fp16: 'F16', bf16: 'BF16', fp32: 'F32' }
const PARTS: readonly ModelPart[] = ['unet', 'vae', 'text-encoder']

function options(ctx: CommandContext): { dtype?: TargetDType; ema: EmaMode; only?: ModelPart } {
  const v = ctx.values
  const dtype = v.dtype === undefined ? undefined : DTYPES[String(v.dtype)]
  if (v.dtype !== undefined && dtype === undefined) throw new InputError(`--dtype: "${v.dtype}" is not one of ${Object.keys(DTYPES).join(', ')}`)
  if (v.ema === true && v['no-ema'] === true) throw new InputError('--ema and --no-ema exclude each other')
  const only = v.only === undefined ? undefined : String(v.only)
  if (only !== undefined && !PARTS.includes(only as ModelPart)) throw new InputError(`--only: "${only}" is not one of ${PARTS.join(', ')}`)
  return { dtype, ema: v.ema === true ? 'use' : v['no-ema'] === true ? 'drop' : 'keep', only: only as ModelPart | undefined }
}

async function run(ctx: CommandContext): Promise<number> {
  if (ctx.positionals.length !== 2) throw new InputError(`convert takes IN and OUT, got ${ctx.positionals.length} argument(s). See: sdloom convert --help`)
  const [input, output] = ctx.positionals
  let bar: Progress | undefined
  const onProgress = (bytes: number, total: number) => { bar ??= progressBar({ label: `convert ${basename(output)}`, total, unit: 'bytes' }); bar.tick(bytes) }
  const report = await convertModel(input, output, { ...options(ctx), onProgress })
  bar?.end()
  if (ctx.json) ctx.out(JSON.stringify(report, null, 2))
  else ctx.out(`wrote ${output}: ${report.tensorsOut} of ${report.tensorsIn} tensors, ${report.converted} converted`
    + `${report.emaReplaced > 0 ? `, ${report.emaReplaced} UNet tensors from EMA` : ''}`)
  return 0
}

export const convert: Command = {
  summary: 'convert a .ckpt/.pt or .safetensors model to .safetensors (dtype, EMA, one part)',
  help: [
    'Usage: sdloom convert [--dtype fp16|bf16|fp32] [--ema | --no-ema] [--only unet|vae|text-encoder] IN OUT',
    '',
    'Reads a pickle checkpoint (nothing in it is executed) or a safetensors file and writes safetensors,',
    'one tensor in memory at a time, through a temp file renamed into place.',
    '',
    'Options:',
    '  --dtype D    re-encode float tensors (the DDPM schedule buffers and integer tensors keep their dtype)',
    '  --no-ema     drop the EMA copy (model_ema.*)',
    '  --ema        use the EMA weights as the UNet (model_ema.* replaces model.diffusion_model.*), then drop them',
    '  --only P     keep one part: unet or vae (written without their prefix, as standalone files),',
    '               text-encoder (cond_stage_model.* / conditioner.embedders.*, keys unchanged)',
  ].join('\n'),
  options: { 'dtype': { type: 'string' }, 'ema': { type: 'boolean' }, 'no-ema': { type: 'boolean' }, 'only': { type: 'string' } },
  run,
}
