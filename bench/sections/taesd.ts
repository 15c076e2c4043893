/*
 * TAESD vs the full VAE decoder at SD1.5 512² (latent 64²), random weights in memory, same process, interleaved
 * after warm-ups. TAESD: 64 channels, ~1.2 M parameters per half (madebyollin/taesd); full VAE: ch 128, mult 1,2,4,4.
 * Env: SDLOOM_BENCH_TAESD_VAE=0 skips the full VAE (it takes 10-30 s per decode here).
 * The conv ceiling row runs TAESD's 512² stage alone (weights baked in as constants, as models/taesd/session.ts does) (4 × Conv 64→64 3×3 + ReLU, then a 1×1 conv to 3 channels, so
 * the output is small: a 67 MB output would be copied into fresh memory each run, ~0.15 s of page faults on this VM):
 * its GFLOP/s bounds what the ≈141 GFLOP decode can reach here.
 */
import { loadavg } from 'node:os'
import { numel } from '../../src/core/host-tensor.ts'
import { paramKeys, type Tree } from '../../src/nn/module.ts'
import { WeightStore } from '../../src/models/weights.ts'
import { measureTaesd, taesdTree, TaesdDecoder, TaesdEncoder, DECODER_LAYOUT, ENCODER_LAYOUT } from '../../src/models/taesd/index.ts'
import { conv2d } from '../../src/nn/layers.ts'
import { Graph } from '../../src/graph/builder.ts'
import * as op from '../../src/graph/ops.ts'
import { GraphSession } from '../../src/graph/session.ts'
import { decoderTree } from '../../src/models/vae/decoder.ts'
import { VAE_PREFIX, VaeDecoderSession } from '../../src/models/vae/vae.ts'
import { coresNote, timed, type Timed } from '../machine.ts'
import { xorshiftFill, type BenchRow, type BenchSection } from '../section.ts'

function randomStore(trees: readonly { tree: Tree; prefix: string }[]): WeightStore {
  const store = new WeightStore('random')
  let seed = 7
  for (const { tree, prefix } of trees) {
    for (const { key, shape } of paramKeys(tree, prefix)) {
      const fanIn = shape.length > 1 ? numel(shape) / shape[0] : 64
      store.set(key, shape, xorshiftFill(numel(shape), seed++, 1 / Math.sqrt(fanIn)))
    }
  }
  return store
}

/** A TAESD half's weights at real size, keyed as the published files are. */
export function taesdStore(part: 'decoder' | 'encoder'): WeightStore {
  const layout = part === 'decoder' ? DECODER_LAYOUT : ENCODER_LAYOUT
  // measureTaesd only needs the first and last conv's shapes to size the rest
  const first = layout.indexOf('conv')
  const shapes = new Map([[`${first}.weight`, part === 'decoder' ? [64, 4, 3, 3] : [64, 3, 3, 3]], [`${layout.length - 1}.weight`, part === 'decoder' ? [3, 64, 3, 3] : [4, 64, 3, 3]]])
  const cfg = measureTaesd({ file: 'random', has: (k) => shapes.has(k), shape: (k) => shapes.get(k)! }, part)
  return randomStore([{ tree: taesdTree(cfg) as unknown as Tree, prefix: '' }])
}

/** TAESD's decode in multiply-adds ×2: per conv, 2·cin·cout·k² per output pixel (the upsample convs at full 3×3). */
export const TAESD_DECODE_GFLOP = 141

const CEILING_CONVS = 4

/** TAESD's 512² stage alone (CEILING_CONVS × Conv 64→64 3×3 + ReLU, 1×1 to 3 channels): seconds and GFLOP/s, best of 5. */
async function convCeiling(): Promise<{ s: number; gflops: number }> {
  const g = new Graph('conv-ceiling')
  const store = new WeightStore('random')
  const keys: string[] = []
  const weight = (key: string, shape: number[]) => {
    store.set(key, shape, xorshiftFill(shape.reduce((a, c) => a * c, 1), keys.length + 5, key.endsWith('b') ? 0.1 : 1 / 24))
    keys.push(key)
    return g.input(key, 'float32', shape)
  }
  let x = g.input('x', 'float32', [1, 64, 512, 512])
  for (let i = 0; i < CEILING_CONVS; i++) x = op.relu(g, op.conv(g, x, weight(`w${i}`, [64, 64, 3, 3]), weight(`b${i}`, [64]), { pads: [1, 1, 1, 1] }))
  g.output('y', op.conv(g, x, weight('wout', [3, 64, 1, 1]), undefined))
  g.freezeInputs(new Map(keys.map((k) => [k, store.get(k)])))          // constants, as TaesdDecoder bakes them
  const session = await GraphSession.create(g, { weightKeys: [] })
  const feed = { x: { shape: [1, 64, 512, 512], data: xorshiftFill(64 * 512 * 512, 7, 1) } }
  await session.run(feed, store); await session.run(feed, store)
  const r = await best(5, () => session.run(feed, store))
  await session.release()
  return { s: r.s, gflops: (2 * 512 * 512 * 64 * (64 * 9 * CEILING_CONVS + 3)) / 1e9 / r.s }
}

async function best(runs: number, f: () => Promise<unknown>): Promise<Timed<unknown>> {
  let b: Timed<unknown> | undefined
  for (let i = 0; i < runs; i++) { const r = await timed(f); if (!b || r.s < b.s) b = r }
  return b!
}

export const section: BenchSection = {
  title: 'TAESD decode/encode vs the full VAE decoder, SD1.5 512²',
  async run() {
    const rows: BenchRow[] = [{ measure: 'load average (1/5/15 min) at start', value: loadavg().map((v) => v.toFixed(2)).join(' ') }]
    const latent = { shape: [1, 4, 64, 64], data: xorshiftFill(4 * 64 * 64, 11, 3) }
    const image = { shape: [1, 3, 512, 512], data: xorshiftFill(3 * 512 * 512, 12, 1) }
    const dec = await TaesdDecoder.create(taesdStore('decoder'))
    const enc = await TaesdEncoder.create(taesdStore('encoder'))
    const first = await timed(() => dec.decode(latent))
    await dec.decode(latent)
    const d = await best(5, () => dec.decode(latent))
    await enc.encode(image); await enc.encode(image)
    const e = await best(5, () => enc.encode(image))
    const taesdRows = [
      { measure: 'TAESD decode 64² → 512², first run', value: `${first.s.toFixed(3)} s` },
      { measure: 'TAESD decode 64² → 512²', value: `${d.s.toFixed(3)} s`, note: `best of 5 after 2 warm-ups; ${coresNote(d)}` },
      { measure: 'TAESD encode 512² → 64²', value: `${e.s.toFixed(3)} s`, note: `best of 5 after 2 warm-ups; ${coresNote(e)}` },
    ]
    const ceiling = await convCeiling()
    taesdRows.push(
      { measure: `conv ceiling: TAESD's 512² stage alone (${CEILING_CONVS} × Conv 64→64 3×3 + ReLU)`, value: `${ceiling.gflops.toFixed(0)} GFLOP/s`, note: `${(ceiling.s * 1000).toFixed(1)} ms (${CEILING_CONVS} × 19.3 GFLOP), best of 5` },
      { measure: `TAESD decode at that rate (≈${TAESD_DECODE_GFLOP} GFLOP)`, value: `${(TAESD_DECODE_GFLOP / ceiling.gflops).toFixed(3)} s`, note: `measured decode runs at ${(TAESD_DECODE_GFLOP / d.s).toFixed(0)} GFLOP/s` },
    )
    rows.push(...taesdRows)
    console.error(taesdRows.map((r) => `${r.measure}: ${r.value} (${r.note ?? ''})`).join('\n'))   // shown before the slow full VAE
    await dec.release(); await enc.release()
    if (process.env.SDLOOM_BENCH_TAESD_VAE !== '0') {
      const cfg = { prefix: VAE_PREFIX, zChannels: 4, imageChannels: 3, convInChannels: 512, levels: [128, 256, 512, 512], blocksPerLevel: 3, attnLayout: 'conv' } as const
      const vae = await VaeDecoderSession.create(randomStore([
        { tree: decoderTree(cfg), prefix: `${VAE_PREFIX}decoder.` }, { tree: conv2d(4, 4, 1), prefix: `${VAE_PREFIX}post_quant_conv.` },
      ]))
      const z = { shape: latent.shape, data: latent.data.map((v) => v / 0.18215) }
      await vae.decode(z)
      const v = await timed(() => vae.decode(z))
      rows.push({ measure: 'full VAE decode 64² → 512²', value: `${v.s.toFixed(2)} s`, note: `1 run after 1 warm-up; ${coresNote(v)}` },
        { measure: 'full VAE / TAESD decode', value: `${(v.s / d.s).toFixed(0)}×`, note: 'same process' })
      await vae.release()
    }
    rows.push({ measure: 'load average (1/5/15 min) at end', value: loadavg().map((v) => v.toFixed(2)).join(' ') })
    return rows
  },
}
