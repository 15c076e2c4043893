/*
 * UNet speed at full size with random weights held in memory (nothing is written to disk): build time, session
 * create time, seconds per CFG step (batch 2, after two warm-up runs), peak RSS, and achieved GFLOP/s as a ratio to
 * a float32 4096³ MatMul measured through onnxruntime-node in the same run.
 * Env: SDLOOM_BENCH_UNET_ATTN=mha|matmul (default mha), SDLOOM_BENCH_UNET_STEPS (default 2),
 * SDLOOM_BENCH_SDXL=1 adds the SDXL-size UNet at 1024² (13.5 TFLOP per CFG step: minutes per step on 2 cores;
 * equal-shape weights share arrays to stay near 4 GB), SDLOOM_BENCH_SDXL=only runs that one alone.
 */
import { Graph } from '../../src/graph/builder.ts'
import * as op from '../../src/graph/ops.ts'
import { GraphSession } from '../../src/graph/session.ts'
import { paramKeys } from '../../src/nn/module.ts'
import { numel, type HostTensor } from '../../src/core/host-tensor.ts'
import { UNET_PREFIX, type UnetConfig } from '../../src/models/config/unet-config.ts'
import { unetTree } from '../../src/models/unet/unet-tree.ts'
import { UnetSession } from '../../src/models/unet/unet-session.ts'
import { buildUnetGraph } from '../../src/models/unet/unet-graph.ts'
import type { AttentionKind } from '../../src/models/unet/spatial-transformer.ts'
import { availableParallelism } from 'node:os'
import { peakRssMb, type BenchRow, type BenchSection } from '../section.ts'

const base = { inChannels: 4, outChannels: 4, modelChannels: 320, numResBlocks: 2, timeEmbedDim: 1280, sources: {} } as const

/** SD1.5 (v1-inference.yaml): mult [1,2,4,4], attention at levels 0-2, 8 heads, context 768. */
export const SD15_CONFIG: UnetConfig = {
  ...base, family: 'sd1', channelMult: [1, 2, 4, 4], attentionLevels: [true, true, true, false], transformerDepth: [1, 1, 1, 0],
  transformerDepthMiddle: 1, heads: { kind: 'count', count: 8 }, contextDim: 768, linearProj: false, admInChannels: 0,
}

/** SDXL base (sd_xl_base.yaml): mult [1,2,4], depths [0,2,10], middle 10, head dim 64, context 2048, adm 2816. */
export const SDXL_CONFIG: UnetConfig = {
  ...base, family: 'sdxl', channelMult: [1, 2, 4], attentionLevels: [false, true, true], transformerDepth: [0, 2, 10],
  transformerDepthMiddle: 10, heads: { kind: 'dim', dim: 64 }, contextDim: 2048, linearProj: true, admInChannels: 2816,
}

/**
 * Random weights (xorshift, ±1/√fan_in) served as both the shape and the weight source. With `share`, tensors of
 * equal shape share one array (the SDXL-size case: 10.4 GB of distinct weights do not fit beside other work).
 */
export function randomWeights(config: UnetConfig, share: boolean) {
  const shapes = new Map(paramKeys(unetTree(config), UNET_PREFIX).map((k) => [k.key, k.shape]))
  const data = new Map<string, Float32Array>()
  const byShape = new Map<string, Float32Array>()
  let s = 0x2545f491
  for (const [key, shape] of shapes) {
    const isNorm = key.endsWith('norm.weight') || /norm\d\.weight$|layers\.0\.weight$|out\.0\.weight$/.test(key)
    const shared = share ? byShape.get(`${isNorm}:${shape.join('x')}`) : undefined
    if (shared) { data.set(key, shared); continue }
    const a = new Float32Array(numel(shape))
    const scale = 2 / Math.sqrt(shape.length > 1 ? numel(shape) / shape[0] : 64)
    for (let i = 0; i < a.length; i++) {
      s ^= s << 13; s ^= s >>> 17; s ^= s << 5
      a[i] = ((s >>> 0) / 4294967296 - 0.5) * scale
    }
    if (isNorm) a.fill(1)
    data.set(key, a)
    byShape.set(`${isNorm}:${shape.join('x')}`, a)
  }
  return { file: 'random', has: (k: string) => shapes.has(k), shape: (k: string) => shapes.get(k)!, get: (k: string) => data.get(k)!, keys: () => shapes.keys() }
}

const randn = (shape: number[]): HostTensor => ({ shape, data: Float32Array.from({ length: numel(shape) }, () => Math.random() * 2 - 1) })

/** Wall seconds and process CPU seconds (user + system) of one call. */
async function timed<T>(f: () => Promise<T> | T): Promise<{ value: T; s: number; cpu: number }> {
  const t0 = performance.now()
  const c0 = process.cpuUsage()
  const value = await f()
  const c = process.cpuUsage(c0)
  return { value, s: (performance.now() - t0) / 1000, cpu: (c.user + c.system) / 1e6 }
}

const THREADS = availableParallelism()

/** One float32 n³ MatMul through onnxruntime-node: the ceiling the UNet is compared with. */
class MatmulProbe {
  private constructor(private readonly s: GraphSession, private readonly n: number, private readonly feeds: Record<string, HostTensor>) {}

  static async create(n = 4096): Promise<MatmulProbe> {
    const g = new Graph('ceiling')
    g.output('c', op.matmul(g, g.input('a', 'float32', [n, n]), g.input('b', 'float32', [n, n])))
    const probe = new MatmulProbe(await GraphSession.create(g, { weightKeys: [] }), n, { a: randn([n, n]), b: randn([n, n]) })
    await probe.once()
    return probe
  }

  /** GFLOP/s of one run, by wall time and by CPU time per thread (robust to other processes on the cores). */
  async once(): Promise<{ wall: number; cpu: number }> {
    const r = await timed(() => this.s.run(this.feeds, { get: () => new Float32Array(), shape: () => [] }))
    const gflop = (2 * this.n ** 3) / 1e9
    return { wall: gflop / r.s, cpu: gflop / (r.cpu / THREADS) }
  }

  /** Best of `runs`. */
  async best(runs = 3): Promise<{ wall: number; cpu: number }> {
    const all = []
    for (let i = 0; i < runs; i++) all.push(await this.once())
    return { wall: Math.max(...all.map((r) => r.wall)), cpu: Math.max(...all.map((r) => r.cpu)) }
  }

  release(): Promise<void> { return this.s.release() }
}

/** Multiply-add FLOPs (×2) of one UNet call: convs, linears and the two attention MatMuls; norms/elementwise ignored. */
export function unetTflop(c: UnetConfig, batch: number, latent: number, tokens = 77): number {
  let f = 0
  const conv = (ci: number, co: number, k: number, hw: number) => { f += 2 * ci * co * k * k * hw }
  const transformer = (ch: number, hw: number, depth: number) => {
    conv(ch, ch, 1, hw); conv(ch, ch, 1, hw)                                    // proj_in / proj_out (1×1 or linear)
    for (let d = 0; d < depth; d++) {
      f += 2 * hw * ch * ch * 6 + 2 * tokens * c.contextDim * ch * 2           // q,k,v,out (self) + q,out (cross); k,v over context
      f += 4 * hw * hw * ch + 4 * hw * tokens * ch                              // QKᵀ and PV, self + cross
      f += 2 * hw * ch * 8 * ch + 2 * hw * 4 * ch * ch                          // GEGLU proj + net.2
    }
  }
  const res = (ci: number, co: number, hw: number) => { conv(ci, co, 3, hw); conv(co, co, 3, hw); if (ci !== co) conv(ci, co, 1, hw) }
  const hwAt = (l: number) => (latent / 2 ** l) ** 2
  const mc = c.modelChannels
  const skips = [mc]
  let ch = mc
  conv(c.inChannels, mc, 3, hwAt(0))
  c.channelMult.forEach((m, l) => {
    for (let r = 0; r < c.numResBlocks; r++) {
      res(ch, mc * m, hwAt(l)); ch = mc * m; skips.push(ch)
      if (c.transformerDepth[l] > 0) transformer(ch, hwAt(l), c.transformerDepth[l])
    }
    if (l < c.channelMult.length - 1) { conv(ch, ch, 3, hwAt(l + 1)); skips.push(ch) }
  })
  const last = c.channelMult.length - 1
  res(ch, ch, hwAt(last)); transformer(ch, hwAt(last), c.transformerDepthMiddle); res(ch, ch, hwAt(last))
  for (let l = last; l >= 0; l--) {
    for (let r = 0; r <= c.numResBlocks; r++) {
      res(ch + skips.pop()!, mc * c.channelMult[l], hwAt(l)); ch = mc * c.channelMult[l]
      if (c.transformerDepth[l] > 0) transformer(ch, hwAt(l), c.transformerDepth[l])
      if (l > 0 && r === c.numResBlocks) conv(ch, ch, 3, hwAt(l - 1))
    }
  }
  conv(mc, c.outChannels, 3, hwAt(0))
  return (f * batch) / 1e12
}

interface Case {
  readonly name: string
  readonly config: UnetConfig
  readonly latent: number
  readonly tflopPerStep: number
  readonly shareWeights: boolean
}

interface CaseResult { readonly name: string; readonly gflops: number; readonly gflopsCpu: number; readonly rows: BenchRow[] }

async function benchCase(c: Case, o: { attention: AttentionKind; steps: number; probe: MatmulProbe }): Promise<CaseResult> {
  const { attention, steps, probe } = o
  const w = randomWeights(c.config, c.shareWeights)
  const graph = await timed(() => buildUnetGraph(c.config, w, { attention }))
  const created = await timed(() => UnetSession.fromGraph(c.config, graph.value))
  const unet = created.value
  const built = { build: graph.s, create: created.s, nodes: Object.values(graph.value.graph.opHistogram()).reduce((a, b) => a + b, 0) }
  const inputs = {
    x: randn([2, 4, c.latent, c.latent]), t: { shape: [2], data: new Float32Array([500, 500]) },
    context: randn([2, 77, c.config.contextDim]), ...(c.config.admInChannels ? { y: randn([2, c.config.admInChannels]) } : {}),
  }
  const warm = [(await timed(() => unet.run(inputs, w))).s, (await timed(() => unet.run(inputs, w))).s]
  let total = 0
  let cpu = 0
  const paired: number[] = []
  const times: number[] = []
  for (let i = 0; i < steps; i++) {
    // A MatMul run right before and after each step sees about the same load from other processes.
    const pre = await probe.once()
    const r = await timed(() => unet.run(inputs, w))
    const post = await probe.once()
    total += r.s
    times.push(r.s)
    cpu += r.cpu / THREADS
    paired.push((c.tflopPerStep * 1000) / r.s / ((pre.wall + post.wall) / 2))
  }
  await unet.release()
  const perStep = total / steps
  const fastest = Math.min(...warm, ...times)
  const gflops = (c.tflopPerStep * 1000) / perStep
  const gflopsCpu = (c.tflopPerStep * 1000) / (cpu / steps)
  const note = `batch 2 (CFG), latent ${c.latent}×${c.latent}, attention ${attention}, weights as graph inputs`
    + (c.shareWeights ? ', equal-shape weights share one array' : '')
  return { name: c.name, gflops, gflopsCpu, rows: [
    { measure: `${c.name}: graph build`, value: `${built.build.toFixed(2)} s`, note: `${built.nodes} nodes; random weights in memory` },
    { measure: `${c.name}: session create`, value: `${built.create.toFixed(2)} s` },
    { measure: `${c.name}: warm-up runs`, value: warm.map((s) => `${s.toFixed(1)} s`).join(', ') },
    { measure: `${c.name}: UNet seconds per CFG step`, value: perStep.toFixed(2), note: `mean of ${steps}; ${note}` },
    { measure: `${c.name}: fastest run`, value: `${fastest.toFixed(2)} s`, note: 'of all runs, warm-ups included (the least disturbed by other processes)' },
    { measure: `${c.name}: achieved GFLOP/s`, value: gflops.toFixed(0), note: `${c.tflopPerStep} TFLOP per step, wall time` },
    { measure: `${c.name}: CPU seconds per step / ${THREADS} threads`, value: (cpu / steps).toFixed(2), note: `${gflopsCpu.toFixed(0)} GFLOP/s by CPU time` },
    { measure: `${c.name}: paired ratio to the MatMul`, value: (paired.reduce((a, b) => a + b, 0) / steps).toFixed(2),
      note: `each step against MatMul runs just before and after it (${paired.map((r) => r.toFixed(2)).join(', ')})` },
    { measure: `${c.name}: peak RSS so far`, value: `${(await peakRssMb()).toFixed(0)} MB`, note: "process peak, incl. the 4096² MatMul probe (~0.2 GB)" },
  ] }
}

export const section: BenchSection = {
  title: 'UNet (full size, random weights, CPU)',
  async run() {
    const attention = (process.env.SDLOOM_BENCH_UNET_ATTN ?? 'mha') as AttentionKind
    const steps = Number(process.env.SDLOOM_BENCH_UNET_STEPS ?? 2)
    // The ceiling is measured before and after (best of both): on a shared machine either may be disturbed.
    const probe = await MatmulProbe.create()
    const before = await probe.best()
    const rows: BenchRow[] = []
    rows.push({ measure: 'FLOP count per CFG step (this file\'s unetTflop)', value: `SD1.5 512²: ${unetTflop(SD15_CONFIG, 2, 64).toFixed(2)} TFLOP, SDXL 1024²: ${unetTflop(SDXL_CONFIG, 2, 128).toFixed(2)} TFLOP` })
    const sdxl = process.env.SDLOOM_BENCH_SDXL
    const cases: Case[] = sdxl === 'only' ? [] : [{ name: 'SD1.5 512²', config: SD15_CONFIG, latent: 64, tflopPerStep: 1.6, shareWeights: false }]
    if (sdxl === '1' || sdxl === 'only') {
      cases.push({ name: 'SDXL 1024²', config: SDXL_CONFIG, latent: 128, tflopPerStep: Number(unetTflop(SDXL_CONFIG, 2, 128).toFixed(2)), shareWeights: true })
    }
    const results = []
    for (const c of cases) results.push(await benchCase(c, { attention, steps, probe }))
    const after = await probe.best()
    await probe.release()
    const ceiling = Math.max(before.wall, after.wall)
    const ceilingCpu = Math.max(before.cpu, after.cpu)
    rows.push({ measure: 'float32 MatMul 4096³ ceiling', value: `${ceiling.toFixed(0)} GFLOP/s`,
      note: `onnxruntime-node, same run: ${before.wall.toFixed(0)} before, ${after.wall.toFixed(0)} after the UNet runs (ratios use the higher); by CPU time ${ceilingCpu.toFixed(0)}` })
    for (const r of results) {
      rows.push(...r.rows, { measure: `${r.name}: ratio to the MatMul ceiling`, value: (r.gflops / ceiling).toFixed(2),
        note: `wall time; by CPU time ${(r.gflopsCpu / ceilingCpu).toFixed(2)}` })
    }
    return rows
  },
}
