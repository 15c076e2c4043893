/**
 * Model-file formats at SD1.5 scale: bulk float32 → F16 encoding, a 1 GB safetensors write with lazily produced
 * tensors (peak memory should stay near one tensor), reading it back as float32, and opening the reference pickle
 * checkpoint (tiny-sd1.ckpt, 1,011 tensors) through openTensorFile.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { encodeF32As, writeSafetensors, type WriteTensor } from '../../src/formats/safetensors-writer.ts'
import { openSafetensors } from '../../src/formats/safetensors.ts'
import { openTensorFile } from '../../src/formats/open.ts'
import { ref } from '../../test/golden.ts'
import { peakRssMb, type BenchRow, type BenchSection } from '../section.ts'

const TENSORS = 32
const ELEMENTS = 8 * 1024 * 1024 // 32 MB of float32 each, 1 GB in all
const mbps = (bytes: number, ms: number): string => `${(bytes / 1e6 / (ms / 1000)).toFixed(0)} MB/s`

async function writeAndRead(dir: string, rows: BenchRow[]): Promise<void> {
  const src = Float32Array.from({ length: ELEMENTS }, (_, i) => Math.sin(i) * 3)
  const tensors: WriteTensor[] = Array.from({ length: TENSORS }, (_, i) => ({
    name: `model.diffusion_model.block.${i}.weight`, dtype: 'F32', shape: [ELEMENTS / 1024, 1024],
    data: async () => new Uint8Array(src.buffer.slice(0)),
  }))
  const path = join(dir, 'big.safetensors')
  const rssBefore = await peakRssMb()
  let t0 = performance.now()
  await writeSafetensors(path, tensors)
  const bytes = TENSORS * ELEMENTS * 4
  rows.push({ measure: `write ${(bytes / 1e9).toFixed(2)} GB safetensors (lazy tensors)`, value: mbps(bytes, performance.now() - t0),
    note: `peak RSS +${((await peakRssMb()) - rssBefore).toFixed(0)} MB (one tensor = ${(ELEMENTS * 4 / 1e6).toFixed(0)} MB)` })
  const st = await openSafetensors(path)
  t0 = performance.now()
  for (const k of st.keys()) await st.readF32(k)
  rows.push({ measure: 'read it back as float32', value: mbps(bytes, performance.now() - t0) })
  await st.close()
}

export const section: BenchSection = {
  title: 'Model-file formats',
  async run() {
    const rows: BenchRow[] = []
    const data = Float32Array.from({ length: 16 * 1024 * 1024 }, (_, i) => Math.cos(i))
    let t0 = performance.now()
    encodeF32As('F16', data)
    rows.push({ measure: 'encodeF32As F16 (64 MB of float32)', value: mbps(data.byteLength, performance.now() - t0) })
    t0 = performance.now()
    encodeF32As('BF16', data)
    rows.push({ measure: 'encodeF32As BF16 (64 MB of float32)', value: mbps(data.byteLength, performance.now() - t0) })
    const dir = await mkdtemp(join(tmpdir(), 'sdloom-bench-fmt-'))
    try { await writeAndRead(dir, rows) } finally { await rm(dir, { recursive: true, force: true }) }
    t0 = performance.now()
    const ck = await openTensorFile(ref('sd1', 'tiny-sd1.ckpt'))
    const openMs = performance.now() - t0
    for (const k of ck.keys()) await ck.readF32(k)
    rows.push({ measure: 'open tiny-sd1.ckpt (1,011 tensors)', value: `${openMs.toFixed(0)} ms`, note: `+ read all as float32: ${(performance.now() - t0 - openMs).toFixed(0)} ms` })
    await ck.close()
    return rows
  },
}
