/** Option parsing and progress shared by the model-tool commands (merge, lora, bake). */
import { InputError } from '../core/errors.ts'
import { progressBar, type Progress } from '../core/progress.ts'
import type { TargetDType } from '../tools/convert.ts'
import type { CommandContext } from './command.ts'

const DTYPES: Readonly<Record<string, TargetDType>> = { fp16: 'F16', bf16: 'BF16', fp32: 'F32' }

export function dtypeOption(ctx: CommandContext): TargetDType | undefined {
  const v = ctx.values.dtype
  if (v === undefined) return undefined
  const d = DTYPES[String(v)]
  if (!d) throw new InputError(`--dtype: "${v}" is not one of ${Object.keys(DTYPES).join(', ')}`)
  return d
}

/** A number option, or undefined when absent. */
export function numberOption(ctx: CommandContext, name: string, kind: 'number' | 'integer' = 'number'): number | undefined {
  const v = ctx.values[name]
  if (v === undefined) return undefined
  const n = Number(v)
  if (v === '' || !Number.isFinite(n) || (kind === 'integer' && !Number.isInteger(n))) throw new InputError(`--${name}: "${v}" is not ${kind === 'integer' ? 'an integer' : 'a number'}`)
  return n
}

export function requiredString(ctx: CommandContext, name: string, command: string): string {
  const v = ctx.values[name]
  if (typeof v !== 'string' || v === '') throw new InputError(`${command} needs --${name}. See: sdloom ${command} --help`)
  return v
}

/**
 * `FILE`, `FILE:W` or `FILE:TE:UNET` (A1111's `<lora:name:te:unet>` order); trailing numeric parts are weights, so a
 * path with colons elsewhere still works.
 */
export function fileWithWeights(spec: string): { file: string; weights: number[] } {
  const parts = spec.split(':')
  const weights: number[] = []
  while (parts.length > 1 && weights.length < 2 && parts.at(-1) !== '' && Number.isFinite(Number(parts.at(-1)))) weights.unshift(Number(parts.pop()))
  return { file: parts.join(':'), weights }
}

/** A progress bar over layers ("label 12/280 [###   ] …"), created on the first report. */
export function layerProgress(label: string): { onProgress: (done: number, total: number) => void; end: () => void } {
  let bar: Progress | undefined
  return {
    onProgress: (done, total) => { bar ??= progressBar({ label, total }); bar.tick(done) },
    end: () => bar?.end(),
  }
}
