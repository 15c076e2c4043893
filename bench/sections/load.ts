/*
 * Load time of an fp16 checkpoint into float32 (WeightStore.load), warm page cache: the previous path (read the
 * stored bytes into a fresh array, convert into a second fresh array, one tensor at a time) against the current one
 * (read into the tail of the result and widen in place, 3 reads in flight) on the same file, interleaved; and the
 * same for --weights int8 (widen then quantize, against quantizing each row from the stored bytes in reused buffers).
 * The file: SD1.5's UNet conv/linear sizes in F16, SDLOOM_BENCH_LOAD_MB of them (default 1024 MB), written first.
 * CPU is this process's user+system time (all threads), so it shows the page-fault (system) share.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { collectGarbage } from '../../src/core/gc.ts'
import { openSafetensors } from '../../src/formats/safetensors.ts'
import { writeSafetensors, type WriteTensor } from '../../src/formats/safetensors-writer.ts'
import { bytesToF32 } from '../../src/formats/to-f32.ts'
import { WeightStore } from '../../src/models/weights.ts'
import { quantizeRows } from '../../src/graph/int8-weights.ts'
import type { BenchRow, BenchSection } from '../section.ts'

/** [rows, cols] of typical SD1.5 UNet weights (conv weights flattened), repeated to fill the size. */
const SHAPES = [[1280, 11520], [640, 5760], [320, 2880], [5120, 1280], [1280, 5120], [1280, 1280], [640, 640], [320, 320]]

async function once(f: () => Promise<unknown>): Promise<{ s: number; user: number; system: number }> {
  collectGarbage()
  const c = process.cpuUsage()
  const t = performance.now()
  await f()
  const u = process.cpuUsage(c)
  const r = { s: (performance.now() - t) / 1000, user: u.user / 1e6, system: u.system / 1e6 }
  collectGarbage()
  return r
}

export const section: BenchSection = {
  title: 'Load time: fp16 safetensors → float32 or int8 weights (warm page cache)',
  async run() {
    const mb = Number(process.env.SDLOOM_BENCH_LOAD_MB ?? 1024)
    const dir = await mkdtemp(join(tmpdir(), 'sdloom-load-'))
    const rows: BenchRow[] = [{ measure: 'load average at start', value: loadavg().map((v) => v.toFixed(2)).join(' ') }]
    try {
      const tensors: WriteTensor[] = []
      for (let bytes = 0, i = 0; bytes < mb * 1e6; i++) {
        const [r, c] = SHAPES[i % SHAPES.length]
        const data = new Uint8Array(r * c * 2).map((_, j) => (j * 31 + i) & 0x3b)   // finite halves
        tensors.push({ name: `model.diffusion_model.t${i}.weight`, dtype: 'F16', shape: [r, c], data: async () => data })
        bytes += data.byteLength
      }
      const file = join(dir, 'fp16.safetensors')
      await writeSafetensors(file, tensors)
      const src = await openSafetensors(file)
      const keys = src.keys()
      const total = keys.reduce((a, k) => a + src.info(k).byteLength, 0)
      const previous = async () => { const out = []; for (const k of keys) out.push(bytesToF32('F16', await src.readRaw(k), src.info(k).count)); return out }
      const current = () => WeightStore.load(src)
      // --weights int8: before session 5 each tensor was widened to a fresh float32 array, then quantized; now it is
      // quantized a row at a time from the stored bytes read into reused buffers (models/int8-load.ts).
      const previousInt8 = async () => { const out = []; for (const k of keys) out.push(quantizeRows(await src.readF32(k), src.info(k).shape[0])); return out }
      const currentInt8 = () => WeightStore.load(src, { int8: () => true })
      const best = Object.fromEntries(['previous', 'current', 'previous int8', 'current int8'].map((n) => [n, { s: Infinity, user: 0, system: 0 }]))
      await previous()                                        // page cache warm
      for (let round = 0; round < 3; round++) {
        for (const [name, f] of [['previous', previous], ['current', current], ['previous int8', previousInt8], ['current int8', currentInt8]] as const) {
          const r = await once(f)
          if (r.s < best[name].s) best[name] = r
        }
      }
      await src.close()
      for (const [name, r] of Object.entries(best)) {
        rows.push({ measure: `${name}: ${(total / 1e9).toFixed(2)} GB F16 → ${(2 * total / 1e9).toFixed(2)} GB F32, ${keys.length} tensors`,
          value: `${r.s.toFixed(2)} s`, note: `best of 3; CPU user ${r.user.toFixed(2)} s + system ${r.system.toFixed(2)} s; ${(total / 1e9 / r.s).toFixed(2)} GB/s of F16` })
      }
      rows.push({ measure: 'current / previous', value: `${(best.current.s / best.previous.s).toFixed(2)}×` })
      rows.push({ measure: 'current int8 / previous int8', value: `${(best['current int8'].s / best['previous int8'].s).toFixed(2)}×` })
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
    rows.push({ measure: 'load average at end', value: loadavg().map((v) => v.toFixed(2)).join(' ') })
    return rows
  },
}
