/**
 * Bypass mode through the pipeline (prepareAdapters mode 'bypass'): the same rank-128 LoRA files as adapters-pipeline
 * (LoCon on all 280 attention/conv layers of a full-size SD1.5 UNet, fp16 on disk), applied to a WeightStore holding a
 * whole random SD1.5 UNet (3.4 GB float32). Times the first apply, a switch between two LoRAs already loaded (the
 * file cache keeps both: `keepLoaded`), a multiplier change, the RSS added, the UNet session rebuild a layout change
 * costs, and the per-step price of the branches: one 512² CFG step (batch 2) without LoRA (= merge mode's step) and
 * with the 280-layer bypass, each timed once after one warm-up run, plus the first step after a switch and a step with
 * two LoRAs stacked (two slots per layer). Also CLIP-L (2×77 tokens) with a rank-128 LoRA on all 72 linears bypassed.
 * Target for a switch: <= 0.5 s, and no full-model copy.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { numel, type HostTensor } from '../../src/core/host-tensor.ts'
import { adapterFromTensors } from '../../src/adapters/adapter-file.ts'
import { planBypass } from '../../src/adapters/bypass.ts'
import { planAdapter } from '../../src/adapters/plan.ts'
import { clipTextTree } from '../../src/models/clip/clip-text.ts'
import { TEXT_ENCODER_PRESETS, TextEncoderSession } from '../../src/models/clip/text-encoder.ts'
import { UNET_PREFIX } from '../../src/models/config/unet-config.ts'
import { norm } from '../../src/nn/layers.ts'
import { param, paramKeys } from '../../src/nn/module.ts'
import { UnetSession } from '../../src/models/unet/unet-session.ts'
import { WeightStore } from '../../src/models/weights.ts'
import { adaptableModel, prepareAdapters } from '../../src/pipeline/adapters.ts'
import { timed } from '../machine.ts'
import { peakRssMb, rssMb, xorshiftFill, type BenchRow, type BenchSection } from '../section.ts'
import { RANK, writeLora } from './adapters-pipeline.ts'
import { randomWeights, SD15_CONFIG, unetTflop } from './unet.ts'

const fmt = (r: { s: number; cpu?: number }): string => `${r.s.toFixed(r.s < 1 ? 3 : 2)} s${r.cpu !== undefined && r.s >= 1 ? ` (CPU ${r.cpu.toFixed(2)} s)` : ''}`

const randn = (shape: readonly number[], seed: number): HostTensor => ({ shape: [...shape], data: xorshiftFill(numel(shape), seed) })

const INPUTS = { x: randn([2, 4, 64, 64], 3), t: { shape: [2], data: new Float32Array([500, 500]) }, context: randn([2, 77, 768], 4) }

/**
 * Multiply-add FLOPs (×2) of the rank-`r` branches of one SD1.5 UNet call (the bench LoRA's layers; mirrors
 * unet.ts unetTflop): a branch on a layer with `inner` inputs per output pixel/token and `out` outputs costs
 * 2·r·(inner + out) per output position; attn2 to_k/to_v run on the 77 context tokens.
 */
function branchTflop(batch: number, latent: number, r: number, tokens = 77): number {
  let f = 0
  const conv = (ci: number, co: number, k: number, hw: number) => { f += 2 * r * (ci * k * k + co) * hw }
  const transformer = (ch: number, hw: number) => {
    conv(ch, ch, 1, hw); conv(ch, ch, 1, hw)                                      // proj_in, proj_out
    f += 2 * r * 2 * ch * hw * 6 + 2 * r * (768 + ch) * tokens * 2               // q,k,v,out (self) + q,out (cross); k,v (cross)
    f += 2 * r * 9 * ch * hw + 2 * r * 5 * ch * hw                               // ff.net.0.proj [8ch, ch], ff.net.2 [ch, 4ch]
  }
  const res = (ci: number, co: number, hw: number) => { conv(ci, co, 3, hw); conv(co, co, 3, hw); if (ci !== co) conv(ci, co, 1, hw) }
  const hwAt = (l: number) => (latent / 2 ** l) ** 2
  const mult = [1, 2, 4, 4]
  const skips = [320]
  let ch = 320
  conv(4, 320, 3, hwAt(0))
  mult.forEach((m, l) => {
    for (let i = 0; i < 2; i++) { res(ch, 320 * m, hwAt(l)); ch = 320 * m; skips.push(ch); if (l < 3) transformer(ch, hwAt(l)) }
    if (l < 3) { conv(ch, ch, 3, hwAt(l + 1)); skips.push(ch) }
  })
  res(ch, ch, hwAt(3)); transformer(ch, hwAt(3)); res(ch, ch, hwAt(3))
  for (let l = 3; l >= 0; l--) {
    for (let i = 0; i <= 2; i++) {
      res(ch + skips.pop()!, 320 * mult[l], hwAt(l)); ch = 320 * mult[l]
      if (l < 3) transformer(ch, hwAt(l))
      if (l > 0 && i === 2) conv(ch, ch, 3, hwAt(l - 1))
    }
  }
  conv(320, 4, 3, hwAt(0))
  return (f * batch) / 1e12
}

/** One CFG step on a new session: create, one warm-up run, one timed run (the first runs after a create are slow). */
async function stepCost(store: WeightStore, bypass: boolean): Promise<{ create: number; warm: number; step: { s: number; cpu: number }; unet: UnetSession }> {
  const created = await timed(() => UnetSession.create(SD15_CONFIG, store, bypass ? { lowRank: store.lowRankLayout(UNET_PREFIX) } : {}))
  const unet = created.value
  const warm = await timed(() => unet.run(INPUTS, store))
  const step = await timed(() => unet.run(INPUTS, store))
  return { create: created.s, warm: warm.s, step, unet }
}

type Apply = (loras: readonly { file: string; w: number }[]) => Promise<{ value: Awaited<ReturnType<typeof prepareAdapters>>; s: number; cpu: number }>

async function switchRows(apply: Apply, files: { a: string; b: string }, rows: BenchRow[]): Promise<void> {
  const rss0 = rssMb()
  const first = await apply([{ file: files.a, w: 1 }])
  const r = first.value.report
  rows.push({ measure: `bypass: first apply (${((await stat(files.a)).size / 1e6).toFixed(0)} MB fp16 file)`, value: fmt(first), note: `read + plan + feeds + AutoV3 hash; ${r.bypassedLayers} layers bypassed, ${r.patchedTensors} merged` })
  const second = await apply([{ file: files.b, w: 1 }])
  rows.push({ measure: 'bypass: first apply of a second file', value: fmt(second), note: 'its file read; both stay loaded (keepLoaded)' })
  rows.push({ measure: 'RSS added (both LoRAs loaded)', value: `${(rssMb() - rss0).toFixed(0)} MB`, note: 'the two adapters as float32 (base 3,428 MB not counted); no weight copied' })
  const switches: number[] = []
  for (let i = 0; i < 3; i++) switches.push((await apply([{ file: files.a, w: 1 }])).s, (await apply([{ file: files.b, w: 1 }])).s)
  rows.push({ measure: 'bypass: switch between the two loaded LoRAs', value: `${Math.max(...switches).toFixed(3)} s`, note: `worst of 6 (A↔B), median ${switches.sort((x, y) => x - y)[3].toFixed(3)} s; target <= 0.5 s` })
  const mult = [(await apply([{ file: files.b, w: 0.5 }])).s, (await apply([{ file: files.b, w: 0.7 }])).s]
  rows.push({ measure: 'bypass: multiplier change', value: `${Math.max(...mult).toFixed(3)} s`, note: 'a new scale per slot' })
}

async function stepRows(store: WeightStore, apply: Apply, files: { a: string; b: string }, rows: BenchRow[]): Promise<void> {
  const plain = await stepCost(store, false)
  await plain.unet.release()
  rows.push({ measure: 'UNet session create, no branches', value: `${plain.create.toFixed(2)} s`, note: `warm-up run ${plain.warm.toFixed(1)} s` })
  rows.push({ measure: 'UNet CFG step 512², no LoRA (= a merged LoRA)', value: fmt(plain.step), note: 'batch 2, one timed run after one warm-up' })
  const bypass = await stepCost(store, true)
  const pct = (x: number, y: number): string => `+${((x / y - 1) * 100).toFixed(0)}%`
  rows.push({ measure: 'layout change: UNet graph build + session create with 280 bypassed layers', value: `${bypass.create.toFixed(2)} s`, note: `warm-up run ${bypass.warm.toFixed(1)} s` })
  rows.push({ measure: `UNet CFG step 512², rank-${RANK} bypass on 280 layers`, value: fmt(bypass.step), note: `${pct(bypass.step.s, plain.step.s)} wall, ${pct(bypass.step.cpu, plain.step.cpu)} CPU time vs no LoRA` })
  const extra = branchTflop(2, 64, RANK)
  const base = unetTflop(SD15_CONFIG, 2, 64)
  rows.push({ measure: 'branch FLOPs per CFG step', value: `${extra.toFixed(3)} TFLOP`, note: `+${((extra / base) * 100).toFixed(0)}% of the UNet's ${base.toFixed(2)} TFLOP; `
    + `the extra time runs at ${((extra * 1000) / (bypass.step.cpu - plain.step.cpu)).toFixed(0)} GFLOP/s (CPU time), the base step at ${((base * 1000) / plain.step.cpu).toFixed(0)}` })
  await apply([{ file: files.a, w: 1 }])
  const after = await timed(() => bypass.unet.run(INPUTS, store))
  rows.push({ measure: 'first step after a switch (same session)', value: fmt(after), note: 'new feeds, no rebuild' })
  await bypass.unet.release()
  await apply([{ file: files.a, w: 0.7 }, { file: files.b, w: 0.5 }])
  const stacked = await stepCost(store, true)
  await stacked.unet.release()
  rows.push({ measure: 'two LoRAs stacked (2 slots per layer): session create / CFG step', value: `${stacked.create.toFixed(2)} s / ${fmt(stacked.step)}`,
    note: `${pct(stacked.step.cpu, plain.step.cpu)} CPU time vs no LoRA; slots kept apart (a concatenated rank 256 would need a copy of both LoRAs per multiplier change)` })
}

const CLIP = TEXT_ENCODER_PRESETS.sd1
const CLIP_CONFIG = { kind: 'clip', prefix: CLIP.prefix, vocab: 49408, positions: 77, width: 768, layers: 12, heads: 12, mlpWidth: 3072, projectionDim: undefined } as const

/** CLIP-L encode (2×77 tokens, median of 5 after 2 warm-ups) without and with a rank-128 LoRA bypassed on its 72 linears. */
async function clipRows(rows: BenchRow[]): Promise<void> {
  const store = new WeightStore('bench-clip-l')
  const keys = [...paramKeys(clipTextTree(CLIP_CONFIG, 12), CLIP.prefix), ...paramKeys({ final_layer_norm: norm(768), embeddings: { token_embedding: { weight: param(49408, 768) } } }, CLIP.prefix)]
  keys.forEach((k, i) => store.set(k.key, k.shape, randn(k.shape, 11 + i).data.map((v) => (k.shape.length === 1 ? 1 : v / Math.sqrt(k.shape.at(-1)!)))))
  const tensors = new Map<string, HostTensor>()
  keys.filter((k) => k.shape.length === 2 && /(_proj|fc\d)\.weight$/.test(k.key)).forEach((k, i) => {
    const name = `lora_te_${k.key.slice(CLIP.prefix.length - 'text_model.'.length).replace(/\.weight$/, '').replaceAll('.', '_')}`
    tensors.set(`${name}.lora_down.weight`, randn([128, k.shape[1]], 100 + 2 * i))
    tensors.set(`${name}.lora_up.weight`, { shape: [k.shape[0], 128], data: randn([k.shape[0], 128], 101 + 2 * i).data.map((v) => v * 0.01) })
  })
  const lora = adapterFromTensors({ file: 'bench-te-lora.safetensors', tensors })
  const plan = planBypass([{ adapter: lora, te: 1, unet: 1 }], [planAdapter(lora, 'sd1', store)], store)
  store.setLowRank(plan.layout, plan.feeds)
  const ids = [49406, 320, 1125, 539, ...new Array<number>(73).fill(49407)]
  const time = async (bypass: boolean): Promise<number> => {
    const enc = await TextEncoderSession.create(store, CLIP, bypass ? { lowRank: store.lowRankLayout(CLIP.prefix) } : {})
    const one = enc.embed(ids).data
    const embeds = { shape: [2, 77, 768], data: new Float32Array(2 * 77 * 768) }
    embeds.data.set(one, 0); embeds.data.set(one, 77 * 768)
    await enc.run(embeds); await enc.run(embeds)
    const runs: number[] = []
    for (let i = 0; i < 5; i++) runs.push((await timed(() => enc.run(embeds))).s)
    await enc.release()
    return runs.sort((x, y) => x - y)[2]
  }
  const [plain, bypass] = [await time(false), await time(true)]
  rows.push({ measure: 'CLIP-L encode 2×77 tokens: no LoRA / rank-128 bypass on 72 linears', value: `${(plain * 1000).toFixed(0)} / ${(bypass * 1000).toFixed(0)} ms`,
    note: `${plan.layout.size} layers bypassed; median of 5 after 2 warm-ups` })
}

export const section: BenchSection = {
  title: `Adapters in bypass mode: rank-${RANK} LoRA files as unmerged branches on a full-size SD1.5 UNet (280 layers)`,
  async run(): Promise<BenchRow[]> {
    const dir = await mkdtemp(join(tmpdir(), 'sdloom-bench-bypass-'))
    try {
      const files = { a: join(dir, 'style.safetensors'), b: join(dir, 'character.safetensors') }
      await writeLora(files.a, 1)
      await writeLora(files.b, 2)
      const random = randomWeights(SD15_CONFIG, false)
      const store = new WeightStore('bench-sd15.safetensors')
      for (const k of random.keys()) store.set(k, random.shape(k), random.get(k))
      const model = adaptableModel(store, 'sd1')
      const apply: Apply = (loras) => timed(() => prepareAdapters(model, {
        loras: loras.map((l) => ({ file: l.file, te: 1, unet: l.w })), hashCache: false, mode: 'bypass', keepLoaded: true,
      }, () => undefined))
      const rows: BenchRow[] = []
      await clipRows(rows)
      await switchRows(apply, files, rows)
      await stepRows(store, apply, files, rows)
      rows.push({ measure: 'peak RSS of the process', value: `${(await peakRssMb()).toFixed(0)} MB`, note: 'base 3,428 MB + both LoRAs + UNet activations' })
      return rows
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  },
}
