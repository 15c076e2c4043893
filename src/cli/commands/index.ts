import type { Command } from '../command.ts'
import { pngInfo } from './png-info.ts'
import { inspect } from './inspect.ts'
import { hash } from './hash.ts'
import { convert } from './convert.ts'
import { generate } from './generate.ts'
import { merge } from './merge.ts'
import { lora } from './lora.ts'
import { bake } from './bake.ts'
import { samplers } from './samplers.ts'

/** The command registry: one entry per file in this folder. */
export const COMMANDS: Record<string, Command> = {
  'generate': generate,
  'png-info': pngInfo,
  'inspect': inspect,
  'hash': hash,
  'convert': convert,
  'merge': merge,
  'lora': lora,
  'bake': bake,
  'samplers': samplers,
}
