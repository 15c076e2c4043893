import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm, readFile, readdir, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { writeSafetensors, encodeF32As, type WriteTensor } from './safetensors-writer.ts'
import { openSafetensors } from './safetensors.ts'
import { floatToBf16, floatToHalf } from '../core/f16.ts'
import { bytesToF32 } from './to-f32.ts'

let dir = ''
before(async () => { dir = await mkdtemp(join(tmpdir(), 'sdloom-stw-')) })
after(async () => { await rm(dir, { recursive: true, force: true }) })

const bytes = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff)

test('round trip is byte-exact, header padded to 8, size = 8 + header + data', async () => {
  const tensors: WriteTensor[] = [
    { name: 'model.w', dtype: 'F16', shape: [3, 5], data: bytes(30, 1) },
    { name: 'model.b', dtype: 'F32', shape: [7], data: async () => bytes(28, 2) },
    { name: 'empty', dtype: 'I64', shape: [0], data: new Uint8Array(0) },
    { name: 'ids', dtype: 'I64', shape: [1, 3], data: async () => bytes(24, 3) },
  ]
  async function* lazily(): AsyncGenerator<WriteTensor> { yield* tensors }
  const progress: number[][] = []
  const path = join(dir, 'a.safetensors')
  await writeSafetensors(path, lazily(), { metadata: { format: 'pt', note: 'ünïcode' }, onProgress: (b, t) => progress.push([b, t]) })
  const file = new Uint8Array(await readFile(path))
  const headerLength = Number(new DataView(file.buffer).getBigUint64(0, true))
  assert.equal(headerLength % 8, 0)
  assert.equal(file.length, 8 + headerLength + 30 + 28 + 0 + 24)
  assert.deepEqual(progress.at(-1), [file.length, file.length])
  assert.equal(progress.length, 5)
  const st = await openSafetensors(path)
  try {
    assert.deepEqual(st.keys(), ['model.w', 'model.b', 'empty', 'ids'])
    assert.deepEqual({ ...st.metadata }, { format: 'pt', note: 'ünïcode' })
    for (const t of tensors) {
      const want = typeof t.data === 'function' ? await t.data() : t.data
      assert.deepEqual(await st.readRaw(t.name), want)
      assert.deepEqual(st.info(t.name).shape, t.shape)
    }
    const again = join(dir, 'b.safetensors')
    await writeSafetensors(again, st.keys().map((k) => ({ ...st.info(k), name: k, data: () => st.readRaw(k) })), { metadata: st.metadata })
    assert.deepEqual(new Uint8Array(await readFile(again)), file)
  } finally { await st.close() }
})

test('a tensor whose bytes do not match its shape aborts the write and leaves nothing behind', async () => {
  const path = join(dir, 'bad.safetensors')
  await assert.rejects(writeSafetensors(path, [
    { name: 'ok', dtype: 'F32', shape: [1], data: bytes(4, 0) },
    { name: 'bad', dtype: 'F16', shape: [2, 2], data: async () => bytes(6, 0) },
  ]), { name: 'TensorFileError', message: 'bad.safetensors: tensor "bad": cannot write: got 6 bytes, but F16 [2, 2] needs 8' })
  await assert.rejects(stat(path), { code: 'ENOENT' })
  assert.deepEqual((await readdir(dir)).filter((f) => f.includes('bad')), [])
})

test('duplicate and reserved names are refused before writing', async () => {
  const t = { dtype: 'F32', shape: [1], data: bytes(4, 0) } as const
  await assert.rejects(writeSafetensors(join(dir, 'dup.safetensors'), [{ ...t, name: 'x' }, { ...t, name: 'x' }]),
    { message: 'dup.safetensors: tensor "x": cannot write: the name occurs twice in the tensor list' })
  await assert.rejects(writeSafetensors(join(dir, 'res.safetensors'), [{ ...t, name: '__metadata__' }]),
    { message: 'res.safetensors: tensor "__metadata__": cannot write: "__metadata__" is reserved for the metadata map' })
})

test('encodeF32As matches the per-value f16/bf16 rounding and inverts exactly where representable', () => {
  const special = [0, -0, 1, -2, 65504, 65520, 1e6, 2 ** -24, 2 ** -25, 3 * 2 ** -26, 2 ** -14, 1 + 2 ** -11, 1 + 3 * 2 ** -11,
    Infinity, -Infinity, NaN, 3.14159, -1e-30, 1.00390625, 1.01171875]
  let s = 12345
  const rand = Array.from({ length: 2000 }, () => { s = (s * 1103515245 + 12345) >>> 0; return ((s / 2 ** 32) - 0.5) * 2 ** ((s % 40) - 20) })
  const values = Float32Array.from([...special, ...rand])
  const f16 = new Uint16Array(encodeF32As('F16', values).buffer)
  const bf16 = new Uint16Array(encodeF32As('BF16', values).buffer)
  values.forEach((v, i) => {
    assert.equal(f16[i], floatToHalf(v), `f16 of ${v}`)
    assert.equal(bf16[i], floatToBf16(v), `bf16 of ${v}`)
  })
  assert.deepEqual(bytesToF32('F32', encodeF32As('F32', values), values.length), values)
  const halves = bytesToF32('F16', encodeF32As('F16', values), values.length)
  assert.deepEqual(new Uint16Array(encodeF32As('F16', halves).buffer), f16)
})
