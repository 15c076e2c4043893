/*
 * Runs a built Graph on onnxruntime-node (CPU execution provider, intra-op threads = cores). Weights are graph
 * inputs named by checkpoint key and fed from a WeightSource at each run, so a LoRA switch only swaps arrays.
 */
import { availableParallelism } from 'node:os'
import * as ort from 'onnxruntime-node'
import type { Graph } from './builder.ts'
import type { HostTensor } from '../core/host-tensor.ts'
import { excess128, excessInputName, scaleInputName, type Int8Weight } from './int8-weights.ts'

/** Float32 weights by checkpoint key; the array identity changes when a tensor is patched. */
export interface WeightSource {
  get(key: string): Float32Array
  shape(key: string): readonly number[]
  /** The int8 form of a weight held quantized (the graph was bound with `isInt8` true for it), else undefined. */
  int8?(key: string): Int8Weight | undefined
  /** The half bits of a weight the graph takes as float16 (bound with `isF16` true), else undefined. */
  float16?(key: string): Uint16Array | undefined
}

export type Feed = HostTensor | { readonly shape: readonly number[]; readonly data: BigInt64Array }

export interface SessionOptions {
  readonly threads?: number
  /** Keys of graph inputs that are weights (fed from the WeightSource). */
  readonly weightKeys: readonly string[]
  /**
   * onnxruntime's CPU arena (default true). Off, every activation is a fresh system allocation: a lower peak, but
   * page faults made a 64×64-latent VAE decode ~40% slower here.
   */
  readonly memArena?: boolean
  /**
   * Memory-pattern planning (default: as memArena, and off for graphs with int8 or float16 weights). With symbolic spatial dims it
   * over-reserves: off (arena kept), the 64×64-latent VAE decode peaked 0.7 GB lower at the same speed, and the
   * SD1.5 UNet with int8 weights lower too (0.95 GB before graph/node-order.ts, 0.5 GB after it: BENCHMARKS.md "SDXL
   * int8 memory (session 6)"; its dequantized weights are planned as if all were live at once).
   */
  readonly memPattern?: boolean
  /** Write an ORT profile (JSON, per-node times and thread use) to `<prefix>_<date>.json` when the session ends. */
  readonly profilePrefix?: string
}

export class GraphSession {
  private readonly cache = new Map<string, { data: Float32Array | Int8Array | Uint16Array; tensor: ort.Tensor }>()

  private constructor(private readonly session: ort.InferenceSession, private readonly weightKeys: readonly string[],
    private readonly halfKeys: ReadonlySet<string>, private readonly excessInputs: ReadonlySet<string>) {}

  static async create(graph: Graph, opts: SessionOptions): Promise<GraphSession> {
    const session = await ort.InferenceSession.create(graph.toModelProto(), {
      executionProviders: ['cpu'],
      intraOpNumThreads: opts.threads ?? availableParallelism(),
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      // Weight-only int8 graphs (DequantizeLinear on weight inputs) must stay as built: ORT's QDQ fusions turn them
      // into activation-quantized integer kernels (a different, lossier computation) and fail to type-check.
      extra: { session: { disable_quant_qdq: '1' } },
      enableCpuMemArena: opts.memArena ?? true,
      enableMemPattern: opts.memPattern ?? (graph.hasInputOf('int8') || graph.hasInputOf('float16') ? false : opts.memArena ?? true),
      ...(opts.profilePrefix !== undefined ? { enableProfiling: true, profileFilePrefix: opts.profilePrefix } : {}),
    })
    return new GraphSession(session, opts.weightKeys, new Set(graph.inputsOf('float16')), new Set(graph.inputsOf('uint8')))
  }

  private cached(name: string, data: Float32Array | Int8Array | Uint16Array, shape: readonly number[]): ort.Tensor {
    const hit = this.cache.get(name)
    if (hit && hit.data === data) return hit.tensor
    const tensor = data instanceof Int8Array ? new ort.Tensor('int8', data, [...shape])
      : data instanceof Uint16Array ? new ort.Tensor('float16', data, [...shape]) : new ort.Tensor('float32', data, [...shape])
    this.cache.set(name, { data, tensor })
    return tensor
  }

  /** Feeds one weight: its float32 array, its half bits, or its int8 codes and scales (two graph inputs). */
  private feedWeight(feeds: Record<string, ort.Tensor>, key: string, weights: WeightSource): void {
    const shape = weights.shape(key)
    if (this.halfKeys.has(key)) {
      const half = weights.float16?.(key)
      // the session cache rebuilds a graph whose weights changed width (WeightStore.widthSignature) before it runs
      if (!half) throw new Error(`internal: ${key} was bound as float16 but is now float32 (patched); the session must be rebuilt`)
      feeds[key] = this.cached(key, half, shape)
      return
    }
    const q = weights.int8?.(key)
    if (!q) { feeds[key] = this.cached(key, weights.get(key), shape); return }
    feeds[key] = this.cached(key, q.q, shape)
    feeds[scaleInputName(key)] = this.cached(scaleInputName(key), q.scale, [shape[0]])
    const excess = excessInputName(key)
    if (this.excessInputs.has(excess)) feeds[excess] = this.excessTensor(excess, q.q, shape)
  }

  /** code + 128 of int8 codes, flipped once per codes array (a patch's new codes are flipped again). */
  private excessTensor(name: string, codes: Int8Array, shape: readonly number[]): ort.Tensor {
    const hit = this.excessCache.get(name)
    if (hit && hit.codes === codes) return hit.tensor
    const tensor = new ort.Tensor('uint8', excess128(codes), [...shape])
    this.excessCache.set(name, { codes, tensor })
    return tensor
  }

  private readonly excessCache = new Map<string, { codes: Int8Array; tensor: ort.Tensor }>()

  async run(inputs: Readonly<Record<string, Feed>>, weights: WeightSource): Promise<Record<string, HostTensor>> {
    const feeds: Record<string, ort.Tensor> = {}
    for (const key of this.weightKeys) this.feedWeight(feeds, key, weights)
    for (const [name, t] of Object.entries(inputs)) {
      feeds[name] = t.data instanceof BigInt64Array
        ? new ort.Tensor('int64', t.data, [...t.shape])
        : new ort.Tensor('float32', t.data, [...t.shape])
    }
    const out = await this.session.run(feeds)
    const result: Record<string, HostTensor> = {}
    for (const [name, t] of Object.entries(out)) {
      result[name] = { shape: t.dims.map(Number), data: t.data as Float32Array }
    }
    return result
  }

  /** Ends profiling (the profile file is written); only for sessions created with `profilePrefix`. */
  endProfiling(): void { this.session.endProfiling() }

  async release(): Promise<void> {
    this.cache.clear()
    this.excessCache.clear()
    await this.session.release()
  }
}
