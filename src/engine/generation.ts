/*
 * One request on one held model, inside the model's queue: adapters (resolved through the ModelResolver, LoRA mode
 * chosen), the conditioning (cached per prompt), the mode's spec (txt2img-mode.ts, img2img-mode.ts: the pipeline's
 * init-latent strategies), one run of the pipeline's batches for every mode, and each step and image turned into
 * events: phases with counts, steps with s/it and ETA, cheap latent previews, RGB images with their infotext.
 */
import { basename } from 'node:path'
import { InputError, ModelMismatchError } from '../core/errors.ts'
import { formatInfotext, type GenerationInfo } from '../image/infotext.ts'
import { imageToUint8 } from '../image/to-uint8.ts'
import { prepareAdapters, type AdapterMode, type LoraRequest, type PreparedAdapters } from '../pipeline/adapters.ts'
import { buildConditioning } from '../pipeline/conditioning.ts'
import { loraRequestsFromPrompt } from '../pipeline/extra-networks-resolve.ts'
import { cheapPreview } from '../pipeline/latent-preview.ts'
import { resolveRequest, type GenerationParams, type ResolvedRequest } from '../pipeline/request.ts'
import { conditioningRequest, runBatches, type BatchProgress, type FinishedImage, type ModeSpec, type RefinerOptions } from '../pipeline/run-batches.ts'
import { checkSwitchAt } from '../pipeline/refiner.ts'
import { ensureVaeEncoder } from '../pipeline/vae-encoder-weights.ts'
import type { ClipTokenizer } from '../prompt/index.ts'
import { hashFile } from '../tools/hash.ts'
import type { EngineEvent, GeneratedImage, GenerationRequest, GenerationResult, LocalHooks, LocalRun, ModelResolver } from './contract.ts'
import { img2imgModeSpec } from './img2img-mode.ts'
import type { ModelHandle } from './model-handle.ts'
import { hiresNeedsEncoder, txt2imgModeSpec } from './txt2img-mode.ts'
import { adapterWeights } from './validate.ts'
import { adapterIdentity } from './conditioning-key.ts'
import { loadHiresCheckpoint, requestAdaptersOn } from './hires-checkpoint.ts'
import type { PendingEvent, Previewer } from './previews.ts'

export interface GenerationDeps {
  readonly tokenizer: ClipTokenizer
  readonly resolver: ModelResolver
  /** The CLI's policy: sessions released between phases, weights dropped as phases end, LoRAs merged in place. */
  readonly oneShot: boolean
  readonly hashCache: boolean
  readonly emit: (e: PendingEvent) => Promise<void>
  readonly signal?: AbortSignal
  /** The request's preview method (previews.ts); default the cheap projection. */
  readonly preview?: Previewer
  /** The caller's in-process hooks (GenerateOptions.local). */
  readonly local?: LocalHooks
  /** How the engine loads a checkpoint (its loader: thread count, test counters); used for the refiner. */
  readonly load: (file: string) => Promise<ModelHandle['model']>
}

/** The request's LoRAs (its `loras`, then the prompt's `<lora:…>`), each found through the resolver. */
async function resolveLoras(req: GenerationRequest, resolver: ModelResolver): Promise<LoraRequest[]> {
  const out: LoraRequest[] = []
  for (const [i, ref] of (req.loras ?? []).entries()) {
    const file = await resolver.lora(ref.name)
    if (file === undefined) throw new InputError([{ code: 'not-found', path: ['loras', i, 'name'], message: `LoRA "${ref.name}" not found` }])
    out.push({ file, ...adapterWeights(ref) })
  }
  for (const l of loraRequestsFromPrompt(req.prompt)) {
    const file = await resolver.lora(l.name!)
    if (file === undefined) throw new InputError([{ code: 'not-found', path: ['prompt'], message: `<lora:${l.name}>: no LoRA named "${l.name}"` }])
    out.push({ file, name: l.name, te: l.te, unet: l.unet })
  }
  return out
}

/** 'auto': bypass (a switch is new feeds) until the same set comes twice in a row, then merge (no cost per step). */
function chooseMode(handle: ModelHandle, req: GenerationRequest, loras: readonly LoraRequest[], oneShot: boolean): AdapterMode {
  const signature = JSON.stringify(loras)
  handle.loraSet = signature === handle.loraSet.signature ? { signature, repeats: handle.loraSet.repeats + 1 } : { signature, repeats: 1 }
  const mode = req.loraMode ?? (oneShot ? 'merge' : 'auto')
  if (mode !== 'auto') return mode
  return loras.length === 0 || handle.loraSet.repeats >= 2 ? 'merge' : 'bypass'
}

async function applyAdapters(handle: ModelHandle, req: GenerationRequest, loras: readonly LoraRequest[], deps: GenerationDeps): Promise<PreparedAdapters & { mode: AdapterMode }> {
  const mode = chooseMode(handle, req, loras, deps.oneShot)
  await deps.emit({ type: 'phase', phase: 'adapters', label: loras.length > 0 ? `${loras.length} LoRA(s), ${mode}` : undefined })
  const lines: string[] = []
  const prepared = await prepareAdapters(handle.model, {
    loras, embeddingsDir: await deps.resolver.embeddingsDir(), strict: req.strict ?? false, tokenizer: deps.tokenizer, mode,
    oneShot: deps.oneShot, hashCache: deps.hashCache,
    onProgress: (done, total) => { void deps.emit({ type: 'phase', phase: 'adapters', done, total }) },
  }, (line) => lines.push(line))
  for (const line of lines) {
    await deps.emit(line.startsWith('warning: ') ? { type: 'warning', message: line.slice('warning: '.length) } : { type: 'log', message: line })
  }
  return { ...prepared, mode }
}

async function infoHashes(handle: ModelHandle, cache: boolean): Promise<{ modelHash?: string; vaeHash?: string }> {
  const m = handle.model
  handle.hashes ??= {
    model: (await hashFile(m.file, ['autov2'], { cache })).autov2,
    vae: m.vaeFile ? (await hashFile(m.vaeFile, ['autov2'], { cache })).autov2 : undefined,
  }
  return { modelHash: handle.hashes.model, vaeHash: handle.hashes.vae }
}

/** s/it over the batch so far (an honest mean, first step included) and the time left for this and later batches. */
function stepEvent(p: BatchProgress, startedAt: number, r: ResolvedRequest): Extract<EngineEvent, { type: 'step' }> {
  const secondsPerStep = (performance.now() - startedAt) / 1000 / p.step
  const left = p.steps - p.step + p.steps * (p.batchCount - 1 - p.batch)
  return { type: 'step', batch: p.batch, batchCount: r.batchCount, step: p.step, steps: p.steps, secondsPerStep, etaSeconds: secondsPerStep * left }
}

const jsonSafe = (info: GenerationInfo): Record<string, unknown> => JSON.parse(JSON.stringify(info)) as Record<string, unknown>

export async function runGeneration(handle: ModelHandle, req: GenerationRequest, deps: GenerationDeps): Promise<GenerationResult> {
  const { model } = handle
  const warnings: string[] = []
  const emit = async (e: PendingEvent): Promise<void> => { if (e.type === 'warning') warnings.push(e.message); await deps.emit(e) }
  deps.signal?.throwIfAborted()
  // resolved once: the base, the hires checkpoint and the refiner all get the request's LoRAs
  const loras = await resolveLoras(req, deps.resolver)
  const prepared = await applyAdapters(handle, req, loras, { ...deps, emit })
  deps.signal?.throwIfAborted()
  const base: GenerationParams = { ...req, tokenizer: deps.tokenizer, embeddings: prepared.embeddings, ...prepared.infotext }
  const r = resolveRequest(model.nativeSize, base)
  const hashes = await infoHashes(handle, deps.hashCache)
  const local: LocalRun = await deps.local?.prepare?.(model) ?? {}
  if (model.prediction.source !== 'architecture') await emit({ type: 'log', message: `${basename(model.file)}: ${model.prediction.value}-prediction (${model.prediction.detail})` })
  const params: GenerationParams = { ...base, seed: r.seeds[0] }
  const conditioning = deps.oneShot ? undefined : await cachedConditioning(handle, params, r, prepared)
  const images: GeneratedImage[] = []
  let startedAt = performance.now()
  const modeReq = conditioning ? { ...params, tiHashes: conditioning.tiHashes } : params
  const hiresCheckpoint = req.mode === 'txt2img' && req.hires?.checkpoint !== undefined ? await loadHiresCheckpoint(model, {
    name: req.hires.checkpoint, loras, strict: req.strict ?? false, needsEncoder: hiresNeedsEncoder(req),
  }, deps) : undefined
  let refiner: RefinerOptions | undefined
  try {
    const spec = await modeSpec(handle, req, modeReq, r, deps.resolver, hiresCheckpoint?.title)
    refiner = req.refiner ? await loadRefiner(req, loras, deps) : undefined
    await runBatches(model, { ...spec, conditioning: conditioning?.conditioning }, {
      ...hashes, signal: deps.signal, ...(refiner ? { refiner } : {}), keepSessions: !deps.oneShot, oneShot: deps.oneShot, vaeTiling: req.vaeTiling,
      ...(hiresCheckpoint?.hires ? { hiresModel: hiresCheckpoint.hires } : {}),
      ...(local.decoder ? { decoder: local.decoder } : {}),
      onPhase: (phase, batch) => {
        if (phase === 'sample') startedAt = performance.now()
        return emit({ type: 'phase', phase, label: r.batchCount > 1 ? `batch ${batch + 1}/${r.batchCount}` : undefined })
      },
      onProgress: (p) => {
        local.onProgress?.(p)
        const every = req.previewEvery ?? 0
        const preview = every > 0 && (p.step % every === 0 || p.step === p.steps) ? (deps.preview ?? ((q) => cheapPreview(q.denoised, q.latentShape, 0, model.arch)))(p) : undefined
        void emit({ ...stepEvent(p, startedAt, r), ...(preview ? { preview } : {}) })
      },
      onImage: async (img: FinishedImage) => {
        // inpainting's overlay composite when the mode made one, else the decoded picture
        const rgb = img.pixels ?? imageToUint8(img.image)
        const image: GeneratedImage = { index: img.index, seed: img.seed, rgb, infotext: formatInfotext(img.info), info: jsonSafe(img.info) }
        images.push(image)
        await emit({ type: 'image', image })
      },
    })
  } finally {
    await refiner?.model.release()
    await hiresCheckpoint?.hires?.model.release()
    await local.finish?.()
  }
  const { value, source, detail } = model.prediction
  return { images, model: { file: model.file, arch: model.arch, prediction: value, predictionSource: source, predictionDetail: detail }, warnings }
}

/**
 * The request's refiner, loaded for this request only and released after it, with the engine's own loader. Not from
 * the model cache: a cached refiner would need its own model's queue during this job, and two jobs whose base and
 * refiner are each other's models would then wait on each other forever. The request's LoRAs apply to it too, as
 * A1111's networks apply to whichever model runs (by layer name: what does not match is left out, and a LoRA made
 * for another architecture than the refiner's is skipped with a warning).
 */
async function loadRefiner(req: GenerationRequest, loras: readonly LoraRequest[], deps: GenerationDeps): Promise<RefinerOptions> {
  const file = await deps.resolver.checkpoint(req.refiner!)
  const model = await deps.load(file)
  try {
    let embeddings: RefinerOptions['embeddings']
    try {
      embeddings = await requestAdaptersOn(model, loras, false, deps)
    } catch (e) {
      if (!(e instanceof ModelMismatchError)) throw e
      await deps.emit({ type: 'warning', message: `the refiner ${basename(file)} runs without the request's LoRAs: ${e.message}` })
    }
    const hash = (await hashFile(file, ['autov2'], { cache: deps.hashCache })).autov2
    return { model, switchAt: checkSwitchAt(req.refinerSwitchAt ?? 0.8), hash, ...(embeddings ? { embeddings } : {}) }
  } catch (e) {
    await model.release()
    throw e
  }
}

/** The request's mode as the pipeline's spec; img2img, inpainting and pixel-space hires need the VAE encoder first. */
async function modeSpec(handle: ModelHandle, req: GenerationRequest, params: GenerationParams, r: ResolvedRequest, resolver: ModelResolver, hiresCheckpoint?: string): Promise<ModeSpec> {
  if (req.mode === 'img2img' || hiresNeedsEncoder(req)) await ensureVaeEncoder(handle.model)
  return req.mode === 'img2img' ? img2imgModeSpec(handle.model, req, params, r) : txt2imgModeSpec(req, params, r, resolver, hiresCheckpoint)
}

/** The conditioning of a prompt seen before on this model with the same text-encoder state, else built and kept. */
async function cachedConditioning(handle: ModelHandle, params: GenerationParams, r: ResolvedRequest, prepared: PreparedAdapters & { mode: AdapterMode }) {
  const c = conditioningRequest(params, r)
  const key = JSON.stringify({
    prompt: c.prompt, negative: c.negativePrompt, steps: c.scheduleSteps, clipSkip: c.clipSkip, w: c.width, h: c.height, mode: prepared.mode,
    aesthetic: c.aestheticScores,
    ...adapterIdentity(handle.model, prepared),
  })
  const hit = handle.conditioning(key)
  if (hit) return hit
  const conditioning = await buildConditioning(handle.model, c)
  const kept = { conditioning, tiHashes: [...(params.tiHashes ?? [])] }
  handle.keepConditioning(key, kept)
  return kept
}
