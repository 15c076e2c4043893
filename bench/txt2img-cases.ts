/*
 * The checkpoints bench/sections/txt2img.ts writes (real SD1.5 / SDXL base layouts and shapes, fp32, random weights)
 * and its MatMul ceiling probe.
 */
import { writeSafetensors, type WriteTensor } from '../src/formats/safetensors-writer.ts'
import { encodeF32As } from '../src/formats/f32-encode.ts'
import type { DType } from '../src/core/dtype.ts'
import { Graph } from '../src/graph/builder.ts'
import * as op from '../src/graph/ops.ts'
import { GraphSession } from '../src/graph/session.ts'
import { hfClipSpecs, openClipSpecs, unetSpecs, vaeSpecs, SD1_UNET, type TensorSpec, type UnetLayout } from '../test/fixtures/tiny-layouts.ts'
import { timed } from './machine.ts'
import { SDXL_CONFIG, unetTflop } from './sections/unet.ts'

/**
 * Best-of-3 GFLOP/s of a float32 n³ MatMul through onnxruntime-node (wall and by CPU time), as
 * bench/sections/unet.ts measures its ceiling.
 */
export async function matmulCeiling(n = 4096): Promise<{ wall: number; cpu: number }> {
  const g = new Graph('ceiling')
  g.output('c', op.matmul(g, g.input('a', 'float32', [n, n]), g.input('b', 'float32', [n, n])))
  const s = await GraphSession.create(g, { weightKeys: [] })
  const rand = () => ({ shape: [n, n], data: Float32Array.from({ length: n * n }, () => Math.random() * 2 - 1) })
  const feeds = { a: rand(), b: rand() }
  const none = { get: () => new Float32Array(), shape: () => [] }
  let best = Infinity
  let bestCpu = Infinity
  try {
    await s.run(feeds, none)
    for (let i = 0; i < 3; i++) {
      const r = await timed(() => s.run(feeds, none))
      best = Math.min(best, r.s)
      bestCpu = Math.min(bestCpu, r.cpu)
    }
  } finally {
    await s.release()
  }
  return { wall: (2 * n ** 3) / 1e9 / best, cpu: (2 * n ** 3) / 1e9 / bestCpu }
}

/** Random bytes (xorshift, ±1/√fan_in; norm weights 1) for one tensor, made when the writer reaches it. */
function randomTensor(s: TensorSpec, seed: number): WriteTensor {
  const bytes = (a: Float32Array) => s.dtype === 'F16' || s.dtype === 'BF16' ? encodeF32As(s.dtype, a) : new Uint8Array(a.buffer)
  return {
    ...s, data: async () => {
      const n = s.shape.reduce((a, b) => a * b, 1)
      const a = new Float32Array(n)
      if (/norm[^.]*\.weight$|layer_norm\d\.weight$|ln_\w+\.weight$/.test(s.name)) return bytes(a.fill(1))
      const scale = 2 / Math.sqrt(s.shape.length > 1 ? n / s.shape[0] : 64)
      let x = seed | 1
      for (let i = 0; i < n; i++) {
        x ^= x << 13; x ^= x >>> 17; x ^= x << 5
        a[i] = ((x >>> 0) / 4294967296 - 0.5) * scale
      }
      return bytes(a)
    },
  }
}

const writeRandom = (file: string, specs: TensorSpec[]) => writeSafetensors(file, specs.map((s, i) => randomTensor(s, 0x9e3779b9 + i * 7919)))

/** sd_xl_base.yaml: model channels 320, mult [1,2,4], transformer depths [0,2,10], middle 10, context 2048, adm 2816. */
const SDXL_UNET: UnetLayout = { modelChannels: 320, channelMult: [1, 2, 4], depth: [0, 2, 10], middleDepth: 10, contextDim: 2048, projIn: 'linear', admInChannels: 2816 }

/** The stored dtypes the random checkpoints can be written in (fp16 as most released SD1.5 files are). */
export type StoredFloat = Extract<DType, 'F32' | 'F16' | 'BF16'>

export interface Txt2ImgCase {
  readonly name: string
  /** Image side in pixels. */
  readonly side: number
  readonly tflopPerStep: number
  readonly peakTarget: string
  /** Writes the random checkpoint with its float tensors stored as `dtype` (default F32). */
  write(file: string, dtype?: StoredFloat): Promise<void>
}

export const SD15_CASE: Txt2ImgCase = {
  name: 'SD1.5 512²', side: 512, tflopPerStep: 1.6, peakTarget: '5 GB',
  write: (file, dtype = 'F32') => writeRandom(file, [
    ...unetSpecs(SD1_UNET, 'model.diffusion_model.', dtype),
    ...vaeSpecs(128, 'first_stage_model.', dtype),
    ...hfClipSpecs(768, 12, 'cond_stage_model.transformer.text_model.', dtype),
  ]),
}

export const SDXL_CASE: Txt2ImgCase = {
  name: 'SDXL 1024²', side: 1024, tflopPerStep: Number(unetTflop(SDXL_CONFIG, 2, 128).toFixed(2)), peakTarget: '16 GB',
  write: (file, dtype = 'F32') => writeRandom(file, [
    ...unetSpecs(SDXL_UNET, 'model.diffusion_model.', dtype),
    ...vaeSpecs(128, 'first_stage_model.', dtype),
    ...hfClipSpecs(768, 12, 'conditioner.embedders.0.transformer.text_model.', dtype),
    ...openClipSpecs(1280, 32, 'conditioner.embedders.1.model.', dtype, 1280),
  ]),
}
