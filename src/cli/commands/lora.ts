import { basename } from 'node:path'
import { InputError } from '../../core/errors.ts'
import { extractLora } from '../../tools/lora-extract.ts'
import { mergeLoras } from '../../tools/lora-merge.ts'
import { DYNAMIC_METHODS, resizeLora, type DynamicMethod } from '../../tools/lora-resize.ts'
import type { Command, CommandContext } from '../command.ts'
import { dtypeOption, fileWithWeights, layerProgress, numberOption, requiredString } from '../tool-options.ts'

async function extract(ctx: CommandContext, out: string): Promise<unknown> {
  const rank = numberOption(ctx, 'rank', 'integer')
  if (rank === undefined) throw new InputError('lora extract needs --rank R. See: sdloom lora --help')
  const progress = layerProgress(`extract ${basename(out)}`)
  const r = await extractLora(requiredString(ctx, 'tuned', 'lora'), requiredString(ctx, 'base', 'lora'), out, {
    rank, convRank: numberOption(ctx, 'conv-rank', 'integer'), clampQuantile: numberOption(ctx, 'clamp-quantile'),
    minDiff: numberOption(ctx, 'min-diff'), dtype: dtypeOption(ctx), onProgress: progress.onProgress,
  })
  progress.end()
  if (!ctx.json) {
    ctx.out(`wrote ${out}: ${r.architecture} LoRA, rank ${r.rank}${r.convRank ? `, conv rank ${r.convRank}` : ''}; `
      + `modules: UNet ${r.modules.unet}, TE ${r.modules.te1 + r.modules.te2}; ${r.skipped} layer(s) skipped (difference ≤ ${r.minDiff})`)
  }
  return r
}

function dynamic(ctx: CommandContext): { method: DynamicMethod; param: number } | undefined {
  const m = ctx.values.dynamic
  if (m === undefined) return undefined
  if (!DYNAMIC_METHODS.includes(String(m) as DynamicMethod)) throw new InputError(`--dynamic: "${m}" is not one of ${DYNAMIC_METHODS.join(', ')}`)
  const param = numberOption(ctx, 'param')
  if (param === undefined) throw new InputError(`--dynamic ${m} needs --param X`)
  return { method: String(m) as DynamicMethod, param }
}

async function resize(ctx: CommandContext, out: string): Promise<unknown> {
  if (ctx.positionals.length !== 2) throw new InputError('lora resize takes one LoRA file. See: sdloom lora --help')
  const progress = layerProgress(`resize ${basename(out)}`)
  const r = await resizeLora(ctx.positionals[1], out, {
    rank: numberOption(ctx, 'rank', 'integer'), convRank: numberOption(ctx, 'conv-rank', 'integer'), dynamic: dynamic(ctx),
    dtype: dtypeOption(ctx), onProgress: progress.onProgress,
  })
  progress.end()
  if (!ctx.json) {
    const width = Math.max(...r.layers.map((l) => l.module.length))
    ctx.out(r.layers.map((l) => `${l.module.padEnd(width)}  rank ${l.oldRank} → ${l.newRank}  alpha ${+l.alpha.toFixed(4)}  fro ${(l.froRetained * 100).toFixed(1)}%`).join('\n'))
    ctx.out(`wrote ${out}: ${r.layers.length} modules, mean Frobenius norm retained ${(r.meanFroRetained * 100).toFixed(2)}%`)
  }
  return r
}

async function merge(ctx: CommandContext, out: string): Promise<unknown> {
  const inputs = ctx.positionals.slice(1).map((s) => {
    const { file, weights } = fileWithWeights(s)
    if (weights.length > 1) throw new InputError(`lora merge: "${s}": give one weight per LoRA (FILE:W)`)
    return { file, weight: weights[0] ?? 1 }
  })
  const progress = layerProgress(`merge ${basename(out)}`)
  const r = await mergeLoras(inputs, out, { rank: numberOption(ctx, 'rank', 'integer'), convRank: numberOption(ctx, 'conv-rank', 'integer'), dtype: dtypeOption(ctx), onProgress: progress.onProgress })
  progress.end()
  if (!ctx.json) ctx.out(`wrote ${out}: ${r.modules} modules (${r.mode}), ranks ${r.ranks.map((x) => `${x.value} (${x.count})`).join(', ')}`)
  return r
}

const SUBCOMMANDS: Readonly<Record<string, (ctx: CommandContext, out: string) => Promise<unknown>>> = { extract, resize, merge }

async function run(ctx: CommandContext): Promise<number> {
  const sub = SUBCOMMANDS[ctx.positionals[0] ?? '']
  if (!sub) throw new InputError(`lora needs a sub-command: ${Object.keys(SUBCOMMANDS).join(', ')}. See: sdloom lora --help`)
  const result = await sub(ctx, requiredString(ctx, 'out', 'lora'))
  if (ctx.json) ctx.out(JSON.stringify(result, null, 2))
  return 0
}

export const lora: Command = {
  summary: 'LoRA tools: extract from two checkpoints, resize to a lower rank, merge several into one',
  help: [
    'Usage: sdloom lora extract --tuned T --base B --rank R --out FILE [--conv-rank R2] [--clamp-quantile Q] [--min-diff X]',
    '       sdloom lora resize IN --out FILE (--rank R | --dynamic sv_ratio|sv_fro|sv_cumulative --param X [--rank MAX])',
    '       sdloom lora merge A.safetensors:W B.safetensors:W... --out FILE [--rank R [--conv-rank R2]]',
    '',
    'extract  a kohya LoRA of the difference T − B (fine-tune minus its base), layer by layer by truncated SVD:',
    '         text encoder(s) and UNet attention/feed-forward layers at --rank; with --conv-rank also the ResBlock and',
    '         down/upsampler convs. Values are clamped at the --clamp-quantile of their magnitudes (default 0.99, 1 =',
    '         off); layers whose largest difference is ≤ --min-diff (default 0.01) are skipped and counted. alpha = rank.',
    '         Default --dtype fp16.',
    "resize   kohya's resize: SVD of each module's up·down, cut to --rank (conv modules: --conv-rank), or per layer",
    '         by --dynamic: sv_ratio (keep σ > σmax / X), sv_cumulative (Σσ fraction X), sv_fro (Frobenius fraction X),',
    '         with --rank as a cap. Prints each layer\'s new rank; the delta keeps its strength (alpha/rank kept).',
    '         Default --dtype: the input\'s.',
    'merge    LoRAs of one model, each times its weight (default 1): ranks concatenated (exact), or with --rank the',
    '         weighted sum reduced to that rank by SVD.',
    '',
    'Every output is a kohya-format .safetensors (lora_down / lora_up / alpha, ss_network_dim/alpha/module metadata)',
    'written through a temp file; `sdloom inspect` shows its rank and alpha.',
  ].join('\n'),
  options: {
    'out': { type: 'string' }, 'tuned': { type: 'string' }, 'base': { type: 'string' }, 'rank': { type: 'string' },
    'conv-rank': { type: 'string' }, 'clamp-quantile': { type: 'string' }, 'min-diff': { type: 'string' },
    'dynamic': { type: 'string' }, 'param': { type: 'string' }, 'dtype': { type: 'string' },
  },
  run,
}
