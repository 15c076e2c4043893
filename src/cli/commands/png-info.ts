import { readFile } from 'node:fs/promises'
import { InputError } from '../../core/errors.ts'
import { readPngTexts } from '../../image/png-chunks.ts'
import { parseInfotext } from '../../image/infotext.ts'
import { samplerParamsFromInfotext } from '../../sampling/index.ts'
import type { Command, CommandContext } from '../command.ts'

/** The text chunk A1111 (and sdloom) keep the generation parameters in. */
const KEY = 'parameters'

async function readBytes(file: string): Promise<Uint8Array> {
  try {
    return await readFile(file)
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ENOENT') throw new InputError(`${file}: no such file`)
    if (code === 'EISDIR') throw new InputError(`${file}: is a folder, expected a PNG file`)
    throw e
  }
}

async function run(ctx: CommandContext): Promise<number> {
  if (ctx.positionals.length !== 1) {
    throw new InputError(`png-info takes one FILE, got ${ctx.positionals.length}. See: sdloom png-info --help`)
  }
  const file = ctx.positionals[0]
  const texts = readPngTexts(await readBytes(file), file)
  const params = texts.find((t) => t.keyword === KEY)
  if (!params) {
    const others = texts.map((t) => `"${t.keyword}"`).join(', ')
    throw new InputError(`${file}: no "${KEY}" text chunk, so no generation parameters `
      + `(${others ? `text chunks: ${others}` : 'the file has no text chunks'})`)
  }
  if (!ctx.json) { ctx.out(params.text); return 0 }
  const parsed = parseInfotext(params.text)
  const otherText = Object.fromEntries(texts.filter((t) => t !== params).map((t) => [t.keyword, t.text]))
  const samplerParams = samplerParamsFromInfotext(parsed.fields)
  ctx.out(JSON.stringify({ file, parameters: params.text, ...parsed, samplerParams, otherText }, null, 2))
  return 0
}

export const pngInfo: Command = {
  summary: 'print the generation parameters (A1111 infotext) stored in a PNG',
  help: [
    'Usage: sdloom png-info FILE',
    '',
    'Prints the "parameters" text chunk that AUTOMATIC1111 and sdloom write into their PNGs:',
    'prompt, "Negative prompt: …" and the "Steps: …, Sampler: …" line.',
    'With --json: {file, parameters, prompt, negativePrompt, fields, info, otherText}, where fields holds every',
    '"key: value" of the parameter line and info the ones sdloom understands, typed; samplerParams holds the',
    'sampler settings A1111 records ("Eta", "Sigma churn", "Schedule rho", "NGMS", "Skip Early CFG", …) as generate\'s options.',
  ].join('\n'),
  options: {},
  run,
}
