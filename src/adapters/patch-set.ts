/**
 * Applies a list of adapters to the base weights, copy-on-write, as A1111 merges them (`network_apply_weights`):
 *   W' = W + Σ_i fround(m_i · delta_i)        in list order, float32, m_i = te or unet multiplier of adapter i.
 * Only touched tensors are materialised; the base arrays are never written. Each adapter's deltas are computed once
 * and cached, so changing one multiplier (or removing one adapter) recomputes only the tensors that adapter touches,
 * from the base and the cached deltas (no matmul). With no adapter left every key reads the base array itself.
 */
import { basename } from 'node:path'
import { InputError, ModelMismatchError } from '../core/errors.ts'
import { BufferPool } from './buffer-pool.ts'
import { applyDora } from './dora.ts'
import { ARCH_NAMES, layerShape, planAdapter, type AdapterPlan, type PlannedModule, type SkippedModule } from './plan.ts'
import { AUTO_MATMUL } from './ort-matmul.ts'
import { matmul, scaleInPlace } from './tensor-math.ts'
import type { Adapter, Arch, BaseWeights, Component, LayerWeight, MatmulBackend } from './types.ts'

export interface PatchEntry {
  readonly adapter: Adapter
  /** Multiplier for text-encoder layers (A1111 `<lora:name:te:unet>`). */
  readonly te: number
  readonly unet: number
}

export interface PatchSetOptions {
  /** Throw ModelMismatchError instead of reporting unmatched keys and skipped modules. */
  readonly strict?: boolean
  /** Where low-rank products (LoRA up @ down) are computed; default AUTO_MATMUL (JS when small, else onnxruntime). */
  readonly matmul?: MatmulBackend
  /**
   * Keep each adapter's deltas (one float32 copy of every tensor it touches) so a multiplier change needs no matmul.
   * Default true; false halves the memory the patch set holds and recomputes the products on every change.
   */
  readonly cacheDeltas?: boolean
  /**
   * Recompute a tensor this set already patched into the same array (faster: no allocation, no page faults), so its
   * identity no longer tells a change; rely on `PatchResult.changed`. Base arrays are never written either way.
   * Default false: every change gives a new array. `update(entries, { inPlace })` overrides it per call.
   */
  readonly inPlace?: boolean
}

/** Float32 products in JS (accumulated in float64): exact enough, slow on full-size models. */
export const JS_MATMUL: MatmulBackend = { matmul: async (a, b, m, k, n, out) => matmul(a, b, m, k, n, out) }

export interface AdapterReport {
  readonly adapter: string
  readonly file: string
  /** Modules applied per network (q/k/v/out of one open_clip attention count as four). */
  readonly applied: { readonly unet: number; readonly te1: number; readonly te2: number }
  readonly unmatchedKeys: readonly string[]
  readonly skipped: readonly SkippedModule[]
  /** DoRA modules by magnitude axis; `ambiguous` lists modules whose `dora_scale` shape could not decide it. */
  readonly dora: { readonly input: number; readonly output: number; readonly ambiguous: readonly string[] }
}

export interface PatchResult {
  /** Patched tensors by LDM key (a live view): only keys some adapter touches; every other key reads from the base. */
  readonly tensors: ReadonlyMap<string, Float32Array>
  /** Keys whose value changed in this update (recomputed, or restored to the base array). */
  readonly changed: readonly string[]
  readonly reports: readonly AdapterReport[]
}

interface Contribution { readonly adapter: Adapter; readonly multiplier: number }

type PlanWithKeys = AdapterPlan & { readonly keys: ReadonlyMap<string, Component> }

/**
 * The wanted keys grouped by layer (a weight with the bias its modules also patch), so each adapter's deltas for a
 * layer are computed together, once, from the unmodified weight.
 */
function layerGroups(plans: readonly PlanWithKeys[], want: ReadonlyMap<string, Contribution[]>): string[][] {
  const groupOf = new Map<string, string[]>()
  for (const p of plans) {
    for (const m of p.modules) {
      const keys = [m.target.key, m.target.biasKey].filter((k): k is string => k !== undefined && p.keys.has(k) && want.has(k))
      const group = keys.map((k) => groupOf.get(k)).find((g) => g) ?? []
      for (const k of keys) if (!group.includes(k)) { group.push(k); groupOf.set(k, group) }
    }
  }
  return [...new Set(groupOf.values())]
}

/**
 * out = base + Σ fround(m·delta) in list order, in float32 as A1111 merges (`out` may be `base` itself: a merge in
 * place). Shared by the copy-on-write and the one-shot paths, so both give the same bits.
 */
function composeInto(out: Float32Array, base: Float32Array, terms: readonly { readonly multiplier: number; readonly delta: Float32Array }[]): Float32Array {
  terms.forEach(({ multiplier, delta }, n) => {
    const m = Math.fround(multiplier)
    const from = n === 0 ? base : out
    for (let i = 0; i < out.length; i++) out[i] = from[i] + Math.fround(m * delta[i])
  })
  return out
}

export interface UpdateOptions {
  readonly inPlace?: boolean
  /** Keys not to merge (layers applied unmerged, see bypass.ts): they read the base array, as without adapters. */
  readonly exclude?: ReadonlySet<string>
}

export interface MergeIntoBaseOptions {
  /** Keys not to merge (layers applied unmerged, see bypass.ts). */
  readonly exclude?: ReadonlySet<string>
  /** Layers merged so far of the total: called before each layer and once at the end (a progress bar). */
  readonly onProgress?: (done: number, total: number) => void
}

const NONE: ReadonlySet<string> = new Set()

export class PatchSet implements BaseWeights {
  readonly #base: BaseWeights
  readonly #arch: Arch
  readonly #strict: boolean
  readonly #matmul: MatmulBackend
  readonly #cacheDeltas: boolean
  readonly #inPlace: boolean
  #queue: Promise<unknown> = Promise.resolve()
  readonly #plans = new Map<Adapter, PlanWithKeys>()
  readonly #deltas = new Map<Adapter, Map<string, Float32Array>>()
  readonly #ids = new Map<Adapter, number>()
  #nextId = 0
  readonly #patched = new Map<string, Float32Array>()
  readonly #signature = new Map<string, string>()
  #consumed = false

  constructor(base: BaseWeights, arch: Arch, options: PatchSetOptions = {}) {
    this.#base = base
    this.#arch = arch
    this.#strict = options.strict ?? false
    this.#matmul = options.matmul ?? AUTO_MATMUL
    this.#cacheDeltas = options.cacheDeltas ?? true
    this.#inPlace = options.inPlace ?? false
  }

  /**
   * Makes the patched weights equal base + the given adapters; returns what changed. A ModelMismatchError (wrong
   * architecture, strict) is thrown before anything changes. Calls are serialised.
   */
  update(entries: readonly PatchEntry[], options: UpdateOptions = {}): Promise<PatchResult> {
    const run = this.#queue.then(() => this.#update(entries, options.inPlace ?? this.#inPlace, options.exclude ?? NONE))
    this.#queue = run.catch(() => undefined)
    return run
  }

  /**
   * One-shot merge INTO THE BASE ARRAYS (W += Σ fround(m_i · delta_i), the same float32 sums as `update`): no patched
   * copy and no delta cache, only one layer's deltas at a time, so applying a LoRA adds next to no memory. For a
   * caller that owns the base arrays and never needs them again (a one-shot `sdloom generate`): afterwards the base
   * is gone, and this set refuses every later call. Each layer's deltas are all computed from its unmodified weight
   * before any is added, as `update` computes them (DoRA, OFT, … see the weight without the other adapters).
   */
  mergeIntoBase(entries: readonly PatchEntry[], options: MergeIntoBaseOptions = {}): Promise<PatchResult> {
    const run = this.#queue.then(() => this.#mergeIntoBase(entries, options))
    this.#queue = run.catch(() => undefined)
    return run
  }

  async #mergeIntoBase(entries: readonly PatchEntry[], options: MergeIntoBaseOptions): Promise<PatchResult> {
    if (this.#consumed || this.#signature.size > 0) {
      throw new InputError('the adapters of this model were already applied once: a one-shot merge into the base weights must be the only change to a model. Hint: load the model again, or use copy-on-write updates (PatchSet.update) for a model that changes adapters')
    }
    const { plans, want } = this.#wanted(entries, options.exclude ?? NONE)
    this.#consumed = true
    const pool = new BufferPool()
    const groups = layerGroups(plans, want)
    for (const [done, group] of groups.entries()) {
      options.onProgress?.(done, groups.length)
      const only = new Set(group)
      const deltas = new Map<Adapter, Map<string, Float32Array>>()
      for (const c of group.flatMap((k) => want.get(k)!)) {
        if (!deltas.has(c.adapter)) deltas.set(c.adapter, await computeDeltas(this.#plans.get(c.adapter)!, this.#base, { backend: this.#matmul, pool, only }))
      }
      for (const key of group) {
        const w = this.#base.get(key)
        composeInto(w, w, want.get(key)!.map((c) => ({ multiplier: c.multiplier, delta: deltas.get(c.adapter)!.get(key)! })))
        this.#base.commit?.(key, w)
      }
      for (const map of deltas.values()) for (const d of map.values()) pool.give(d)
    }
    if (groups.length > 0) options.onProgress?.(groups.length, groups.length)
    // The set is spent: let the adapters' tensors go with the caller's references (a one-shot run samples next).
    this.#plans.clear()
    return { tensors: this.#patched, changed: [...want.keys()], reports: plans.map(report) }
  }

  /** Per tensor key, the adapters touching it with their non-zero multipliers, in list order. */
  #wanted(entries: readonly PatchEntry[], exclude: ReadonlySet<string>): { plans: PlanWithKeys[]; want: Map<string, Contribution[]> } {
    if (this.#consumed) throw new InputError('the base weights of this model were merged in place by a one-shot call (mergeIntoBase), so its adapters cannot change. Hint: load the model again')
    const plans = entries.map((e) => this.#planWithKeys(e.adapter))
    if (this.#strict) for (const p of plans) this.#checkStrict(p)
    const want = new Map<string, Contribution[]>()
    entries.forEach((e, i) => {
      for (const [key, component] of plans[i].keys) {
        const multiplier = component === 'unet' ? e.unet : e.te
        if (multiplier === 0 || exclude.has(key)) continue
        let list = want.get(key)
        if (!list) { list = []; want.set(key, list) }
        list.push({ adapter: e.adapter, multiplier })
      }
    })
    return { plans, want }
  }

  async #update(entries: readonly PatchEntry[], inPlace: boolean, exclude: ReadonlySet<string>): Promise<PatchResult> {
    const { plans, want } = this.#wanted(entries, exclude)
    // Evict first: a switch to another adapter then reuses the replaced adapter's delta arrays (pool), not new ones.
    const pool = new BufferPool()
    this.#evict(new Set(entries.map((e) => e.adapter)), pool)
    const removed = [...this.#signature.keys()].filter((key) => !want.has(key))
    for (const key of removed) {
      if (inPlace) pool.give(this.#patched.get(key)!)
      this.#patched.delete(key)
      this.#signature.delete(key)
    }
    const stale = [...want].map(([key, list]) => ({ key, list, signature: this.#signatureOf(list) }))
      .filter((s) => this.#signature.get(s.key) !== s.signature)
    const needed = new Map<Adapter, Set<string>>()
    for (const s of stale) for (const c of s.list) needed.set(c.adapter, (needed.get(c.adapter) ?? new Set()).add(s.key))
    for (const [a, keys] of needed) await this.#ensureDeltas(a, keys, pool)
    for (const { key, list, signature } of stale) {
      const into = inPlace ? this.#patched.get(key) ?? pool.take(this.#base.get(key).length) : undefined
      this.#patched.set(key, this.#compose(key, list, into))
      this.#signature.set(key, signature)
    }
    if (!this.#cacheDeltas) this.#deltas.clear()
    const changed = [...stale.map((s) => s.key), ...removed]
    return { tensors: this.#patched, changed, reports: plans.map(report) }
  }

  /** The current value of a tensor: patched if an adapter touches it, else the base array itself. */
  get(key: string): Float32Array {
    return this.#patched.get(key) ?? this.#base.get(key)
  }

  /** With `get`, makes a patch set usable wherever base weights are (e.g. graph/session.ts's WeightSource). */
  has(key: string): boolean { return this.#base.has(key) }
  shape(key: string): readonly number[] { return this.#base.shape(key) }

  /** base + Σ fround(m·d) in list order, into `into` (this set's own previous array) or a fresh array. */
  #compose(key: string, list: readonly Contribution[], into?: Float32Array): Float32Array {
    const base = this.#base.get(key)
    return composeInto(into ?? new Float32Array(base.length), base, list.map((c) => ({ multiplier: c.multiplier, delta: this.#deltas.get(c.adapter)!.get(key)! })))
  }

  #signatureOf(list: readonly Contribution[]): string {
    return list.map((c) => `${this.#id(c.adapter)}:${c.multiplier}`).join('|')
  }

  #id(adapter: Adapter): number {
    let id = this.#ids.get(adapter)
    if (id === undefined) { id = this.#nextId++; this.#ids.set(adapter, id) }
    return id
  }

  /**
   * The adapter's plan on this base (throws ModelMismatchError for another architecture), kept while the adapter is
   * in use so callers that check an adapter before applying it do not plan it twice.
   */
  plan(adapter: Adapter): AdapterPlan {
    return this.#planWithKeys(adapter)
  }

  #planWithKeys(adapter: Adapter): PlanWithKeys {
    let p = this.#plans.get(adapter)
    if (!p) {
      const plan = planAdapter(adapter, this.#arch, this.#base)
      const keys = new Map<string, Component>()
      for (const m of plan.modules) {
        keys.set(m.target.key, m.target.component)
        if (m.target.biasKey && (m.module.parts.has('diff_b') || m.module.parts.has('b_norm'))) keys.set(m.target.biasKey, m.target.component)
      }
      p = { ...plan, keys }
      this.#plans.set(adapter, p)
    }
    return p
  }

  /** Computes the adapter's deltas of `keys` not cached yet (bypassed layers never get one). */
  async #ensureDeltas(adapter: Adapter, keys: ReadonlySet<string>, pool: BufferPool): Promise<void> {
    const have = this.#deltas.get(adapter) ?? new Map<string, Float32Array>()
    const missing = new Set([...keys].filter((k) => !have.has(k)))
    if (missing.size > 0) {
      const computed = await computeDeltas(this.#plans.get(adapter)!, this.#base, { backend: this.#matmul, pool, only: missing })
      for (const [k, d] of computed) have.set(k, d)
    }
    this.#deltas.set(adapter, have)
  }

  #evict(keep: ReadonlySet<Adapter>, pool: BufferPool): void {
    for (const a of [...this.#plans.keys()]) {
      if (keep.has(a)) continue
      for (const d of this.#deltas.get(a)?.values() ?? []) pool.give(d)
      this.#plans.delete(a)
      this.#deltas.delete(a)
      this.#ids.delete(a)
    }
  }

  #checkStrict(plan: AdapterPlan): void {
    const problems = [...plan.unmatchedKeys.map((k) => `"${k}"`), ...plan.skipped.map((s) => `${s.module} (${s.reason})`)]
    if (problems.length === 0) return
    throw new ModelMismatchError(plan.adapter.file, `${problems.length} adapter key(s) or module(s) cannot be applied to this `
      + `${ARCH_NAMES[this.#arch]} model (strict): ${problems.slice(0, 5).join(', ')}${problems.length > 5 ? ', …' : ''}. `
      + 'Hint: run without strict to apply the rest and list them as warnings.')
  }
}

interface DeltaContext {
  readonly backend: MatmulBackend
  readonly pool: BufferPool
  /** Only the modules that touch one of these keys (weight or bias). */
  readonly only: ReadonlySet<string>
}

/** The deltas of one adapter (before multipliers) for the keys asked, summed per tensor key. */
async function computeDeltas(plan: AdapterPlan, base: BaseWeights, ctx: DeltaContext): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>()
  const add = (key: string, d: Float32Array, offset: number, total: number) => {
    const acc = out.get(key)
    if (!acc && offset === 0 && d.length === total) { out.set(key, d); return }
    const target = acc ?? ctx.pool.takeZeroed(total)
    for (let i = 0; i < d.length; i++) target[offset + i] += d[i]
    out.set(key, target)
  }
  for (const m of plan.modules) {
    const t = m.target
    if (!ctx.only.has(t.key) && !(t.biasKey && ctx.only.has(t.biasKey))) continue
    const full = base.get(t.key)
    const rowLen = full.length / t.shape[0]
    const sliced = { shape: layerShape(t), data: t.rows ? full.subarray(t.rows.start * rowLen, t.rows.end * rowLen) : full }
    const layer = m.inpaint ? inputChannels(sliced, 0, 4) : sliced
    const d = await moduleDelta(m, layer, ctx)
    if (d.weight) {
      const w = m.dora ? applyDora(d.weight, layer, m.module.parts.get('dora_scale')!, m.dora.axis) : d.weight
      add(t.key, m.inpaint ? padInputChannels(w, layer.shape, t.shape[1]) : w, t.rows ? t.rows.start * rowLen : 0, full.length)
    }
    if (d.bias && t.biasKey) add(t.biasKey, d.bias, 0, base.get(t.biasKey).length)
  }
  return out
}

/** Input channels [from, to) of a conv weight [out, in, kh, kw], copied. */
function inputChannels(layer: LayerWeight, from: number, to: number): LayerWeight {
  const [out, inp, kh, kw] = layer.shape
  const kk = kh * kw
  const data = new Float32Array(out * (to - from) * kk)
  for (let o = 0; o < out; o++) data.set(layer.data.subarray((o * inp + from) * kk, (o * inp + to) * kk), o * (to - from) * kk)
  return { shape: [out, to - from, kh, kw], data }
}

/** Zero-pads a conv delta [out, c, kh, kw] to [out, channels, kh, kw] (new channels after the existing ones). */
function padInputChannels(d: Float32Array, shape: readonly number[], channels: number): Float32Array {
  const [out, c, kh, kw] = shape
  const kk = kh * kw
  const padded = new Float32Array(out * channels * kk)
  for (let o = 0; o < out; o++) padded.set(d.subarray(o * c * kk, (o + 1) * c * kk), o * channels * kk)
  return padded
}

async function moduleDelta(m: PlannedModule, layer: LayerWeight, ctx: DeltaContext): Promise<{ weight?: Float32Array; bias?: Float32Array }> {
  const f = m.algorithm.lowRank?.(m.module)
  if (!f) return m.algorithm.delta(m.module, layer)
  // The scale goes into the small factor: one pass less over the product (differs from scaling after by ~1 ulp).
  const up = scaleInPlace(Float32Array.from(f.up), f.scale)
  return { weight: await ctx.backend.matmul(up, f.down, f.out, f.rank, f.inner, ctx.pool.take(f.out * f.inner)) }
}

function report(plan: AdapterPlan): AdapterReport {
  const applied = { unet: 0, te1: 0, te2: 0 }
  const ambiguous: string[] = []
  let input = 0
  let output = 0
  for (const m of plan.modules) {
    applied[m.target.component]++
    if (!m.dora) continue
    if (m.dora.axis === 'input') input++
    else output++
    if (m.dora.ambiguous) ambiguous.push(m.module.name)
  }
  return {
    adapter: plan.adapter.name,
    file: basename(plan.adapter.file),
    applied,
    unmatchedKeys: plan.unmatchedKeys,
    skipped: plan.skipped,
    dora: { input, output, ambiguous },
  }
}
