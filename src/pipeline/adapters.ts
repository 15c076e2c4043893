/**
 * The adapters of one generate call, made ready on a loaded model: LoRA/LyCORIS files (from --lora and from the
 * prompt's `<lora:…>` resolved in --loras) merged through a PatchSet into the model's WeightStore, textual-inversion
 * embeddings (--embeddings plus `bundle_emb.*` of the LoRAs) for the prompt chunker and the text encoders, a report
 * (never silence: unmatched keys and skipped modules/embeddings are warnings, errors under --strict) and the A1111
 * infotext fields `Lora hashes` / `TI hashes`.
 *
 * One PatchSet lives with each model (`model.adapterState`, visible state: it goes when the model goes), so a later call with other
 * adapters recomputes only the tensors they touch and a call with none gives back the base arrays themselves.
 * Tensors that stay patched across a switch are recomputed IN PLACE: at full size a new array per tensor would hold a
 * second copy of every touched weight until the old ones are collected (3.4 GB for a LoRA on the whole SD1.5 UNet).
 * Sessions still see the change: graph/session.ts feeds weights at every run from arrays it wraps without copying
 * (the in-place test in test/e2e/adapters-stack.test.ts checks it), and arrays that come or go change identity.
 * A generation must not run while adapters change: the Engine's per-model queue (engine/) serialises the two.
 *
 * Bypass mode (`mode: 'bypass'`, adapters/bypass.ts): layers patched only by LoRA/LoCon modules (incl. Tucker) are
 * not merged; the WeightStore gets a low-rank layout + feeds (the adapters' own arrays) and the sessions (load-model.ts)
 * are rebuilt only when that layout changes, so a switch between adapters covering the same layers touches no weight.
 */
import { stat } from 'node:fs/promises'
import { basename, resolve } from 'node:path'
import { InputError, ModelMismatchError } from '../core/errors.ts'
import type { NetworkHash } from '../image/infotext.ts'
import { loadAdapter } from '../adapters/adapter-file.ts'
import { refuseNonAdapter } from './adapter-file-kind.ts'
import { NO_BYPASS, planBypass } from '../adapters/bypass.ts'
import { PatchSet, type AdapterReport, type PatchEntry } from '../adapters/patch-set.ts'
import { ARCH_NAMES, type AdapterPlan } from '../adapters/plan.ts'
import type { Adapter, BaseWeights, Component } from '../adapters/types.ts'
import { hashFile } from '../tools/hash.ts'
import type { ClipTokenizer } from '../prompt/index.ts'
import type { WeightStore } from '../models/weights.ts'
import type { PromptEmbeddings } from './conditioning.ts'
import { collectEmbeddings, type EmbeddingsReport } from './embeddings-db.ts'
import { listNetworks, resolveNetworkName, type LoraRequest } from './extra-networks-resolve.ts'
import type { LoadedModel } from './load-model.ts'

export type { LoraRequest } from './extra-networks-resolve.ts'

export interface AdapterRequest {
  /** In order: --lora flags first, then the prompt's calls, as the caller lists them (order = merge order). */
  readonly loras: readonly LoraRequest[]
  /** Where `name` entries are found (--loras). */
  readonly lorasDir?: string
  readonly embeddingsDir?: string
  /** Unmatched adapter keys and skipped modules become a ModelMismatchError instead of warnings. */
  readonly strict?: boolean
  /** Tokenizes embedding names for the prompt index (needed when there are embeddings). */
  readonly tokenizer?: ClipTokenizer
  /** false: do not read or write the hash cache (tools/hash.ts) for the LoRA hashes. */
  readonly hashCache?: boolean
  /**
   * Keep each LoRA's deltas (one float32 copy of every tensor it touches) so a later multiplier change needs no
   * matmul: for a server that switches often. Default true; a one-shot CLI run saves that memory with false.
   * Changing it drops the cache and recomputes every patched tensor once.
   */
  readonly cacheDeltas?: boolean
  /**
   * The model serves this one call and is dropped after it (a one-shot `sdloom generate`): merged adapters are added
   * into the base weight arrays themselves (PatchSet.mergeIntoBase), so a LoRA adds next to no memory and no copy is
   * made; the model's adapters cannot change afterwards (a later call throws InputError).
   */
  readonly oneShot?: boolean
  /** One-shot merge progress: layers merged of the total (a full-model LoRA takes seconds to tens of seconds). */
  readonly onProgress?: (done: number, total: number) => void
  /**
   * 'merge' (default): every adapter is merged into the weights (no cost per step; a switch recomputes the touched
   * tensors). 'bypass': plain LoRA/LoCon layers run as unmerged low-rank branches beside the base weights (a switch or
   * a multiplier change is new feeds, no weight is touched; each UNet step pays for the branches); everything else is
   * merged as in 'merge'. The sessions are rebuilt only when the set of bypassed layers (the layout) changes.
   */
  readonly mode?: AdapterMode
  /**
   * Keep earlier calls' LoRA files loaded (and hashed) instead of only this call's, so switching back to one needs no
   * file read: for a server that switches often. Default false (dropped LoRAs free their memory).
   */
  readonly keepLoaded?: boolean
}

export type AdapterMode = 'merge' | 'bypass'

/** Where warnings and the summary go (the CLI: stderr). */
export type AdapterLog = (line: string) => void

export interface AppliedLora extends AdapterReport {
  /** The name the infotext shows: as the prompt wrote it, or the file stem for --lora. */
  readonly mentionedName: string
  readonly te: number
  readonly unet: number
  /** A1111's LoRA short hash (12 hex): kohya's `sshs_model_hash` metadata, else AutoV3. */
  readonly hash: string
  /** Of the applied modules, those run as unmerged low-rank branches (bypass mode); the rest were merged. */
  readonly bypassed: Readonly<Record<Component, number>>
}

export interface AdaptersReport {
  readonly loras: readonly AppliedLora[]
  readonly embeddings: EmbeddingsReport
  /** Tensors that now differ from the base, and how many of them this call recomputed or restored. */
  readonly patchedTensors: number
  readonly changedTensors: number
  readonly mode: AdapterMode
  /** Layers running unmerged low-rank branches (bypass mode), and their slots (one per adapter on the layer). */
  readonly bypassedLayers: number
  readonly bypassSlots: number
  readonly warnings: readonly string[]
}

export interface PreparedAdapters {
  readonly embeddings: PromptEmbeddings
  readonly report: AdaptersReport
  /**
   * Infotext fields for txt2img. `tiHashes` is live: it fills as conditioning uses embeddings (PromptEmbeddings.used),
   * in order of first use, each name once (A1111 repeats names across encoder calls; we do not).
   */
  readonly infotext: { readonly loraHashes: readonly NetworkHash[]; readonly tiHashes: readonly NetworkHash[] }
}

interface CachedAdapter { readonly size: number; readonly mtimeMs: number; readonly adapter: Adapter; hash?: string }

/**
 * The adapters applied to one model, held on the LoadedModel itself (`model.adapterState`) so whoever holds the model
 * sees what it carries and what a lock must cover: the PatchSet over its base weights and the LoRA files it loaded.
 */
export class AdapterState {
  private patches: PatchSet | undefined
  private deltasCached = true
  /** LoRA files by absolute path; pruned to the files of the latest call so dropped LoRAs free their memory. */
  files = new Map<string, CachedAdapter>()
  private readonly base: BaseWeights
  constructor(store: WeightStore, private readonly arch: AdaptableModel['arch']) {
    this.base = { has: (k) => store.has(k), shape: (k) => store.shape(k), get: (k) => store.getBase(k), commit: (k, d) => store.commit(k, d) }
  }

  get baseWeights(): BaseWeights { return this.base }

  /** The PatchSet, made anew when the delta cache policy changes (which recomputes every patched tensor once). */
  patchSet(cacheDeltas: boolean): PatchSet {
    if (!this.patches || this.deltasCached !== cacheDeltas) {
      this.patches = new PatchSet(this.base, this.arch, { inPlace: true, cacheDeltas })
      this.deltasCached = cacheDeltas
    }
    return this.patches
  }
}

/** What adapters need of a loaded model. */
export type AdaptableModel = Pick<LoadedModel, 'arch' | 'weights' | 'adapterState'>

/** Weights read outside loadModel (benchmarks, tools) made adaptable. */
export const adaptableModel = (weights: WeightStore, arch: AdaptableModel['arch']): AdaptableModel =>
  ({ arch, weights, adapterState: new AdapterState(weights, arch) })

interface ResolvedLora { readonly file: string; readonly mentionedName: string; readonly te: number; readonly unet: number }

async function resolveLoras(req: AdapterRequest): Promise<ResolvedLora[]> {
  const named = req.loras.filter((l) => l.file === undefined)
  if (named.length > 0 && req.lorasDir === undefined) {
    throw new InputError(`the prompt uses <lora:${named[0].name}> but no LoRA folder was given. Hint: add --loras DIR, or pass the file with --lora FILE:WEIGHT.`)
  }
  const available = named.length > 0 ? await listNetworks(req.lorasDir!) : new Map<string, string>()
  const out: ResolvedLora[] = []
  for (const l of req.loras) {
    for (const [what, v] of [['text-encoder', l.te], ['UNet', l.unet]] as const) {
      if (!Number.isFinite(v)) throw new InputError(`LoRA ${l.file ?? l.name}: the ${what} weight must be a number, got ${v}`)
    }
    if (l.file !== undefined) { out.push({ file: resolve(l.file), mentionedName: l.name ?? stem(l.file), te: l.te, unet: l.unet }); continue }
    if (!l.name) throw new InputError('a LoRA request needs a file or a name')
    out.push({ file: await resolveNetworkName(l.name, available, req.lorasDir!), mentionedName: l.name, te: l.te, unet: l.unet })
  }
  return out
}

const stem = (file: string): string => basename(file).replace(/\.(safetensors|pt|ckpt)$/i, '')

async function loadCached(state: AdapterState, file: string): Promise<CachedAdapter> {
  const st = await stat(file).catch(() => undefined)
  if (!st?.isFile()) throw new InputError(`--lora ${file}: no such file`)
  const hit = state.files.get(file)
  if (hit && hit.size === st.size && hit.mtimeMs === st.mtimeMs) return hit
  await refuseNonAdapter(file)
  const entry = { size: st.size, mtimeMs: st.mtimeMs, adapter: await loadAdapter(file) }
  state.files.set(file, entry)
  return entry
}

/** Wrong architecture always throws (PatchSet.plan); under strict, so does anything that would not apply. */
function checkAdapter(adapter: Adapter, model: AdaptableModel, patchSet: PatchSet, strict: boolean): AdapterPlan {
  const plan = patchSet.plan(adapter)
  if (!strict) return plan
  const problems = [...plan.unmatchedKeys.map((k) => `"${k}"`), ...plan.skipped.map((s) => `${s.module} (${s.reason})`)]
  if (problems.length === 0) return plan
  throw new ModelMismatchError(adapter.file, `--strict: ${problems.length} key(s) or module(s) of LoRA "${adapter.name}" cannot be applied `
    + `to this ${ARCH_NAMES[model.arch]} model: ${problems.slice(0, 5).join(', ')}${problems.length > 5 ? ', …' : ''}. `
    + 'Hint: run without --strict to apply the rest and see these as warnings.')
}

const firstFew = (list: readonly string[], n = 5): string =>
  `${list.slice(0, n).join(', ')}${list.length > n ? `, … (${list.length - n} more)` : ''}`

function loraWarnings(r: AdapterReport, arch: AdaptableModel['arch']): string[] {
  const out: string[] = []
  const who = `LoRA "${r.adapter}" (${r.file})`
  if (r.unmatchedKeys.length > 0) {
    out.push(`${who}: ${r.unmatchedKeys.length} key(s) match no layer of this ${ARCH_NAMES[arch]} model and were ignored: `
      + `${firstFew(r.unmatchedKeys.map((k) => `"${k}"`))}. Hint: --strict makes this an error.`)
  }
  if (r.skipped.length > 0) out.push(`${who}: ${r.skipped.length} module(s) not applied: ${firstFew(r.skipped.map((s) => `${s.module} (${s.reason})`), 3)}`)
  if (r.dora.ambiguous.length > 0) {
    out.push(`${who}: the DoRA magnitude axis of ${r.dora.ambiguous.length} module(s) cannot be told from their shapes (a flat dora_scale on a square layer); applied per input channel as A1111 ≥ 1.9 does: ${firstFew(r.dora.ambiguous, 3)}`)
  }
  return out
}

function summary(r: AppliedLora, arch: AdaptableModel['arch'], mode: AdapterMode): string {
  const te = arch === 'sdxl' ? `${r.applied.te1} CLIP-L, ${r.applied.te2} OpenCLIP bigG` : `${r.applied.te1} text-encoder`
  const line = `LoRA ${r.mentionedName} (${r.file}): te ${r.te}, unet ${r.unet}; patched ${te} and ${r.applied.unet} UNet module(s)`
  if (mode === 'merge') return line
  const total = (c: Readonly<Record<Component, number>>) => c.unet + c.te1 + c.te2
  return `${line}; ${total(r.bypassed)} bypassed (low-rank branches), ${total(r.applied) - total(r.bypassed)} merged`
}

async function loraHash(entry: CachedAdapter, file: string, cache: boolean): Promise<string> {
  entry.hash ??= (entry.adapter.metadata.sshs_model_hash?.slice(0, 12) || (await hashFile(file, ['autov3'], { cache })).autov3)
  return entry.hash
}

/** Applies the requested adapters to `model` (replacing the previous call's) and loads the embeddings. */
export async function prepareAdapters(model: AdaptableModel, request: AdapterRequest, log: AdapterLog): Promise<PreparedAdapters> {
  const state = model.adapterState
  const patchSet = state.patchSet(request.cacheDeltas ?? true)
  const mode = request.mode ?? 'merge'
  const loras = await resolveLoras(request)
  const entries = new Map<string, CachedAdapter>()
  for (const l of loras) entries.set(l.file, await loadCached(state, l.file))
  const plans = new Map([...entries].map(([file, e]) => [file, checkAdapter(e.adapter, model, patchSet, request.strict ?? false)]))
  // Embeddings before patching: a bad --embeddings folder must not leave the model with the new LoRAs half-announced.
  const emb = await collectEmbeddings({ model, tokenizer: request.tokenizer, dir: request.embeddingsDir, adapters: [...entries.values()].map((e) => e.adapter) })
  const patchEntries: PatchEntry[] = loras.map((l) => ({ adapter: entries.get(l.file)!.adapter, te: l.te, unet: l.unet }))
  const bypass = mode === 'bypass' ? planBypass(patchEntries, loras.map((l) => plans.get(l.file)!), state.baseWeights) : NO_BYPASS
  const result = request.oneShot
    ? await patchSet.mergeIntoBase(patchEntries, { exclude: bypass.keys, onProgress: request.onProgress })
    : await patchSet.update(patchEntries, { exclude: bypass.keys })
  model.weights.setPatches(result.tensors)
  model.weights.setLowRank(bypass.layout, bypass.feeds)
  state.files = request.keepLoaded ? new Map([...state.files, ...entries]) : entries
  const warnings: string[] = []
  const applied: AppliedLora[] = []
  for (const [i, l] of loras.entries()) {
    const r = result.reports[i]
    const hash = await loraHash(entries.get(l.file)!, l.file, request.hashCache ?? true)
    applied.push({ ...r, mentionedName: l.mentionedName, te: l.te, unet: l.unet, hash, bypassed: bypass.bypassed[i] ?? { unet: 0, te1: 0, te2: 0 } })
    if (loras.findIndex((x) => x.file === l.file) === i) warnings.push(...loraWarnings(r, model.arch))
  }
  // One-shot merge: the adapters are in the weights now; holding their tensors would only raise the sampling peak.
  if (request.oneShot && bypass.layout.size === 0) state.files = new Map()
  warnings.push(...emb.warnings)
  for (const r of applied) log(summary(r, model.arch, mode))
  for (const w of warnings) log(`warning: ${w}`)
  return {
    embeddings: emb.embeddings,
    report: {
      loras: applied, embeddings: emb.report, patchedTensors: result.tensors.size, changedTensors: result.changed.length, warnings,
      mode, bypassedLayers: bypass.layout.size, bypassSlots: [...bypass.layout.values()].reduce((a, b) => a + b.length, 0),
    },
    infotext: { loraHashes: dedupe(applied.map((r) => ({ name: r.mentionedName, hash: r.hash }))), tiHashes: emb.tiHashes },
  }
}

/** One infotext entry per name (A1111 keys `p.lora_hashes` by name: the last one wins, at the first one's place). */
function dedupe(list: readonly NetworkHash[]): NetworkHash[] {
  const byName = new Map<string, NetworkHash>()
  for (const n of list) byName.set(n.name, n)
  return [...byName.values()]
}
