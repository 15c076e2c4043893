/**
 * Adapter patching at full SD1.5 size: a rank-128 LoRA (LoCon) on every attention Linear and every conv of the UNet
 * (280 layers, 857 M weights), random values generated in memory, applied to random base weights for those layers
 * only. Measures the first apply, a multiplier change (cached deltas) and a switch to another LoRA of the same shape,
 * with the onnxruntime matmul backend. Target for a switch: <= 0.5 s.
 */
import type { HostTensor } from '../../src/core/host-tensor.ts'
import { adapterFromTensors } from '../../src/adapters/adapter-file.ts'
import { MemoryBaseWeights } from '../../src/adapters/memory-base.ts'
import { createOrtMatmul } from '../../src/adapters/ort-matmul.ts'
import { PatchSet } from '../../src/adapters/patch-set.ts'
import type { Adapter } from '../../src/adapters/types.ts'
import { rssMb, type BenchRow, type BenchSection } from '../section.ts'

const RANK = 128

/** Module path (after `model.diffusion_model.`) and weight shape of each adapted SD1.5 UNet layer. */
export function sd15AdapterLayers(): { path: string; shape: number[] }[] {
  const out: { path: string; shape: number[] }[] = []
  const res = (p: string, i: number, o: number) => {
    out.push({ path: `${p}.in_layers.2`, shape: [o, i, 3, 3] }, { path: `${p}.out_layers.3`, shape: [o, o, 3, 3] }, { path: `${p}.emb_layers.1`, shape: [o, 1280] })
    if (i !== o) out.push({ path: `${p}.skip_connection`, shape: [o, i, 1, 1] })
  }
  const attn = (p: string, c: number) => {
    const t = `${p}.transformer_blocks.0`
    out.push({ path: `${p}.proj_in`, shape: [c, c, 1, 1] }, { path: `${p}.proj_out`, shape: [c, c, 1, 1] })
    for (const a of ['attn1', 'attn2']) {
      const ctx = a === 'attn2' ? 768 : c
      out.push({ path: `${t}.${a}.to_q`, shape: [c, c] }, { path: `${t}.${a}.to_k`, shape: [c, ctx] }, { path: `${t}.${a}.to_v`, shape: [c, ctx] }, { path: `${t}.${a}.to_out.0`, shape: [c, c] })
    }
    out.push({ path: `${t}.ff.net.0.proj`, shape: [8 * c, c] }, { path: `${t}.ff.net.2`, shape: [c, 4 * c] })
  }
  const mult = [1, 2, 4, 4]
  out.push({ path: 'input_blocks.0.0', shape: [320, 4, 3, 3] })
  const skips = [320]
  let prev = 320
  let block = 1
  for (let l = 0; l < 4; l++) {
    const c = 320 * mult[l]
    for (let r = 0; r < 2; r++, block++) {
      res(`input_blocks.${block}.0`, prev, c)
      if (l < 3) attn(`input_blocks.${block}.1`, c)
      skips.push(c)
      prev = c
    }
    if (l < 3) { out.push({ path: `input_blocks.${block}.0.op`, shape: [c, c, 3, 3] }); skips.push(c); block++ }
  }
  res('middle_block.0', 1280, 1280)
  attn('middle_block.1', 1280)
  res('middle_block.2', 1280, 1280)
  let ob = 0
  for (let l = 3; l >= 0; l--) {
    const c = 320 * mult[l]
    for (let r = 0; r < 3; r++, ob++) {
      res(`output_blocks.${ob}.0`, prev + skips.pop()!, c)
      if (l < 3) attn(`output_blocks.${ob}.1`, c)
      prev = c
      if (r === 2 && l > 0) out.push({ path: `output_blocks.${ob}.${l < 3 ? 2 : 1}.conv`, shape: [c, c, 3, 3] })
    }
  }
  out.push({ path: 'out.2', shape: [4, 320, 3, 3] })
  return out
}

/** Fast deterministic fill (xorshift32), values in about [-scale, scale]. */
function random(shape: readonly number[], seed: number, scale: number): HostTensor {
  const n = shape.reduce((a, b) => a * b, 1)
  const data = new Float32Array(n)
  let x = seed >>> 0 || 1
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5
    data[i] = ((x >>> 0) / 2147483648 - 1) * scale
  }
  return { shape: [...shape], data }
}

function randomLora(layers: ReturnType<typeof sd15AdapterLayers>, seed: number): Adapter {
  const tensors = new Map<string, HostTensor>()
  layers.forEach((l, i) => {
    const name = `lora_unet_${l.path.replaceAll('.', '_')}`
    const inner = l.shape.slice(1)
    tensors.set(`${name}.lora_down.weight`, random([RANK, ...inner], seed * 1000 + 2 * i, 0.01))
    tensors.set(`${name}.lora_up.weight`, random([l.shape[0], RANK, ...(l.shape.length === 4 ? [1, 1] : [])], seed * 1000 + 2 * i + 1, 0.01))
    tensors.set(`${name}.alpha`, { shape: [], data: Float32Array.of(RANK / 2) })
  })
  return adapterFromTensors({ file: `bench-lora-${seed}.safetensors`, tensors })
}

const seconds = (t0: bigint): string => (Number(process.hrtime.bigint() - t0) / 1e9).toFixed(2)

export const section: BenchSection = {
  title: 'Adapters: rank-128 LoRA on every SD1.5 UNet attention/conv layer (280 layers, 857 M weights)',
  async run(): Promise<BenchRow[]> {
    const layers = sd15AdapterLayers()
    const base = new MemoryBaseWeights('bench-sd15.safetensors', new Map(layers.map((l, i) => [`model.diffusion_model.${l.path}.weight`, random(l.shape, 7 + i, 0.05)])))
    const a = randomLora(layers, 1)
    const b = randomLora(layers, 2)
    const backend = await createOrtMatmul()
    const set = new PatchSet(base, 'sd1', { strict: true, matmul: backend })
    const rss0 = rssMb()
    const rows: BenchRow[] = []
    let t = process.hrtime.bigint()
    const first = await set.update([{ adapter: a, te: 1, unet: 1 }])
    rows.push({ measure: 'apply (first LoRA)', value: `${seconds(t)} s`, note: `${first.changed.length} tensors; ORT matmul + compose` })
    rows.push({ measure: 'RSS added by the patch set', value: `${(rssMb() - rss0).toFixed(0)} MB`, note: 'patched copies + cached deltas (base 3,428 MB not counted)' })
    t = process.hrtime.bigint()
    await set.update([{ adapter: a, te: 1, unet: 0.5 }])
    rows.push({ measure: 'switch: multiplier 1.0 → 0.5', value: `${seconds(t)} s`, note: 'cached deltas, no matmul, new arrays; target <= 0.5 s' })
    t = process.hrtime.bigint()
    await set.update([{ adapter: a, te: 1, unet: 0.7 }], { inPlace: true })
    rows.push({ measure: 'switch: multiplier 0.5 → 0.7, in place', value: `${seconds(t)} s`, note: 'same, reusing the patched arrays' })
    t = process.hrtime.bigint()
    await set.update([{ adapter: b, te: 1, unet: 1 }], { inPlace: true })
    rows.push({ measure: 'switch: another LoRA of the same shape, in place', value: `${seconds(t)} s`, note: 'new deltas (ORT matmul) + compose; target <= 0.5 s' })
    t = process.hrtime.bigint()
    await set.update([])
    rows.push({ measure: 'remove all (back to base arrays)', value: `${seconds(t)} s` })
    rows.push({ measure: 'RSS after removing all', value: `${(rssMb() - rss0).toFixed(0)} MB above the start`, note: 'freed memory may not return to the OS at once' })
    await backend.release()
    return rows
  },
}
