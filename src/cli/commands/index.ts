import type { Command } from '../command.ts'
import { pngInfo } from './png-info.ts'
import { inspect } from './inspect.ts'
import { hash } from './hash.ts'
import { convert } from './convert.ts'
import { generate } from './generate.ts'
import { img2img } from './img2img.ts'
import { merge } from './merge.ts'
import { lora } from './lora.ts'
import { bake } from './bake.ts'
import { samplers } from './samplers.ts'
import { serve } from './serve.ts'
import { upscale } from './upscale.ts'
import { worker } from './worker.ts'

/** The command registry: one entry per file in this folder. */
export const COMMANDS: Record<string, Command> = {
  'generate': generate,
  'img2img': img2img,
  'png-info': pngInfo,
  'inspect': inspect,
  'hash': hash,
  'convert': convert,
  'merge': merge,
  'lora': lora,
  'bake': bake,
  'samplers': samplers,
  'serve': serve,
  'upscale': upscale,
  'worker': worker,
}
