/*
 * The state dict sdloom owns: float32 arrays by checkpoint key, read once from a TensorSource.
 * Adapters never mutate base arrays; they install patched copies of the tensors they touch (copy-on-write),
 * and clearing the patches gives back the base arrays bit for bit.
 * Two compact forms: weight-only int8 (`--weights int8`) and fp16 kept at its stored width (`--weights auto`, mapped
 * from the file where it can be): the graph widens either where the weight is used.
 */
import type { TensorSource } from '../formats/tensor-source.ts'
import type { WeightSource } from '../graph/session.ts'
import type { ShapeSource } from '../nn/module.ts'
import { TensorFileError } from '../core/errors.ts'
import { isFloatDType } from '../core/dtype.ts'
import type { HostTensor } from '../core/host-tensor.ts'
import type { LowRankLayout } from '../nn/low-rank.ts'
import { dequantizeRows, quantizeRows, type Int8Weight } from '../graph/int8-weights.ts'
import { isRowQuantizable, quantizeStored } from './int8-load.ts'
import { bytesToF32 } from '../formats/to-f32.ts'

interface LowRankState { readonly layout: LowRankLayout; readonly feeds: ReadonlyMap<string, HostTensor> }

export interface LoadOptions {
  /** Only keys starting with one of these prefixes are read (e.g. 'model.diffusion_model.'). */
  readonly prefixes?: readonly string[]
  /** Renames a file key to the engine's key (e.g. a separate VAE file's keys → `first_stage_model.*`). */
  readonly rename?: (key: string) => string | undefined
  readonly onProgress?: (done: number, total: number) => void
  /** Keys to hold as weight-only int8 (graph/int8-weights.ts): each is quantized as it is read; no float32 copy stays. */
  readonly int8?: (key: string, shape: readonly number[]) => boolean
  /**
   * Hold F16 tensors at their stored width (a view of the mapped file where the source can map it, else read as
   * stored): the graph casts them to float32 as it uses them, exactly. Default: as the store was loaded.
   */
  readonly keepF16?: boolean
}

/**
 * Tensor reads kept in flight while loading, so reading (and the kernel's page faults on the destination) overlaps
 * widening. On the loaded shared machine it measured the same CPU as 1 (BENCHMARKS.md "Load time"); 3 bounds the
 * extra memory to three tensors.
 */
const READ_AHEAD = 3

export class WeightStore implements WeightSource, ShapeSource {
  private readonly base = new Map<string, Float32Array>()
  private readonly shapes = new Map<string, readonly number[]>()
  private patches = new Map<string, Float32Array>()
  /** Weights held as int8 codes + scales; their float32 form exists only while an adapter computes from it. */
  private readonly quantized = new Map<string, Int8Weight>()
  /** Patched copies of int8 weights, quantized as the graph takes them (the float32 patch stays in `patches`). */
  private quantizedPatches = new Map<string, Int8Weight>()
  /** F16 weights at their stored width (often views of the mapped file); the graph is fed them until patched. */
  private readonly f16 = new Map<string, Uint16Array>()
  /** Whether merges keep F16 tensors at stored width (set by load). */
  private keepF16 = false
  private lowRank: LowRankState = { layout: new Map(), feeds: new Map() }

  constructor(readonly file: string) {}

  static async load(source: TensorSource, opts: LoadOptions = {}): Promise<WeightStore> {
    const store = new WeightStore(source.file)
    store.keepF16 = opts.keepF16 ?? false
    await store.merge(source, opts)
    return store
  }

  /** Reads float tensors of `source` into this store (later sources replace earlier keys, e.g. a separate VAE). */
  async merge(source: TensorSource, opts: LoadOptions = {}): Promise<void> {
    const wanted = source.keys().filter((k) => {
      if (opts.prefixes && !opts.prefixes.some((p) => k.startsWith(p))) return false
      return isFloatDType(source.info(k).dtype) && (opts.rename ? opts.rename(k) : k) !== undefined
    })
    // READ_AHEAD reads in flight: while this thread widens one tensor (faulting in its fresh pages), libuv's threads
    // read the next ones (the kernel faults their pages on the other core).
    const name = (key: string) => opts.rename ? opts.rename(key) as string : key
    const asInt8 = wanted.map((k) => opts.int8?.(name(k), source.info(k).shape) === true)
    const keepF16 = opts.keepF16 ?? this.keepF16
    const asF16 = wanted.map((k, i) => keepF16 && !asInt8[i] && source.info(k).dtype === 'F16')
    const reader = new StoredReader(source, wanted.filter((k, i) => asInt8[i]))
    const pending = new Map<number, Promise<Float32Array | Int8Weight | Uint16Array>>()
    const start = (i: number) => {
      if (i >= wanted.length) return
      pending.set(i, asInt8[i] ? reader.quantized(wanted[i], i % (READ_AHEAD + 1)) : asF16[i] ? storedF16(source, wanted[i]) : source.readF32(wanted[i]))
    }
    for (let i = 0; i < READ_AHEAD; i++) start(i)
    try {
      for (let i = 0; i < wanted.length; i++) {
        const key = wanted[i]
        const data = await pending.get(i)!
        pending.delete(i)
        start(i + READ_AHEAD)
        const shape = source.info(key).shape
        if (data instanceof Float32Array) this.set(name(key), shape, data)
        else if (data instanceof Uint16Array) this.setF16(name(key), shape, data)
        else this.setInt8(name(key), shape, data)
        opts.onProgress?.(i + 1, wanted.length)
      }
    } finally {
      await Promise.allSettled(pending.values())          // no read left running on a source the caller may close
    }
  }

  set(key: string, shape: readonly number[], data: Float32Array): void {
    this.base.set(key, data)
    this.quantized.delete(key)
    this.f16.delete(key)
    this.shapes.set(key, shape)
  }

  setInt8(key: string, shape: readonly number[], w: Int8Weight): void {
    this.quantized.set(key, w)
    this.base.delete(key)
    this.f16.delete(key)
    this.shapes.set(key, shape)
  }

  /** Holds `key` as IEEE half bits (e.g. a view of the mapped file); nothing is copied. */
  setF16(key: string, shape: readonly number[], bits: Uint16Array): void {
    this.f16.set(key, bits)
    this.base.delete(key)
    this.quantized.delete(key)
    this.shapes.set(key, shape)
  }

  has(key: string): boolean { return this.base.has(key) || this.quantized.has(key) || this.f16.has(key) }
  keys(): IterableIterator<string> { return [...this.base.keys(), ...this.quantized.keys(), ...this.f16.keys()][Symbol.iterator]() }

  isInt8(key: string): boolean { return this.quantized.has(key) }

  /** Whether the graph takes `key` as float16 (held at stored width and not patched: a patch is float32). */
  isF16(key: string): boolean { return this.f16.has(key) && !this.patches.has(key) }

  /** The half bits the graph is fed for a weight bound as float16, else undefined. */
  float16(key: string): Uint16Array | undefined { return this.isF16(key) ? this.f16.get(key) : undefined }

  /**
   * Which weights under `prefix` a graph takes as float32 although they are held as float16 (patched), and how many
   * it takes as float16: a session bound for another answer must be rebuilt (its inputs' element types differ).
   */
  widthSignature(prefix = ''): string {
    let held = 0
    const widened: string[] = []
    for (const key of this.f16.keys()) {
      if (!key.startsWith(prefix)) continue
      held++
      if (this.patches.has(key)) widened.push(key)
    }
    return `${held}:${widened.join(',')}`
  }

  /** The int8 form the graph is fed for a quantized weight (its patched form while an adapter patches it). */
  int8(key: string): Int8Weight | undefined { return this.quantizedPatches.get(key) ?? this.quantized.get(key) }

  /** Bytes held by the weights (float32 arrays, int8 codes and scales), patches not counted. */
  heldBytes(): number {
    let n = 0
    for (const a of this.base.values()) n += a.byteLength
    for (const q of this.quantized.values()) n += q.q.byteLength + q.scale.byteLength
    for (const h of this.f16.values()) n += h.byteLength
    return n
  }

  shape(key: string): readonly number[] {
    const s = this.shapes.get(key) ?? this.lowRank.feeds.get(key)?.shape
    if (!s) throw new TensorFileError(this.file, key, 'not in the loaded weights')
    return s
  }

  /** The current value: the patched copy when an adapter touches the key, else the base array (or a low-rank feed). */
  get(key: string): Float32Array {
    const v = this.patches.get(key) ?? this.base.get(key) ?? this.dequantized(key) ?? this.lowRank.feeds.get(key)?.data
    if (!v) throw new TensorFileError(this.file, key, 'not in the loaded weights')
    return v
  }

  /** The unpatched array (adapters compute from it). */
  getBase(key: string): Float32Array {
    const v = this.base.get(key) ?? this.dequantized(key)
    if (!v) throw new TensorFileError(this.file, key, 'not in the loaded weights')
    return v
  }

  /** A fresh float32 copy of an int8 or F16 weight (what the graph's DequantizeLinear or Cast computes), or undefined. */
  private dequantized(key: string): Float32Array | undefined {
    const q = this.quantized.get(key)
    if (q) return dequantizeRows(q)
    const h = this.f16.get(key)
    return h && bytesToF32('F16', new Uint8Array(h.buffer, h.byteOffset, h.byteLength), h.length)
  }

  /**
   * Takes back a base weight an adapter merged in place (PatchSet.mergeIntoBase): a float32 weight already is that
   * array; an int8 weight is quantized again from it (as quantizing the merged checkpoint would).
   */
  commit(key: string, data: Float32Array): void {
    const q = this.quantized.get(key)
    if (q) this.quantized.set(key, quantizeRows(data, q.scale.length))
    // an F16 weight becomes that float32 array (rounding it back to half would change the merge)
    if (this.f16.has(key)) this.set(key, this.shape(key), data)
  }

  /**
   * Forgets every tensor whose key starts with one of `prefixes` (base and patched arrays), so a one-shot run can
   * return a network's memory once no later phase needs it. Returns how many tensors were dropped.
   */
  drop(prefixes: readonly string[]): number {
    let n = 0
    for (const key of [...this.keys()]) {
      if (!prefixes.some((p) => key.startsWith(p))) continue
      this.base.delete(key)
      this.quantized.delete(key)
      this.f16.delete(key)
      this.patches.delete(key)
      this.quantizedPatches.delete(key)
      n++
    }
    const feeds = new Map([...this.lowRank.feeds].filter(([k]) => !prefixes.some((p) => k.startsWith(p))))
    const layout = new Map([...this.lowRank.layout].filter(([k]) => !prefixes.some((p) => k.startsWith(p))))
    this.lowRank = { layout, feeds }
    return n
  }

  /** Replaces the whole patch set (an empty map restores the base weights exactly). */
  setPatches(patches: ReadonlyMap<string, Float32Array>): void {
    this.patches = new Map(patches)
    // A patched int8 weight is fed as int8 too (its graph input is int8): quantize each patch once, when set.
    const old = this.quantizedPatches
    this.quantizedPatches = new Map()
    for (const key of [...this.patchSource.keys()]) if (!patches.has(key)) this.patchSource.delete(key)
    for (const [key, data] of patches) {
      const q = this.quantized.get(key)
      if (!q) continue
      const prev = old.get(key)
      this.quantizedPatches.set(key, prev && this.patchSource.get(key) === data ? prev : quantizeRows(data, q.scale.length))
      this.patchSource.set(key, data)
    }
  }

  /** The float32 patch each quantized patch was made from (an unchanged patch is not quantized again). */
  private readonly patchSource = new Map<string, Float32Array>()

  /**
   * The arrays that hold `key` now, as they are (float32, half bits, or int8 codes and scales, plus the patch and its
   * codes while an adapter patches it): for memory accounting, which must not widen a copy of each weight to count it.
   */
  heldArrays(key: string): ArrayBufferView[] {
    const out: ArrayBufferView[] = []
    const stored = this.base.get(key) ?? this.f16.get(key)
    if (stored) out.push(stored)
    for (const q of [this.quantized.get(key), this.quantizedPatches.get(key)]) if (q) out.push(q.q, q.scale)
    const patch = this.patches.get(key)
    if (patch) out.push(patch)
    return out
  }

  /** The patched float32 copy of `key` an adapter installed, if any. */
  patch(key: string): Float32Array | undefined { return this.patches.get(key) }

  get patchedKeys(): readonly string[] { return [...this.patches.keys()] }

  /**
   * Replaces the unmerged low-rank branches (nn/low-rank.ts): `layout` gives the slots of each bypassed layer, `feeds`
   * holds each slot input (by its graph input name) that `get`/`shape` serve. Sessions built for another layout must be
   * rebuilt (`lowRankLayout` tells); an empty layout means none.
   */
  setLowRank(layout: LowRankLayout, feeds: ReadonlyMap<string, HostTensor>): void {
    this.lowRank = { layout: new Map(layout), feeds: new Map(feeds) }
  }

  /** The low-rank layout of the layers whose keys start with `prefix` (a graph's share of it). */
  lowRankLayout(prefix = ''): LowRankLayout {
    return new Map([...this.lowRank.layout].filter(([k]) => k.startsWith(prefix)))
  }
}

/**
 * Reads the weights held as int8 and quantizes each from its stored bytes (models/int8-load.ts). Where the source
 * can read into a caller's buffer, READ_AHEAD + 1 reused buffers (one per read in flight, one being quantized) take
 * the stored bytes, so a tensor costs no fresh memory beyond its int8 codes.
 */
class StoredReader {
  private readonly slots: Uint8Array[]
  constructor(private readonly source: TensorSource, keys: readonly string[]) {
    const largest = Math.max(0, ...keys.map((k) => source.info(k).byteLength))
    this.slots = source.readRawInto && largest > 0 ? Array.from({ length: READ_AHEAD + 1 }, () => new Uint8Array(largest)) : []
  }

  async quantized(key: string, slot: number): Promise<Int8Weight> {
    const { dtype, shape } = this.source.info(key)
    if (!isRowQuantizable(dtype)) return quantizeRows(await this.source.readF32(key), shape[0])
    // read, not mapped: the mapped file's pages would count in the process's memory while the int8 codes are what it keeps
    const bytes = this.slots.length > 0 ? await this.source.readRawInto!(key, this.slots[slot]) : await this.source.readRaw(key)
    return quantizeStored(dtype, bytes, shape)
  }
}

/** An F16 tensor's half bits: a view of the mapped file when it is 2-byte aligned there, else read as stored. */
async function storedF16(source: TensorSource, key: string): Promise<Uint16Array> {
  const view = source.storedView?.(key)
  const bytes = view && view.byteOffset % 2 === 0 ? view : await source.readRaw(key)
  return new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2)
}
