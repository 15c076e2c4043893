/*
 * --weights int8 straight from stored bytes (models/int8-load.ts): for every float dtype a checkpoint stores weights
 * in, the codes and scales a WeightStore loads equal quantizeRows of the float32 tensor (bytesToF32, the widening
 * path) bit for bit, through the reused-buffer read (safetensors) and the plain readRaw read (other sources) alike.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { DType } from '../core/dtype.ts'
import { DTYPE_BYTES } from '../core/dtype.ts'
import { openSafetensors } from '../formats/safetensors.ts'
import { writeSafetensors } from '../formats/safetensors-writer.ts'
import { bytesToF32 } from '../formats/to-f32.ts'
import type { TensorSource } from '../formats/tensor-source.ts'
import { quantizeRows } from '../graph/int8-weights.ts'
import { quantizeStored } from './int8-load.ts'
import { WeightStore } from './weights.ts'

/** Random stored bytes that decode to finite values (no Inf/NaN codes), deterministic. */
function storedBytes(dtype: DType, count: number, seed: number): Uint8Array {
  const out = new Uint8Array(count * DTYPE_BYTES[dtype])
  let x = seed
  const next = () => { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; return x >>> 0 }
  if (dtype === 'F32') {
    const f = new Float32Array(out.buffer)
    for (let i = 0; i < count; i++) f[i] = (next() / 2 ** 32 - 0.5) * 0.2
    return out
  }
  for (let i = 0; i < count; i++) {
    const r = next()
    if (dtype === 'F16') { const h = (r & 0x8000) | (r % 0x7000); out[2 * i] = h & 0xff; out[2 * i + 1] = h >> 8 }
    else if (dtype === 'BF16') { const h = (r & 0x8000) | (0x3a00 + r % 0x0a00); out[2 * i] = h & 0xff; out[2 * i + 1] = h >> 8 }
    else if (dtype === 'F8_E4M3') out[i] = (r & 0x80) | (r % 0x7f)               // 0x7f/0xff are NaN
    else out[i] = (r & 0x80) | (r % 0x7c)                                        // exponent 31 is Inf/NaN
  }
  return out
}

const DTYPES: DType[] = ['F16', 'BF16', 'F8_E4M3', 'F8_E5M2', 'F32']
const SHAPES = [[8, 3, 3, 3], [16, 40], [40, 16], [5, 7], [33, 2, 1, 1], [12, 12], [3, 64]]

test('quantizeStored equals quantizeRows of the widened tensor for every float dtype', () => {
  for (const dtype of DTYPES) {
    const bytes = storedBytes(dtype, 6 * 50, 7)
    const got = quantizeStored(dtype, bytes, [6, 50])
    const want = quantizeRows(bytesToF32(dtype, bytes, 300), 6)
    assert.deepEqual(got.q, want.q, dtype)
    assert.deepEqual(got.scale, want.scale, dtype)
  }
  assert.throws(() => quantizeStored('F16', new Uint8Array(10), [2, 3]), /10 bytes for 6 F16 values/)
})

test('WeightStore.load with int8 from stored bytes: same codes as quantizing readF32, reused buffers or not', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sdloom-int8-load-'))
  try {
    for (const dtype of DTYPES) {
      const file = join(dir, `${dtype}.safetensors`)
      const tensors = SHAPES.map((shape, i) => {
        const data = storedBytes(dtype, shape.reduce((a, b) => a * b, 1), 11 + i)
        return { name: `w${i}.weight`, dtype, shape, data: async () => data }
      })
      await writeSafetensors(file, [...tensors, { name: 'bias', dtype, shape: [4], data: async () => storedBytes(dtype, 4, 3) }])
      const src = await openSafetensors(file)
      try {
        const int8 = (key: string) => key.endsWith('.weight')
        // The same source without readRawInto: the path ckpt and GGUF sources take (readRaw per tensor).
        const plain: TensorSource = { file: src.file, format: src.format, metadata: src.metadata, keys: () => src.keys(), has: (k) => src.has(k), info: (k) => src.info(k), readF32: (k) => src.readF32(k), readRaw: (k) => src.readRaw(k), close: async () => {} }
        for (const source of [src, plain]) {
          const store = await WeightStore.load(source, { int8 })
          assert.equal(store.isInt8('bias'), false)
          assert.deepEqual(store.get('bias'), await src.readF32('bias'))
          for (const [i, shape] of SHAPES.entries()) {
            const want = quantizeRows(await src.readF32(`w${i}.weight`), shape[0])
            assert.deepEqual(store.int8(`w${i}.weight`), want, `${dtype} w${i} (${source === src ? 'reused buffers' : 'readRaw'})`)
          }
        }
      } finally {
        await src.close()
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})
