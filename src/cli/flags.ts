/* Typed reads of parsed CLI option values, with one-line InputErrors naming the flag. */
import { InputError } from '../core/errors.ts'
import type { CommandContext } from './command.ts'

export const str = (ctx: CommandContext, k: string): string | undefined => {
  const v = ctx.values[k]
  return typeof v === 'string' ? v : undefined
}

export function num(ctx: CommandContext, k: string, integer = true): number | undefined {
  const v = str(ctx, k)
  if (v === undefined) return undefined
  const n = Number(v)
  if (v.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n))) {
    throw new InputError(`--${k} must be ${integer ? 'a whole number' : 'a number'}, got "${v}"`)
  }
  return n
}

export function oneOf<T extends string>(ctx: CommandContext, k: string, valid: readonly T[]): T | undefined {
  const v = str(ctx, k)
  if (v === undefined) return undefined
  const lower = v.toLowerCase() as T
  if (!valid.includes(lower)) throw new InputError(`--${k} must be one of ${valid.join(', ')}, got "${v}"`)
  return lower
}
