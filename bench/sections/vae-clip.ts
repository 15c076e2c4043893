/*
 * Text encoder and VAE speed at full SD1.5 size with random weights held in memory (nothing read from disk):
 * CLIP-L (768 wide, 12 layers) encoding 2×77 tokens (cond + uncond in one batch), and the VAE decoder (ch 128,
 * mult 1,2,4,4) decoding a 64×64 latent to 512×512. Times are after warm-up runs (the first ORT runs are slow);
 * the first run is reported too. Peak RSS is the process high-water mark after each part.
 * Env: SDLOOM_BENCH_VAE_RUNS (timed decodes after the first, default 2), SDLOOM_BENCH_VAE_LATENT (latent side, default 64;
 * 128 = SDXL's 1024×1024, whose VAE has the same shape).
 */
import { numel, type HostTensor } from '../../src/core/host-tensor.ts'
import { Graph } from '../../src/graph/builder.ts'
import * as op from '../../src/graph/ops.ts'
import { GraphSession } from '../../src/graph/session.ts'
import { paramKeys, type Tree } from '../../src/nn/module.ts'
import { conv2d, norm } from '../../src/nn/layers.ts'
import { param } from '../../src/nn/module.ts'
import { clipTextTree } from '../../src/models/clip/clip-text.ts'
import type { TextEncoderConfig } from '../../src/models/clip/config.ts'
import { TEXT_ENCODER_PRESETS, TextEncoderSession } from '../../src/models/clip/text-encoder.ts'
import { decoderTree } from '../../src/models/vae/decoder.ts'
import type { VaeHalfConfig } from '../../src/models/vae/config.ts'
import { VAE_PREFIX, VaeDecoderSession } from '../../src/models/vae/vae.ts'
import { AUTO_TILE_ABOVE } from '../../src/models/vae/tiled.ts'
import { peakRssMb, type BenchRow, type BenchSection } from '../section.ts'
import { coresNote, timed } from '../machine.ts'

const CLIP_L: TextEncoderConfig = {
  kind: 'clip', prefix: TEXT_ENCODER_PRESETS.sd1.prefix, vocab: 49408, positions: 77, width: 768, layers: 12, heads: 12,
  mlpWidth: 3072, projectionDim: undefined,
}

const SD_VAE_DECODER: VaeHalfConfig = {
  prefix: VAE_PREFIX, zChannels: 4, imageChannels: 3, convInChannels: 512, levels: [128, 256, 512, 512], blocksPerLevel: 3, attnLayout: 'conv',
}

/** Random weights (xorshift, ±1/√fan_in; norm scales 1) for every key of the given trees. */
function randomWeights(trees: readonly { tree: Tree; prefix: string }[]) {
  const shapes = new Map(trees.flatMap((t) => paramKeys(t.tree, t.prefix).map((k) => [k.key, k.shape] as const)))
  const data = new Map<string, Float32Array>()
  let s = 0x2545f491
  for (const [key, shape] of shapes) {
    const a = new Float32Array(numel(shape))
    const scale = 2 / Math.sqrt(shape.length > 1 ? numel(shape) / shape[0] : 64)
    for (let i = 0; i < a.length; i++) {
      s ^= s << 13; s ^= s >>> 17; s ^= s << 5
      a[i] = ((s >>> 0) / 4294967296 - 0.5) * scale
    }
    if (/(norm\d?|norm_out|layer_norm\d|final_layer_norm)\.weight$/.test(key)) a.fill(1)
    data.set(key, a)
  }
  return { file: 'random', has: (k: string) => shapes.has(k), shape: (k: string) => shapes.get(k)!, get: (k: string) => data.get(k)! }
}


const randn = (shape: number[]): HostTensor => ({ shape, data: Float32Array.from({ length: numel(shape) }, () => Math.random() * 2 - 1) })

/** Multiply-add FLOPs (×2) of the convolutions and the mid attention of one decode as the graph computes it; norms/elementwise ignored. */
function decoderGflop(c: VaeHalfConfig, latent: number): number {
  let f = 0
  const conv = (ci: number, co: number, k: number, side: number) => { f += 2 * ci * co * k * k * side * side }
  const res = (ci: number, co: number, side: number) => { conv(ci, co, 3, side); conv(co, co, 3, side); if (ci !== co) conv(ci, co, 1, side) }
  const mid = c.convInChannels
  conv(c.zChannels, c.zChannels, 1, latent); conv(c.zChannels, mid, 3, latent)
  res(mid, mid, latent); res(mid, mid, latent)
  conv(mid, mid, 1, latent); conv(mid, mid, 1, latent); conv(mid, mid, 1, latent); conv(mid, mid, 1, latent)
  f += 2 * 2 * mid * latent ** 4                                                   // q·kᵀ and probs·v over hw²
  let ch = mid
  for (let i = c.levels.length - 1; i >= 0; i--) {
    const side = latent * 2 ** (c.levels.length - 1 - i)
    for (let j = 0; j < c.blocksPerLevel; j++) { res(ch, c.levels[i], side); ch = c.levels[i] }
    if (i > 0) for (let phase = 0; phase < 4; phase++) conv(ch, ch, 2, side)      // upsample: four 2×2 phase convs
  }
  conv(c.levels[0], c.imageChannels, 3, latent * 2 ** (c.levels.length - 1))
  return f / 1e9
}

/** GFLOP/s of one float32 n³ MatMul through onnxruntime-node (best of 3 after a warm-up): the machine's ceiling now. */
async function matmulCeiling(n = 4096): Promise<number> {
  const g = new Graph('ceiling')
  g.output('c', op.matmul(g, g.input('a', 'float32', [n, n]), g.input('b', 'float32', [n, n])))
  const s = await GraphSession.create(g, { weightKeys: [] })
  const feeds = { a: randn([n, n]), b: randn([n, n]) }
  const none = { get: () => new Float32Array(), shape: () => [] }
  await s.run(feeds, none)
  let best = Infinity
  for (let i = 0; i < 3; i++) best = Math.min(best, (await timed(() => s.run(feeds, none))).s)
  await s.release()
  return (2 * n ** 3) / best / 1e9
}

async function benchClip(rows: BenchRow[]): Promise<void> {
  const w = randomWeights([
    { tree: clipTextTree(CLIP_L, CLIP_L.layers), prefix: CLIP_L.prefix },
    { tree: { final_layer_norm: norm(768), embeddings: { token_embedding: { weight: param(49408, 768) } } }, prefix: CLIP_L.prefix },
  ])
  const created = await timed(() => TextEncoderSession.create(w, TEXT_ENCODER_PRESETS.sd1))
  const enc = created.value
  const ids = [49406, 320, 1125, 539, 320, 2368, ...new Array<number>(71).fill(49407)]
  const one = enc.embed(ids).data
  const embeds = { shape: [2, 77, 768], data: new Float32Array(2 * 77 * 768) }
  embeds.data.set(one, 0); embeds.data.set(one, 77 * 768)
  const first = await timed(() => enc.run(embeds))
  await enc.run(embeds)
  const runs: number[] = []
  for (let i = 0; i < 5; i++) runs.push((await timed(() => enc.run(embeds))).s)
  runs.sort((a, b) => a - b)
  rows.push(
    { measure: 'CLIP-L session create', value: `${created.s.toFixed(2)} s`, note: '768 wide, 12 layers, random weights' },
    { measure: 'CLIP-L encode 2×77 tokens, first run', value: `${(first.s * 1000).toFixed(0)} ms` },
    { measure: 'CLIP-L encode 2×77 tokens', value: `${(runs[2] * 1000).toFixed(0)} ms`, note: 'median of 5 after 2 warm-up runs' },
    { measure: 'peak RSS after CLIP-L', value: `${(await peakRssMb()).toFixed(0)} MB` },
  )
  await enc.release()
}

async function benchVae(rows: BenchRow[]): Promise<void> {
  const c = SD_VAE_DECODER
  const w = randomWeights([
    { tree: decoderTree(c), prefix: `${VAE_PREFIX}decoder.` },
    { tree: conv2d(4, 4, 1), prefix: `${VAE_PREFIX}post_quant_conv.` },
  ])
  const created = await timed(() => VaeDecoderSession.create(w))
  const dec = created.value
  const side = Number(process.env.SDLOOM_BENCH_VAE_LATENT ?? 64)
  const size = `${side}×${side} → ${side * 8}×${side * 8}`
  const z = randn([1, 4, side, side])
  const first = await timed(() => dec.decode(z))
  const timedRuns = Number(process.env.SDLOOM_BENCH_VAE_RUNS ?? 2)
  let best = Infinity
  let bestNote = ''
  for (let i = 0; i < timedRuns; i++) {
    const r = await timed(() => dec.decode(z))
    if (r.s < best) { best = r.s; bestNote = coresNote(r) }
  }
  const gflop = decoderGflop(c, side)
  rows.push(
    { measure: 'VAE decoder session create', value: `${created.s.toFixed(2)} s`, note: 'ch 128, mult 1,2,4,4, random weights' },
    { measure: `VAE decode ${size}, first run`, value: `${first.s.toFixed(2)} s`, note: `image ${first.value.shape.join('×')}, ≈${gflop.toFixed(0)} GFLOP` },
  )
  if (timedRuns > 0) {
    rows.push({ measure: `VAE decode ${size}`, value: `${best.toFixed(2)} s`, note: `best of ${timedRuns} after the first: ${(gflop / best).toFixed(0)} GFLOP/s; ${bestNote}${side * side > AUTO_TILE_ABOVE ? '; tiled (auto)' : ''}` })
  }
  rows.push({ measure: 'peak RSS after VAE decode', value: `${(await peakRssMb()).toFixed(0)} MB` })
  await dec.release()
}

export const section: BenchSection = {
  title: 'Text encoder (CLIP-L) and VAE decoder, SD1.5 size',
  async run() {
    const rows: BenchRow[] = []
    const ceiling = await matmulCeiling()
    rows.push({ measure: 'MatMul 4096³ ceiling', value: `${ceiling.toFixed(0)} GFLOP/s`, note: 'same process, before the runs below' })
    await benchClip(rows)
    await benchVae(rows)
    return rows
  },
}
