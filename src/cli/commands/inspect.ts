import { InputError } from '../../core/errors.ts'
import { inspectFile, reportToJson, type ModelReport } from '../../tools/inspect.ts'
import { formatCard } from '../../tools/inspect-card.ts'
import { formatPngCard, inspectPng, isPngFile, type PngReport } from '../../tools/inspect-png.ts'
import type { Command, CommandContext } from '../command.ts'

async function run(ctx: CommandContext): Promise<number> {
  if (ctx.positionals.length === 0) throw new InputError('inspect needs at least one FILE. See: sdloom inspect --help')
  const reports: (ModelReport | PngReport)[] = []
  for (const file of ctx.positionals) reports.push(await isPngFile(file) ? await inspectPng(file) : await inspectFile(file))
  const isPng = (r: ModelReport | PngReport): r is PngReport => r.kind === 'png-image'
  const toJson = (r: ModelReport | PngReport) => (isPng(r) ? r : reportToJson(r))
  if (ctx.json) ctx.out(JSON.stringify(reports.length === 1 ? toJson(reports[0]) : reports.map(toJson), null, 2))
  else ctx.out(reports.map((r) => (isPng(r) ? formatPngCard(r) : formatCard(r))).join('\n\n'))
  return 0
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
  ].join('\n'),
  options: {},
  run,
}
