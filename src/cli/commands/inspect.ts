import { InputError } from '../../core/errors.ts'
import { inspectFile, reportToJson, type ModelReport } from '../../tools/inspect.ts'
import { formatCard } from '../../tools/inspect-card.ts'
import { formatPngCard, inspectPng, isPngFile, type PngReport } from '../../tools/inspect-png.ts'
import type { Command, CommandContext } from '../command.ts'
import { eachFile, exitStatus, failed } from '../per-file.ts'

async function run(ctx: CommandContext): Promise<number> {
  if (ctx.positionals.length === 0) throw new InputError('inspect needs at least one FILE. See: sdloom inspect --help')
  const outcomes = await eachFile(ctx, ctx.positionals, async (file): Promise<ModelReport | PngReport> =>
    (await isPngFile(file) ? inspectPng(file) : inspectFile(file)))
  const isPng = (r: ModelReport | PngReport): r is PngReport => r.kind === 'png-image'
  const toJson = (r: ModelReport | PngReport) => (isPng(r) ? r : reportToJson(r))
  const jsons = outcomes.map((o) => (failed(o) ? { file: o.file, error: o.error } : toJson(o.value)))
  if (ctx.json) ctx.out(JSON.stringify(jsons.length === 1 ? jsons[0] : jsons, null, 2))
  else {
    const cards = outcomes.flatMap((o) => (failed(o) ? [] : [isPng(o.value) ? formatPngCard(o.value) : formatCard(o.value)]))
    if (cards.length > 0) ctx.out(cards.join('\n\n'))
  }
  return exitStatus(outcomes)
}

export const inspect: Command = {
  summary: 'identify model files: kind, base model, LoRA family, embedding, metadata (reads headers only)',
  help: [
    'Usage: sdloom inspect FILE...',
    '',
    'Prints a card per file: kind (checkpoint, unet-only, vae, text-encoder, lora, embedding, controlnet),',
    'base architecture (SD1.x, SD2.x, SDXL base/refiner, inpainting and instruct-pix2pix variants; SD3, Flux and',
    'others are named as not supported), the config measured from tensor shapes, LoRA algorithm/rank/alpha/base,',
    'embedding vectors, kohya training metadata (likely trigger words), dtypes, parameter count and EMA.',
    'Only headers are read (plus LoRA alpha scalars), so multi-GB files take milliseconds.',
    'A PNG made by sdloom or A1111: its generation parameters and the LoRAs and embeddings it used (with hashes).',
    'With --json: one report object (an array for several files).',
    'Several files: each is reported on its own; a file that cannot be read gets its error (on stderr, and as',
    '{file, error} in --json) and the command exits 1 after printing the others.',
  ].join('\n'),
  options: {},
  run,
}
