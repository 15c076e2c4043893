/*
 * What `generate` and `img2img` check before anything loads (issue #14): every mistake a user can make in the
 * options costs a second, not a model load and minutes of sampling.
 */
import type { Txt2ImgRequest } from '../pipeline/txt2img.ts'
import { DEFAULT_OUTPUT_DIR } from '../pipeline/output-paths.ts'
import type { CommandContext } from './command.ts'
import { hiresOf } from './commands/mode-flags.ts'
import { num, str } from './flags.ts'
import { cfgNotice } from './generate-notices.ts'
import { prepareOutput } from './output-target.ts'
import { checkSize, maxPixelsOf } from './size-limits.ts'

export async function preflight(ctx: CommandContext, request: Omit<Txt2ImgRequest, 'tokenizer'>): Promise<void> {
  checkSize({ width: request.width, height: request.height, batchSize: request.batchSize, hires: hiresOf(ctx) }, maxPixelsOf(num(ctx, 'max-pixels')))
  const note = cfgNotice(request.cfgScale)
  if (note) ctx.warn(note)
  await prepareOutput(str(ctx, 'out') ?? DEFAULT_OUTPUT_DIR) // an unwritable --out fails now, not after sampling
}

export const PREFLIGHT_HELP = [
  '  --max-pixels N       largest width × height (incl. a hires pass) to try (4194304 = 2048²); sizes whose attention',
  '                       cannot fit in this machine\'s memory are refused before loading either way',
]
