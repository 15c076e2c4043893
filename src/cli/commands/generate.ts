/*
 * `sdloom generate PROMPT`: txt2img from a checkpoint file, written as PNGs with A1111's infotext. The command line
 * becomes one Engine request (the same contract the server and workers use) run by an in-process, one-shot Engine:
 * sessions released between phases, LoRAs merged in place, the model dropped after the run. `img2img` shares runMode.
 * Test-only override: SDLOOM_DEFAULT_MODEL_SHA256 / SDLOOM_DEFAULT_MODEL_SIZE replace the pinned hash and size of the
 * default model, so the download path can be tested against a small file served locally (with SDLOOM_HF_ENDPOINT).
 */
import { InputError } from '../../core/errors.ts'
import { formatInfotext, type GenerationInfo } from '../../image/infotext.ts'
import { writePng } from '../../image/png.ts'
import { resolveTokenizerDir } from '../../prompt/index.ts'
import { RANDN_SOURCES, type RandnSource } from '../../sampling/index.ts'
import { DEFAULT_MODEL, ensureHubModel } from '../../pipeline/default-model.ts'
import { WEIGHT_PRECISIONS, type LoadedModel, type Prediction, type WeightPrecision } from '../../pipeline/load-model.ts'
import { DEFAULT_OUTPUT_DIR, outputPaths } from '../../pipeline/output-paths.ts'
import { resolveRequest, type ResolvedRequest } from '../../pipeline/request.ts'
import type { Txt2ImgRequest, Txt2ImgOptions } from '../../pipeline/txt2img.ts'
import { parseLoraFlag } from '../../pipeline/extra-networks-resolve.ts'
import type { AdapterMode } from '../../pipeline/adapters.ts'
import { Engine } from '../../engine/engine.ts'
import type { EngineEvent, GeneratedImage, GenerationBase, GenerationRequest, LocalRun } from '../../engine/contract.ts'
import {
  HIRES_HELP, HIRES_OPTIONS, REFINER_HELP, REFINER_OPTIONS, SAMPLER_PARAMS_HELP, SAMPLER_PARAMS_OPTIONS, VARIATION_HELP, VARIATION_OPTIONS,
  cliResolver, defined, hiresFixOf, refinerOf, samplerParamsOf, sizeOf,
} from './mode-flags.ts'
import type { Command, CommandContext } from '../command.ts'
import { fastDecode, type FastDecodeFlags } from './fast-decode.ts'
import { num, oneOf, str } from '../flags.ts'
import { PREFLIGHT_HELP, preflight } from '../preflight.ts'
import { clipSkipNotice } from '../generate-notices.ts'
import { promptWithLoraTags } from '../lora-tags.ts'
import { listenForCtrlC } from '../interrupt.ts'
import { phaseProgress } from '../phase-progress.ts'
import { fetchFirstUseFiles } from '../first-use-files.ts'
import { engineProgress } from '../engine-progress.ts'

type VaeTilingMode = NonNullable<Txt2ImgOptions['vaeTiling']>

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

function requestOf(ctx: CommandContext): Omit<Txt2ImgRequest, 'tokenizer'> {
  return {
    prompt: ctx.positionals[0], negativePrompt: str(ctx, 'negative') ?? '',
    steps: num(ctx, 'steps'), cfgScale: num(ctx, 'cfg', false), sampler: str(ctx, 'sampler'), scheduler: str(ctx, 'scheduler'),
    seed: num(ctx, 'seed'), rng: oneOf<RandnSource>(ctx, 'rng', RANDN_SOURCES), width: num(ctx, 'width'), height: num(ctx, 'height'),
    batchSize: num(ctx, 'batch-size'), batchCount: num(ctx, 'batch-count'), clipSkip: num(ctx, 'clip-skip'), ensd: num(ctx, 'ensd'),
    subseed: num(ctx, 'subseed'), subseedStrength: num(ctx, 'subseed-strength', false), seedResizeFrom: sizeOf(ctx, 'seed-resize-from'),
    samplerParams: samplerParamsOf(ctx),
  }
}

/** What a command adds to the shared request: txt2img (+ hires fix) for generate, the picture and mask for img2img. */
export interface ModeRunner {
  /** The command's name for messages ("generate takes one PROMPT"). */
  readonly command: string
  request(base: GenerationBase): GenerationRequest
}

function generateMode(ctx: CommandContext): ModeRunner {
  return { command: 'generate', request: (base) => defined({ mode: 'txt2img' as const, ...base, hires: hiresFixOf(ctx) }) }
}

const vaeTilingOf = (ctx: CommandContext): VaeTilingMode | undefined =>
  oneOf<VaeTilingMode>(ctx, 'vae-tiling', ['auto', 'on', 'off'])

function fastDecodeFlags(ctx: CommandContext): FastDecodeFlags {
  const every = num(ctx, 'preview-every') ?? 5
  if (every < 1) throw new InputError(`--preview-every must be 1 or more steps, got ${every}`)
  return { decoder: oneOf(ctx, 'decoder', ['vae', 'taesd'] as const) ?? 'vae', taesd: str(ctx, 'taesd'), preview: str(ctx, 'preview'), previewEvery: every }
}

const loraModeOf = (ctx: CommandContext): AdapterMode | undefined => oneOf<AdapterMode>(ctx, 'lora-mode', ['merge', 'bypass'])

const loraFlagsOf = (ctx: CommandContext): string[] => {
  const loras = ctx.values.lora
  return (Array.isArray(loras) ? loras : loras === undefined ? [] : [loras]).map(String)
}

/** The flags as the Engine's request: seeds fixed here (the output files are named by them), --lora files as `loras`. */
function baseRequest(ctx: CommandContext, request: Omit<Txt2ImgRequest, 'tokenizer'>, r: ResolvedRequest, model: string): GenerationBase {
  const { samplerParams, ...rest } = request
  return defined({
    ...rest, model, seed: r.seeds[0], ...(r.variation ? { subseed: r.variation.subseeds[0] } : {}),
    samplerParams: defined(samplerParams ?? {}),
    vae: str(ctx, 'vae'), prediction: oneOf<Prediction>(ctx, 'prediction', ['eps', 'v']), weights: oneOf<WeightPrecision>(ctx, 'weights', WEIGHT_PRECISIONS),
    vaeTiling: vaeTilingOf(ctx), loraMode: loraModeOf(ctx), strict: ctx.values.strict === true || undefined,
    loras: loraFlagsOf(ctx).map(parseLoraFlag).map((l) => ({ name: l.file!, weight: l.te, unetWeight: l.unet })),
    ...refinerOf(ctx),
  })
}

/** A finished image as its PNG: the composite pixels and the infotext with --lora files written into the prompt. */
async function savePng(file: string, image: GeneratedImage, recordedPrompt: string): Promise<string> {
  const info = { ...(image.info as unknown as GenerationInfo), prompt: recordedPrompt }
  const infotext = formatInfotext(info)
  await writePng(file, image.rgb, { text: { parameters: infotext } })
  return infotext
}

export async function runMode(ctx: CommandContext, mode: ModeRunner): Promise<number> {
  if (ctx.positionals.length !== 1) throw new InputError(`${mode.command} takes one PROMPT, got ${ctx.positionals.length}. See: sdloom ${mode.command} --help`)
  const ctrlC = listenForCtrlC()
  let engine: Engine | undefined
  try {
    const request = requestOf(ctx)
    const r = resolveRequest(512, request) // fail on bad options before the model loads; the seeds name the files
    const fastFlags = fastDecodeFlags(ctx)
    const base = baseRequest(ctx, request, r, '')
    await preflight(ctx, request)
    const fetched = await fetchFirstUseFiles({
      tokenizer: () => resolveTokenizerDir({ flag: str(ctx, 'tokenizer'), log: (l) => ctx.warn(l), signal: ctrlC.signal }),
      model: () => modelPath(ctx, ctrlC.signal),
    }, (l) => ctx.warn(l))
    const resolver = await cliResolver(ctx)
    engine = new Engine({ resolver, tokenizerDir: fetched.tokenizer, oneShot: true })
    return await generateWith(ctx, engine, mode.request({ ...base, model: fetched.model }), { signal: ctrlC.signal, r, fastFlags })
  } finally {
    ctrlC.dispose()
    await engine?.close()
  }
}

async function generateWith(ctx: CommandContext, engine: Engine, req: GenerationRequest, o: { signal: AbortSignal; r: ResolvedRequest; fastFlags: FastDecodeFlags }): Promise<number> {
  const { signal, r } = o
  const progress = engineProgress(phaseProgress({ json: ctx.json }), (l) => ctx.warn(l))
  // --lora files go into the recorded prompt as <lora:NAME:W> tags (the engine applies them from `loras`, once)
  const recordedPrompt = promptWithLoraTags(req.prompt, loraFlagsOf(ctx))
  const written: { file: string; seed: number; infotext: string }[] = []
  let files: string[] = []
  const prepare = async (model: LoadedModel): Promise<LocalRun> => {
    progress.end()
    files = await outputPaths(str(ctx, 'out') ?? DEFAULT_OUTPUT_DIR, r.seeds)
    const clipNote = clipSkipNotice(model.arch, req.clipSkip)
    if (clipNote) ctx.warn(clipNote)
    // its notes come after the engine's model line (the prediction), as they always have
    const fast = await fastDecode(model, o.fastFlags, progress.later)
    return { decoder: fast.decoder, onProgress: fast.onProgress, finish: () => fast.finish() }
  }
  const onImage = async (image: GeneratedImage): Promise<void> => {
    signal.throwIfAborted() // Ctrl-C during the final decode: no image after it
    const infotext = await savePng(files[image.index], image, recordedPrompt)
    written.push({ file: files[image.index], seed: image.seed, infotext })
    if (!ctx.json) ctx.out(files[image.index])
  }
  const onEvent = (e: EngineEvent): Promise<void> | void => (e.type === 'image' ? onImage(e.image) : progress.event(e, r.batchCount))
  const result = await engine.generate(req, { signal, onEvent, local: { prepare } }).finally(() => progress.end())
  signal.throwIfAborted()
  if (ctx.json) {
    const m = result.model
    const prediction = { value: m.prediction, source: m.predictionSource, detail: m.predictionDetail }
    ctx.out(JSON.stringify({ model: m.file, arch: m.arch, prediction, images: written }, null, 2))
  }
  return 0
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
    '  --cfg X              CFG scale (7). A1111\'s UI allows 1-30, its API any number: sdloom takes any number and',
    '                       notes values outside 1-30 (0: the negative prompt alone; below 0: away from the prompt)',
    '  --sampler NAME       A1111 or ComfyUI name: "Euler a" (default), "DPM++ 2M", "DPM++ 2M Karras", LCM, … (sdloom samplers)',
    '  --scheduler NAME     schedule type: Automatic (default: the sampler\'s own), Karras, Exponential, "Align Your Steps", Beta, …',
    '  --eta X --s-noise X  ancestral/SDE eta (1) or DDIM eta (0); noise multiplier (1)',
    '  --sigma-min X --sigma-max X --rho X  schedule overrides as A1111\'s settings (default: the model\'s range, rho 7)',
    ...SAMPLER_PARAMS_HELP,
    '  --seed N             seed of the first image; image i gets seed + i (omitted or --seed=-1: random)',
    '  --rng gpu|cpu|nv     noise source as A1111 (gpu = default = NV Philox stream; cpu = torch CPU generator)',
    '  --width N --height N image size, multiples of 8 (default: the model\'s native size: 512, 768 SD2-v, 1024 SDXL)',
    '  --batch-size N       images per sampling run (1)',
    '  --batch-count N      sampling runs (1); seeds continue across runs',
    '  --clip-skip N        1-12 (1 = last layer); as in A1111 1.10 it changes SD1.x only (a note says so on SD2/SDXL)',
    '  --ensd N             A1111 eta noise seed delta',
    '  --vae-tiling MODE    auto (default: exact whole decode up to 768², tiles above), on (lower memory), off',
    '  --vae FILE           separate VAE replacing the checkpoint\'s',
    '  --decoder vae|taesd  final decode: the VAE (default) or TAESD (tiny decoder: seconds instead of a minute, softer detail)',
    '  --taesd FILE         TAESD decoder file (default: taesd_decoder / taesdxl_decoder in models/VAE-approx or models/vae_approx)',
    '  --preview FILE.png   live preview of the denoised image, rewritten atomically every --preview-every N steps (5);',
    '                       TAESD when a decoder file is found, else A1111\'s cheap latent projection (1/8 size)',
    '  --weights auto|fp32|int8|w8a8  auto (default): fp16 weights stay 16-bit, mapped from the file (loads in about a',
    '                       second from the page cache; the same image as fp32); fp32: all widened at load; int8: UNet and',
    '                       text-encoder Linear/Conv weights held as int8 (a quarter of their memory, about float32 speed;',
    '                       images within ~45-57 dB PSNR of float32); w8a8: int8 weights and the UNet on integer kernels',
    '                       (steps ~0.6x the time; images ~40 dB PSNR of float32; BENCHMARKS.md "w8a8")',
    '  --prediction eps|v   SD2: override eps/v detection (else file metadata, else A1111\'s probe)',
    '  --lora FILE[:W[:W_UNET]]  apply a LoRA/LyCORIS file (repeatable)',
    '  --loras DIR          folder searched for <lora:NAME:…> in the prompt',
    '  --embeddings DIR     textual-inversion embeddings folder',
    '  --strict             unmatched adapter keys are errors, not warnings',
    '  --lora-mode MODE     merge (default): LoRAs merged into the weights once, no cost per step; bypass: LoRA/LoCon',
    '                       layers run as unmerged low-rank branches: switching is instant, but each step pays for them',
    '                       (rank-128 on every SD1.5 layer: +26-31% per 512² step, ~58 s more for 20 steps than merging',
    '                       once, ~13 s in place here). A one-shot run is faster merged (BENCHMARKS.md "Adapters")',
    ...VARIATION_HELP,
    ...HIRES_HELP,
    ...REFINER_HELP,
    '  --out DIR|FILE.png   output folder (files NNNNN-SEED.png) or file (default ./outputs/); PNG only (.jpg/.webp are',
    '                       refused: the infotext lives in PNG text chunks). Checked writable before anything loads',
    ...PREFLIGHT_HELP,
    '  --tokenizer DIR      CLIP tokenizer files (vocab.json, merges.txt); else SDLOOM_TOKENIZER or a one-time download',
    '',
    'Ctrl-C stops before the next step (no image is written after it, exit 130); a second Ctrl-C quits at once.',
    '--json prints {model, arch, prediction, images: [{file, seed, infotext}]}.',
  ].join('\n'),
  options: {
    'model': { type: 'string' }, 'negative': { type: 'string' }, 'steps': { type: 'string' }, 'cfg': { type: 'string' },
    'sampler': { type: 'string' }, 'scheduler': { type: 'string' }, 'seed': { type: 'string' }, 'rng': { type: 'string' },
    'width': { type: 'string' }, 'height': { type: 'string' }, 'batch-size': { type: 'string' }, 'batch-count': { type: 'string' },
    'clip-skip': { type: 'string' }, 'ensd': { type: 'string' }, 'eta': { type: 'string' }, 's-noise': { type: 'string' },
    'sigma-min': { type: 'string' }, 'sigma-max': { type: 'string' }, 'rho': { type: 'string' }, 'vae': { type: 'string' }, 'prediction': { type: 'string' }, 'weights': { type: 'string' }, 'vae-tiling': { type: 'string' },
    'lora': { type: 'string', multiple: true }, 'loras': { type: 'string' }, 'embeddings': { type: 'string' }, 'strict': { type: 'boolean' },
    'lora-mode': { type: 'string' }, 'decoder': { type: 'string' }, 'taesd': { type: 'string' }, 'preview': { type: 'string' },
    'preview-every': { type: 'string' },
    'out': { type: 'string' }, 'max-pixels': { type: 'string' }, 'tokenizer': { type: 'string' }, ...VARIATION_OPTIONS, ...HIRES_OPTIONS,
    ...SAMPLER_PARAMS_OPTIONS, ...REFINER_OPTIONS,
  },
  run: (ctx) => runMode(ctx, generateMode(ctx)),
}
