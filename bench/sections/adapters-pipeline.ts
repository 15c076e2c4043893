/**
 * Adapters as `sdloom generate` applies them (pipeline/adapters.ts prepareAdapters): LoRA FILES read from disk
 * (fp16 safetensors, as trained LoRAs ship), planned, merged through the model's PatchSet into its WeightStore and
 * installed with setPatches; tensors that stay patched are recomputed in place. Same model as the adapters section:
 * a rank-128 LoRA (LoCon) on every attention Linear and conv of a full-size SD1.5 UNet (280 layers, 857 M weights),
 * base weights for those layers only. Target for a switch: <= 0.5 s, and no full-model copy.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { encodeF32As, writeSafetensors, type WriteTensor } from '../../src/formats/safetensors-writer.ts'
import { WeightStore } from '../../src/models/weights.ts'
import { adaptableModel, prepareAdapters } from '../../src/pipeline/adapters.ts'
import { peakRssMb, rssMb, xorshiftFill, type BenchRow, type BenchSection } from '../section.ts'
import { sd15AdapterLayers } from './adapters.ts'

/** The bench LoRAs' rank: 128 (the issue's case) unless SDLOOM_BENCH_LORA_RANK says otherwise (e.g. 32, a common trained rank). */
export const RANK = Number(process.env.SDLOOM_BENCH_LORA_RANK ?? 128)

export async function writeLora(file: string, seed: number): Promise<void> {
  const tensors: WriteTensor[] = []
  sd15AdapterLayers().forEach((l, i) => {
    const name = `lora_unet_${l.path.replaceAll('.', '_')}`
    const inner = l.shape.slice(1)
    const down = [RANK, ...inner]
    const up = [l.shape[0], RANK, ...(l.shape.length === 4 ? [1, 1] : [])]
    const count = (s: number[]) => s.reduce((a, b) => a * b, 1)
    tensors.push(
      { name: `${name}.lora_down.weight`, dtype: 'F16', shape: down, data: async () => encodeF32As('F16', xorshiftFill(count(down), seed * 1000 + 2 * i, 0.01)) },
      { name: `${name}.lora_up.weight`, dtype: 'F16', shape: up, data: async () => encodeF32As('F16', xorshiftFill(count(up), seed * 1000 + 2 * i + 1, 0.01)) },
      { name: `${name}.alpha`, dtype: 'F16', shape: [], data: encodeF32As('F16', Float32Array.of(RANK / 2)) },
    )
  })
  await writeSafetensors(file, tensors)
}

const since = (t0: bigint): string => `${(Number(process.hrtime.bigint() - t0) / 1e9).toFixed(2)} s`

/** The base weights of the LoRA's layers (3,428 MB float32 at full SD1.5 size). */
function benchWeights(): WeightStore {
  const weights = new WeightStore('bench-sd15.safetensors')
  sd15AdapterLayers().forEach((l, i) => weights.set(`model.diffusion_model.${l.path}.weight`, l.shape, xorshiftFill(l.shape.reduce((x, y) => x * y, 1), 7 + i, 0.05)))
  return weights
}

/** What `sdloom generate` does (oneShot: merged into the base arrays in place), on its own store, measured first. */
async function oneShotRows(file: string): Promise<BenchRow[]> {
  const weights = benchWeights()
  const rss0 = rssMb()
  const t = process.hrtime.bigint()
  const cpu0 = process.cpuUsage()
  const r = await prepareAdapters(adaptableModel(weights, 'sd1'), { loras: [{ file, te: 1, unet: 1 }], hashCache: false, oneShot: true }, () => undefined)
  const cpu = process.cpuUsage(cpu0)
  return [
    { measure: 'one-shot apply (sdloom generate: merged into the base arrays)', value: since(t), note: `read + plan + products + add in place + hash; ${r.report.changedTensors} tensors; CPU user ${(cpu.user / 1e6).toFixed(1)} s, sys ${(cpu.system / 1e6).toFixed(1)} s` },
    { measure: 'one-shot RSS added', value: `${(rssMb() - rss0).toFixed(0)} MB`, note: 'the adapter as float32 + one layer\'s deltas at a time; no patched copy, no delta cache' },
  ]
}

export const section: BenchSection = {
  title: 'Adapters through the pipeline: prepareAdapters with rank-128 LoRA files on a full-size SD1.5 UNet (280 layers)',
  async run(): Promise<BenchRow[]> {
    const dir = await mkdtemp(join(tmpdir(), 'sdloom-bench-lora-'))
    try {
      const [a, b] = [join(dir, 'style.safetensors'), join(dir, 'character.safetensors')]
      await writeLora(a, 1)
      await writeLora(b, 2)
      const rows: BenchRow[] = await oneShotRows(a)
      const weights = benchWeights()
      const model = adaptableModel(weights, 'sd1')
      const apply = (loras: { file: string; te: number; unet: number }[]) => prepareAdapters(model, { loras, hashCache: false }, () => undefined)
      const rss0 = rssMb()
      let t = process.hrtime.bigint()
      const first = await apply([{ file: a, te: 1, unet: 1 }])
      rows.push({ measure: `apply: first LoRA file (${((await stat(a)).size / 1e6).toFixed(0)} MB fp16)`, value: since(t), note: `read + plan + deltas + compose + AutoV3 hash; ${first.report.patchedTensors} tensors` })
      rows.push({ measure: 'RSS added', value: `${(rssMb() - rss0).toFixed(0)} MB`, note: 'patched tensors + cached deltas + the adapter (base 3,428 MB not counted)' })
      t = process.hrtime.bigint()
      await apply([{ file: a, te: 1, unet: 0.5 }])
      rows.push({ measure: 'switch: multiplier 1.0 → 0.5', value: since(t), note: 'cached deltas, in place; target <= 0.5 s' })
      t = process.hrtime.bigint()
      await apply([{ file: b, te: 1, unet: 1 }])
      rows.push({ measure: 'switch: to another LoRA file', value: since(t), note: 'read + deltas (ORT matmul) + compose in place + hash' })
      t = process.hrtime.bigint()
      await apply([{ file: b, te: 1, unet: 1 }, { file: a, te: 1, unet: 0.7 }])
      rows.push({ measure: 'stack: add the first file back at 0.7', value: since(t), note: 'its file read again (only the current call\'s files stay in memory)' })
      t = process.hrtime.bigint()
      await apply([])
      rows.push({ measure: 'remove all (base arrays back)', value: since(t) })
      rows.push({ measure: 'peak RSS of the process', value: `${(await peakRssMb()).toFixed(0)} MB`, note: 'base 3,428 MB + patched + deltas + adapters; no second copy at a switch' })
      return rows
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  },
}
