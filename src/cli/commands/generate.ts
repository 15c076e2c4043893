/*
 * `sdloom generate PROMPT`: txt2img from a checkpoint file, written as PNGs with A1111's infotext.
 * Test-only override: SDLOOM_DEFAULT_MODEL_SHA256 / SDLOOM_DEFAULT_MODEL_SIZE replace the pinned hash and size of the
 * default model, so the download path can be tested against a small file served locally (with SDLOOM_HF_ENDPOINT).
 */
import { basename } from 'node:path'
import { InputError, SdError } from '../../core/errors.ts'
import { progressBar, type Progress } from '../../core/progress.ts'
import { writePng } from '../../image/png.ts'
import { resolveTokenizerDir } from '../../prompt/index.ts'
import { batchSeeds, RANDN_SOURCES, type RandnSource } from '../../sampling/index.ts'
import type { EngineEvent, GenerationRequest } from '../../engine/contract.ts'
import { Engine } from '../../engine/engine.ts'
import { fileResolver } from '../../engine/file-resolver.ts'
import { validateRequest } from '../../engine/validate.ts'
import { DEFAULT_MODEL, ensureHubModel } from '../../pipeline/default-model.ts'
import { parseLoraFlag } from '../../pipeline/extra-networks-resolve.ts'
import { DEFAULT_OUTPUT_DIR, outputPaths } from '../../pipeline/output-paths.ts'
import { randomSeed } from '../../pipeline/request.ts'
import type { Command, CommandContext } from '../command.ts'

/** Ctrl-C: the run stops after the current step; nothing half-written is left. */
class InterruptedError extends SdError {
  override name = 'InterruptedError'
}

const str = (ctx: CommandContext, k: string): string | undefined => {
  const v = ctx.values[k]
  return typeof v === 'string' ? v : undefined
}

function num(ctx: CommandContext, k: string, integer = true): number | undefined {
  const v = str(ctx, k)
  if (v === undefined) return undefined
  const n = Number(v)
  if (v.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n))) {
    throw new InputError(`--${k} must be ${integer ? 'a whole number' : 'a number'}, got "${v}"`)
  }
  return n
}

function oneOf<T extends string>(ctx: CommandContext, k: string, valid: readonly T[]): T | undefined {
  const v = str(ctx, k)
  if (v === undefined) return undefined
  const lower = v.toLowerCase() as T
  if (!valid.includes(lower)) throw new InputError(`--${k} must be one of ${valid.join(', ')}, got "${v}"`)
  return lower
}

async function modelPath(ctx: CommandContext, signal: AbortSignal): Promise<string> {
  const given = str(ctx, 'model')
  if (given) return given
  const env = process.env
  const spec = {
    ...DEFAULT_MODEL,
    ...(env.SDLOOM_DEFAULT_MODEL_SHA256 ? { sha256: env.SDLOOM_DEFAULT_MODEL_SHA256 } : {}),
    ...(env.SDLOOM_DEFAULT_MODEL_SIZE ? { size: Number(env.SDLOOM_DEFAULT_MODEL_SIZE) } : {}),
  }
  return ensureHubModel(spec, { log: (l) => ctx.warn(l), signal, env })
}

type Flags = Omit<GenerationRequest, 'model'>

function requestOf(ctx: CommandContext): Flags {
  const loras = ctx.values.lora
  return {
    mode: 'txt2img', prompt: ctx.positionals[0], negativePrompt: str(ctx, 'negative') ?? '',
    steps: num(ctx, 'steps'), cfgScale: num(ctx, 'cfg', false), sampler: str(ctx, 'sampler'), scheduler: str(ctx, 'scheduler'),
    seed: num(ctx, 'seed'), rng: oneOf<RandnSource>(ctx, 'rng', RANDN_SOURCES), width: num(ctx, 'width'), height: num(ctx, 'height'),
    batchSize: num(ctx, 'batch-size'), batchCount: num(ctx, 'batch-count'), clipSkip: num(ctx, 'clip-skip'), ensd: num(ctx, 'ensd'),
    vae: str(ctx, 'vae'), prediction: oneOf(ctx, 'prediction', ['eps', 'v'] as const), vaeTiling: oneOf(ctx, 'vae-tiling', ['auto', 'on', 'off'] as const),
    loras: (Array.isArray(loras) ? loras : loras === undefined ? [] : [loras]).map((v) => {
      const l = parseLoraFlag(String(v))
      return { name: l.file!, weight: l.te, unetWeight: l.unet }
    }),
    loraMode: oneOf(ctx, 'lora-mode', ['merge', 'bypass'] as const), strict: ctx.values.strict === true,
  }
}

/** A progress bar over a phase counted in items (tensors loaded, layers merged): live on a TTY, one summary line otherwise. */
function phaseBar(label: string): { tick: (done: number, total: number) => void; end: () => void } {
  let bar: Progress | undefined
  return {
    tick: (done, total) => {
      bar ??= progressBar({ label, total })
      bar.tick(done)
      if (done === total) { bar.end(); bar = undefined }
    },
    end: () => { bar?.end(); bar = undefined },
  }
}

/** The engine's events as the terminal shows them: bars for loading, merging and sampling, log and warning lines. */
function eventPrinter(ctx: CommandContext, file: string): { onEvent: (e: EngineEvent) => void; end: () => void } {
  const load = phaseBar(`loading ${basename(file)}`)
  const merge = phaseBar('merging LoRA layers')
  let sampling: Progress | undefined
  return {
    onEvent: (e) => {
      if (e.type === 'phase' && e.done !== undefined && e.total !== undefined) (e.phase === 'load' ? load : merge).tick(e.done, e.total)
      else if (e.type === 'phase') { load.end(); merge.end() }
      else if (e.type === 'log') ctx.warn(e.message)
      else if (e.type === 'warning') ctx.warn(`warning: ${e.message}`)
      else if (e.type === 'step') {
        if (e.step === 1) sampling = progressBar({ label: e.batchCount > 1 ? `batch ${e.batch + 1}/${e.batchCount}` : 'sampling', total: e.steps })
        sampling?.tick(e.step)
        if (e.step === e.steps) sampling?.end()
      }
    },
    end: () => { load.end(); merge.end() },
  }
}

async function run(ctx: CommandContext): Promise<number> {
  if (ctx.positionals.length !== 1) throw new InputError(`generate takes one PROMPT, got ${ctx.positionals.length}. See: sdloom generate --help`)
  const controller = new AbortController()
  const onSigint = (): void => { controller.abort(new InterruptedError('interrupted (Ctrl-C): stopped after the current step; no image of this batch was written')) }
  process.once('SIGINT', onSigint)
  let engine: Engine | undefined
  try {
    const flags = requestOf(ctx)
    validateRequest({ ...flags, model: str(ctx, 'model') ?? DEFAULT_MODEL.file }) // fail on bad options before anything loads
    const tokenizerDir = await resolveTokenizerDir({ flag: str(ctx, 'tokenizer'), log: (l) => ctx.warn(l), signal: controller.signal })
    const file = await modelPath(ctx, controller.signal)
    // The seed is fixed here so the output file names (which carry it) are known before the images come.
    const seed = flags.seed === undefined || flags.seed === -1 ? randomSeed() : flags.seed
    const seeds = batchSeeds(seed, (flags.batchSize ?? 1) * (flags.batchCount ?? 1))
    engine = new Engine({ resolver: fileResolver({ lorasDir: str(ctx, 'loras'), embeddingsDir: str(ctx, 'embeddings') }), tokenizerDir, oneShot: true })
    const printer = eventPrinter(ctx, file)
    // The folder is made when sampling starts (as before the engine): an error before that leaves nothing behind.
    let files: Promise<string[]> | undefined
    const outFiles = (): Promise<string[]> => (files ??= outputPaths(str(ctx, 'out') ?? DEFAULT_OUTPUT_DIR, seeds))
    const written: { file: string; seed: number; infotext: string }[] = []
    const result = await engine.generate({ ...flags, model: file, seed }, {
      signal: controller.signal,
      onEvent: async (e) => {
        printer.onEvent(e)
        if (e.type === 'phase' && e.phase === 'sample') await outFiles()
        if (e.type !== 'image') return
        const file = (await outFiles())[e.image.index]
        await writePng(file, e.image.rgb, { text: { parameters: e.image.infotext } })
        written.push({ file, seed: e.image.seed, infotext: e.image.infotext })
        if (!ctx.json) ctx.out(file)
      },
    }).finally(() => printer.end())
    const m = result.model
    if (ctx.json) ctx.out(JSON.stringify({ model: m.file, arch: m.arch, prediction: { value: m.prediction, source: m.predictionSource, detail: m.predictionDetail }, images: written }, null, 2))
    return 0
  } finally {
    process.removeListener('SIGINT', onSigint)
    await engine?.close()
  }
}

export const generate: Command = {
  summary: 'txt2img: make images from a prompt with an SD1.x, SD2.x or SDXL checkpoint (A1111-compatible)',
  help: [
    'Usage: sdloom generate PROMPT [options]',
    '',
    'Writes PNGs with A1111\'s "parameters" infotext. Prompt syntax as A1111: (emphasis:1.2), [from:to:when], [a|b],',
    'AND, BREAK, <lora:NAME:W>.',
    '',
    'Options:',
    '  --model FILE         checkpoint (.safetensors/.ckpt); default: SD 1.5, downloaded once into the cache',
    '  --negative TEXT      negative prompt',
    '  --steps N            sampling steps (20)',
    '  --cfg X              CFG scale (7)',
    '  --sampler NAME       A1111 or ComfyUI name: "Euler a" (default), "DPM++ 2M", "DPM++ 2M Karras", LCM, … (sdloom samplers)',
    '  --scheduler NAME     schedule type: Automatic (default: the sampler\'s own), Karras, Exponential, "Align Your Steps", Beta, …',
    '  --eta X --s-noise X  ancestral/SDE eta (1) or DDIM eta (0); noise multiplier (1)',
    '  --sigma-min X --sigma-max X --rho X  schedule overrides as A1111\'s settings (default: the model\'s range, rho 7)',
    '  --seed N             seed of the first image; image i gets seed + i (omitted or --seed=-1: random)',
    '  --rng gpu|cpu|nv     noise source as A1111 (gpu = default = NV Philox stream; cpu = torch CPU generator)',
    '  --width N --height N image size, multiples of 8 (default: the model\'s native size: 512, 768 SD2-v, 1024 SDXL)',
    '  --batch-size N       images per sampling run (1)',
    '  --batch-count N      sampling runs (1); seeds continue across runs',
    '  --clip-skip N        SD1 only (1 = last layer)',
    '  --ensd N             A1111 eta noise seed delta',
    '  --vae-tiling MODE    auto (default: exact whole decode up to 768², tiles above), on (lower memory), off',
    '  --vae FILE           separate VAE replacing the checkpoint\'s',
    '  --prediction eps|v   SD2: override eps/v detection (else file metadata, else A1111\'s probe)',
    '  --lora FILE[:W[:W_UNET]]  apply a LoRA/LyCORIS file (repeatable)',
    '  --loras DIR          folder searched for <lora:NAME:…> in the prompt',
    '  --embeddings DIR     textual-inversion embeddings folder',
    '  --strict             unmatched adapter keys are errors, not warnings',
    '  --lora-mode MODE     merge (default): LoRAs merged into the weights once, no cost per step; bypass: LoRA/LoCon',
    '                       layers run as unmerged low-rank branches: switching is instant, but each step pays for them',
    '                       (rank-128 on every SD1.5 layer: +26-31% per 512² step, ~58 s more for 20 steps than merging',
    '                       once, ~13 s in place here). A one-shot run is faster merged (BENCHMARKS.md "Adapters")',
    '  --out DIR|FILE.png   output folder (files NNNNN-SEED.png) or file (default ./outputs/)',
    '  --tokenizer DIR      CLIP tokenizer files (vocab.json, merges.txt); else SDLOOM_TOKENIZER or a one-time download',
    '',
    'Ctrl-C stops after the current step. --json prints {model, arch, prediction, images: [{file, seed, infotext}]}.',
  ].join('\n'),
  options: {
    'model': { type: 'string' }, 'negative': { type: 'string' }, 'steps': { type: 'string' }, 'cfg': { type: 'string' },
    'sampler': { type: 'string' }, 'scheduler': { type: 'string' }, 'seed': { type: 'string' }, 'rng': { type: 'string' },
    'width': { type: 'string' }, 'height': { type: 'string' }, 'batch-size': { type: 'string' }, 'batch-count': { type: 'string' },
    'clip-skip': { type: 'string' }, 'ensd': { type: 'string' }, 'eta': { type: 'string' }, 's-noise': { type: 'string' },
    'sigma-min': { type: 'string' }, 'sigma-max': { type: 'string' }, 'rho': { type: 'string' }, 'vae': { type: 'string' }, 'prediction': { type: 'string' }, 'vae-tiling': { type: 'string' },
    'lora': { type: 'string', multiple: true }, 'loras': { type: 'string' }, 'embeddings': { type: 'string' }, 'strict': { type: 'boolean' },
    'lora-mode': { type: 'string' },
    'out': { type: 'string' }, 'tokenizer': { type: 'string' },
  },
  run,
}
