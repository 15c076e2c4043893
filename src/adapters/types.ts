/**
 * Shared types of the adapter layer (LoRA family + textual-inversion embeddings).
 *
 * Glossary used across src/adapters/:
 * - module name: one adapted layer as the adapter file names it (`lora_unet_down_blocks_0_…`), without the part suffix;
 * - part: what follows the module name (`lora_down.weight`, `hada_w1_a`, `alpha`, `dora_scale`, …);
 * - target: the base model's LDM checkpoint key the module patches (`model.diffusion_model.….weight`);
 * - updown: A1111's name for the weight delta of one module before the user's multiplier.
 */
import type { HostTensor } from '../core/host-tensor.ts'

/** Base architecture, decided by the caller (detection lives in models/). */
export type Arch = 'sd1' | 'sd2' | 'sdxl'

/** Which network a target belongs to; SD1/SD2 have a single text encoder, te1. SDXL: te1 = CLIP-L, te2 = OpenCLIP bigG. */
export type Component = 'unet' | 'te1' | 'te2'

/**
 * Read access to the base model's float32 weights, by LDM checkpoint key
 * (e.g. `model.diffusion_model.input_blocks.1.1.proj_in.weight`). The engine owns the arrays: adapters never mutate them.
 */
export interface BaseWeights {
  has(key: string): boolean
  shape(key: string): readonly number[]
  get(key: string): Float32Array
  /**
   * Called after a one-shot merge wrote into the array `get` gave (PatchSet.mergeIntoBase), for a store whose `get`
   * hands out a float32 copy (int8 weights): it takes the merged values back. Absent where `get` gives the array held.
   */
  commit?(key: string, data: Float32Array): void
}

/** One module of an adapter file: its parts, converted to float32. */
export interface AdapterModule {
  /** The module name as stored (after PEFT/diffusers names were rewritten to kohya form). */
  readonly name: string
  /** The original tensor keys of this module, for messages. */
  readonly keys: readonly string[]
  readonly parts: ReadonlyMap<string, HostTensor>
}

/** An adapter file loaded into memory. Identity matters: the patch cache is keyed by the object. */
export interface Adapter {
  readonly file: string
  /** File stem, as `<lora:NAME:…>` refers to it. */
  readonly name: string
  readonly metadata: Readonly<Record<string, string>>
  readonly modules: readonly AdapterModule[]
  /** `bundle_emb.*` tensors (embeddings bundled in the LoRA), keyed by the rest of the key. */
  readonly bundledEmbeddings: ReadonlyMap<string, HostTensor>
  /** Tensor keys that fit no known layout (reported as unmatched). */
  readonly unparsedKeys: readonly string[]
}

/** The layer one module patches, resolved against the base. */
export interface WeightTarget {
  /** LDM key of the patched weight. */
  readonly key: string
  readonly component: Component
  /** Shape of the whole base tensor. */
  readonly shape: readonly number[]
  /** For q/k/v of an open_clip `in_proj_weight`: the row range patched; the layer's weight is that slice. */
  readonly rows?: { readonly start: number; readonly end: number }
  /** LDM key of the layer's bias, when it has one (IA3/full/norm deltas may touch it). */
  readonly biasKey?: string
}

/** What an algorithm sees of the base layer: its weight (the row slice for q/k/v) and shape. */
export interface LayerWeight {
  readonly shape: readonly number[]
  readonly data: Float32Array
}

/** A module's contribution before the user multiplier (A1111 `finalize_updown` without `* multiplier()`). */
export interface ModuleDelta {
  /** Same shape as the layer weight. */
  readonly weight?: Float32Array
  readonly bias?: Float32Array
}

/** One entry of the algorithm registry (`index.ts`). */
export interface AdapterAlgorithm {
  readonly name: string
  /** True when this algorithm handles a module with these parts (A1111 `ModuleType.create_module`). */
  claims(parts: ReadonlyMap<string, HostTensor>): boolean
  /** Layer kinds it can patch; others are reported as skipped. */
  readonly layers: readonly LayerKind[]
  /** Why this module cannot patch a layer of that shape (a sign of an adapter for another model), or undefined. */
  check(module: AdapterModule, shape: readonly number[]): string | undefined
  /**
   * The delta for the layer weight, already times the module's scale (alpha/rank etc.), before the multiplier and
   * before DoRA (the patch set applies `dora_scale` generically, as A1111's `finalize_updown` does).
   */
  delta(module: AdapterModule, layer: LayerWeight): ModuleDelta
  /**
   * When the delta is a plain product `scale · (up @ down)`, its factors, so the patch set can hand the product to a
   * faster matmul backend (e.g. onnxruntime); `delta` must give the same result.
   */
  lowRank?(module: AdapterModule): LowRankFactors | undefined
  /** When the delta is a Tucker product (LoCon `lora_mid`), its factors, for unmerged application (bypass.ts). */
  tucker?(module: AdapterModule): TuckerFactors | undefined
}

/**
 * `scale · einsum('n m k l, i n, m j -> i j k l', mid, up, down)` (A1111 rebuild_cp_decomposition): as convs,
 * down 1×1 [rank, in] → mid [rank, rank, kh, kw] → up 1×1 [out, rank].
 */
export interface TuckerFactors {
  readonly up: Float32Array
  readonly mid: Float32Array
  readonly down: Float32Array
  readonly out: number
  readonly rank: number
  /** Kernel [kh, kw] of the core. */
  readonly kernel: readonly [number, number]
  readonly scale: number
}

/** `scale · (up [out, rank] @ down [rank, inner])`, inner = in·kh·kw. */
export interface LowRankFactors {
  readonly up: Float32Array
  readonly down: Float32Array
  readonly out: number
  readonly rank: number
  readonly inner: number
  readonly scale: number
}

/** Computes [m, k] @ [k, n]; the patch set sends every low-rank product through one. */
export interface MatmulBackend {
  /** Writes every element of `out` (length m·n) when given, else of a new array; returns it. */
  matmul(a: Float32Array, b: Float32Array, m: number, k: number, n: number, out?: Float32Array): Promise<Float32Array>
}

/** linear: [out, in]; conv: [out, in, kh, kw]; norm: [C] (GroupNorm/LayerNorm weight). */
export type LayerKind = 'linear' | 'conv' | 'norm'

export const layerKind = (shape: readonly number[]): LayerKind =>
  shape.length === 4 ? 'conv' : shape.length === 1 ? 'norm' : 'linear'
