/*
 * Which of onnxruntime-node's integer paths is fastest on this CPU at SD1.5's shapes, against float32 in the same
 * run (weights as initializers in every variant, so the int8 kernels can prepack them):
 *   linear  float32 MatMul | DynamicQuantizeMatMul (com.microsoft; = the MatMulInteger fusion ORT makes of
 *           DynamicQuantizeLinear + MatMulInteger + Cast + Mul) | MatMulNBits bits 8 and 4, block 32, accuracy_level 4
 *   conv    float32 Conv 3×3 | DynamicQuantizeLinear + ConvInteger (u8 × u8, zero point 128) + Cast + Mul |
 *           DynamicQuantizeLinear + QLinearConv (u8 × s8 per-channel symmetric, the VNNI kernels) + DequantizeLinear.
 *           QLinearConv requantizes its output to 8 bits with a scale fixed in the graph: a speed probe only (an
 *           output range known before the run is a calibration sdloom does not have), so it bounds what any
 *           integer conv could gain here.
 * Rounds are interleaved (each variant once per round) and the best of each is kept, so load from other jobs
 * affects all variants alike. Then (SDLOOM_BENCH_INT8_STEP=0 skips it) the full SD1.5 UNet call per precision: fp32,
 * int8 (weight-only) and w8a8 (integer kernels: DynamicQuantizeMatMul, DynamicQuantizeLinear + ConvInteger). Each graph outputs one column of its result: the whole result stays in onnxruntime's
 * arena (reused between runs), where an 84 MB output copied into fresh memory each run cost more page faults on
 * this VM than the product itself (session 7's first quiet run). Env: SDLOOM_BENCH_INT8_ROUNDS (default 4); SDLOOM_BENCH_INT8_RUN=1 adds what one int8 UNet
 * run adds over its session at a small latent (bench/int8-e2e.ts int8UnetRunRows); SDLOOM_BENCH_INT8_E2E=1 adds the end-to-end
 * --weights int8 runs of bench/int8-e2e.ts (peak RSS, CPU per step, 20-step image PSNR vs fp32).
 */
import { loadavg } from 'node:os'
import * as ort from 'onnxruntime-node'
import { Graph, type Value } from '../../src/graph/builder.ts'
import * as op from '../../src/graph/ops.ts'
import { THREADS } from '../machine.ts'
import { xorshiftFill, type BenchRow, type BenchSection } from '../section.ts'
import { int8EndToEndRows, int8StepRows, int8UnetRunRows } from '../int8-e2e.ts'

interface Variant { readonly name: string; readonly build: (g: Graph, x: Value) => Value }

const f32 = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength)
const node = (g: Graph, opType: string, inputs: (Value | undefined)[], dtype: 'float32' | 'uint8' | 'int32', shape: readonly (number | string)[], attrs: Record<string, number> = {}, domain?: string, outputs = 1) =>
  g.node({ op: opType, inputs, attrs, domain, outputs: Array.from({ length: outputs }, (_, i) => ({ dtype: i === 0 ? dtype : (i === 1 ? 'float32' : 'uint8'), shape: i === 0 ? shape : [] })) })

/** Symmetric per-output-channel int8 codes of w [N, K] (row-major), stored +128 as uint8, and the scales. */
function quantizeRows(w: Float32Array, n: number, k: number): { q: Uint8Array; scale: Float32Array } {
  const q = new Uint8Array(n * k)
  const scale = new Float32Array(n)
  for (let r = 0; r < n; r++) {
    let amax = 0
    for (let c = 0; c < k; c++) amax = Math.max(amax, Math.abs(w[r * k + c]))
    scale[r] = amax / 127 || 1
    for (let c = 0; c < k; c++) q[r * k + c] = Math.round(w[r * k + c] / scale[r]) + 128
  }
  return { q, scale }
}

function linearVariants(k: number, n: number): Variant[] {
  const w = xorshiftFill(n * k, 5, 1 / Math.sqrt(k))                     // torch layout [N, K]
  const wT = new Float32Array(k * n)
  for (let r = 0; r < n; r++) for (let c = 0; c < k; c++) wT[c * n + r] = w[r * k + c]
  const { q, scale } = quantizeRows(w, n, k)
  const qT = new Int8Array(k * n)                                        // [K, N] int8 for DynamicQuantizeMatMul
  for (let r = 0; r < n; r++) for (let c = 0; c < k; c++) qT[c * n + r] = q[r * k + c] - 128
  const nbits = (bits: 4 | 8): Variant => ({
    name: `MatMulNBits ${bits}-bit, block 32, accuracy 4`,
    build: (g, x) => {
      const blocks = k / 32
      const levels = bits === 8 ? 127 : 7
      const zero = bits === 8 ? 128 : 8
      const packed = new Uint8Array(n * blocks * 32 * bits / 8)
      const scales = new Float32Array(n * blocks)
      for (let r = 0; r < n; r++) {
        for (let b = 0; b < blocks; b++) {
          let amax = 0
          for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(w[r * k + b * 32 + j]))
          const s = amax / levels || 1
          scales[r * blocks + b] = s
          for (let j = 0; j < 32; j++) {
            const v = Math.max(0, Math.min(2 * zero - 1, Math.round(w[r * k + b * 32 + j] / s) + zero))
            const idx = (r * blocks + b) * 32 + j
            if (bits === 8) packed[idx] = v
            else packed[idx >> 1] |= (idx & 1) ? v << 4 : v
          }
        }
      }
      const B = g.constant('uint8', [n, blocks, 32 * bits / 8], packed)
      const S = g.constant('float32', [n * blocks], f32(scales))
      return node(g, 'MatMulNBits', [x, B, S], 'float32', [x.shape[0], n], { K: k, N: n, bits, block_size: 32, accuracy_level: 4 }, 'com.microsoft')[0]
    },
  })
  return [
    { name: 'float32 MatMul', build: (g, x) => op.matmul(g, x, g.constant('float32', [k, n], f32(wT))) },
    {
      name: 'DynamicQuantizeMatMul (per-channel int8)',
      build: (g, x) => node(g, 'DynamicQuantizeMatMul', [x, g.constant('int8', [k, n], new Uint8Array(qT.buffer)), g.constant('float32', [n], f32(scale))],
        'float32', [x.shape[0], n], {}, 'com.microsoft')[0],
    },
    nbits(8), nbits(4),
  ]
}

function convVariants(c: number): Variant[] {
  const k = c * 9
  const w = xorshiftFill(c * k, 6, 1 / Math.sqrt(k))                     // [O, I, 3, 3]
  const { q, scale } = quantizeRows(w, c, k)
  const s8 = Int8Array.from(q, (v) => v - 128)
  return [
    { name: 'float32 Conv 3×3', build: (g, x) => op.conv(g, x, g.constant('float32', [c, c, 3, 3], f32(w)), undefined, { pads: [1, 1, 1, 1] }) },
    {
      name: 'ConvInteger 3×3 (u8 × u8) + rescale',
      build: (g, x) => {
        const [xq, xs, xz] = node(g, 'DynamicQuantizeLinear', [x], 'uint8', x.shape, {}, undefined, 3)
        const y = node(g, 'ConvInteger', [xq, g.constant('uint8', [c, c, 3, 3], q), xz, g.constant('uint8', [], Uint8Array.of(128))], 'int32', x.shape, { pads: [1, 1, 1, 1] } as never)[0]
        const perChannel = op.mul(g, g.constant('float32', [1, c, 1, 1], f32(scale)), xs)
        return op.mul(g, op.cast(g, y, 'float32'), perChannel)
      },
    },
    {
      name: 'QLinearConv 3×3 (u8 × s8, output requantized: speed probe)',
      build: (g, x) => {
        const [xq, xs, xz] = node(g, 'DynamicQuantizeLinear', [x], 'uint8', x.shape, {}, undefined, 3)
        const yScale = g.constant('float32', [], f32(Float32Array.of(0.05)))
        const yZero = g.constant('uint8', [], Uint8Array.of(128))
        const y = node(g, 'QLinearConv', [xq, xs, xz, g.constant('int8', [c, c, 3, 3], new Uint8Array(s8.buffer)), g.constant('float32', [c], f32(scale)),
          g.constant('int8', [c], new Uint8Array(c)), yScale, yZero], 'uint8', x.shape, { pads: [1, 1, 1, 1] } as never)[0]
        return node(g, 'DequantizeLinear', [y, yScale, yZero], 'float32', x.shape)[0]
      },
    },
  ]
}

async function session(v: Variant, shape: number[]): Promise<ort.InferenceSession> {
  const g = new Graph(v.name)
  const y = v.build(g, g.input('x', 'float32', shape))
  g.output('y', op.slice(g, y, -1, 0, 1))
  return ort.InferenceSession.create(g.toModelProto(), { executionProviders: ['cpu'], intraOpNumThreads: THREADS, interOpNumThreads: 1, graphOptimizationLevel: 'all' })
}

async function compare(what: string, shape: number[], gflop: number, variants: readonly Variant[], rows: BenchRow[]): Promise<void> {
  const feeds = { x: new ort.Tensor('float32', xorshiftFill(shape.reduce((a, b) => a * b, 1), 9, 1), shape) }
  const live: { v: Variant; s: ort.InferenceSession; best: number }[] = []
  for (const v of variants) {
    try {
      const s = await session(v, shape)
      await s.run(feeds); await s.run(feeds)
      live.push({ v, s, best: Infinity })
    } catch (e) {
      rows.push({ measure: `${what}: ${v.name}`, value: 'fails', note: (e as Error).message.split('\n')[0].slice(0, 160) })
    }
  }
  const rounds = Number(process.env.SDLOOM_BENCH_INT8_ROUNDS ?? 4)
  for (let r = 0; r < rounds; r++) {
    for (const l of live) { const t = performance.now(); await l.s.run(feeds); l.best = Math.min(l.best, (performance.now() - t) / 1000) }
  }
  const base = live[0]?.best ?? NaN
  for (const l of live) {
    rows.push({ measure: `${what}: ${l.v.name}`, value: `${(l.best * 1000).toFixed(1)} ms`, note: `${(gflop / l.best).toFixed(0)} GFLOP/s; ${(l.best / base).toFixed(2)}× float32` })
    await l.s.release()
  }
}

export const section: BenchSection = {
  title: 'int8 paths of onnxruntime-node at SD1.5 shapes',
  async run() {
    const rows: BenchRow[] = [{ measure: 'load average at start', value: loadavg().map((v) => v.toFixed(2)).join(' ') }]
    // level 0 transformer FF in (2×64×64 tokens, 320 → 2560) and level 2 FF out (2×16×16 tokens, 5120 → 1280)
    await compare('Linear [8192, 320] → 2560', [8192, 320], 2 * 8192 * 320 * 2560 / 1e9, linearVariants(320, 2560), rows)
    await compare('Linear [512, 5120] → 1280', [512, 5120], 2 * 512 * 5120 * 1280 / 1e9, linearVariants(5120, 1280), rows)
    // level 0 ResBlock conv (batch 2, 320 ch, 64×64)
    await compare('Conv 320→320 3×3 on [2, 320, 64, 64]', [2, 320, 64, 64], 2 * 320 * 320 * 9 * 2 * 4096 / 1e9, convVariants(320), rows)
    // The step target (≤ 0.6× fp32): one SD1.5 UNet call per precision (SDLOOM_BENCH_INT8_STEP=0 skips it).
    if (process.env.SDLOOM_BENCH_INT8_STEP !== '0') rows.push(...await int8StepRows())
    // End to end at full size (bench/int8-e2e.ts): tens of minutes on this machine, so asked for explicitly.
    if (process.env.SDLOOM_BENCH_INT8_RUN === '1') rows.push(...await int8UnetRunRows())
    if (process.env.SDLOOM_BENCH_INT8_E2E === '1') rows.push(...await int8EndToEndRows())
    rows.push({ measure: 'load average at end', value: loadavg().map((v) => v.toFixed(2)).join(' ') })
    return rows
  },
}
