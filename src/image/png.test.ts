import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { crc32, deflateSync, inflateSync } from 'node:zlib'
import { ref, refTensors } from '../../test/golden.ts'
import { decodePng, encodePng, readPng, writePng, type RgbImage } from './png.ts'
import { encodeChunk, readPngChunks, readPngTexts, PNG_SIGNATURE } from './png-chunks.ts'
import { imageToUint8 } from './to-uint8.ts'

const SAMPLES = ['euler.64x64', 'euler.h96w64', 'euler_ancestral.64x64', 'heun.h96w64', 'dpmpp_2m_karras.64x64', 'ddim.h96w64', 'lms.64x64']

/** Deterministic test pixels (a gradient with a hash-like pattern so every filter type gets exercised). */
function pattern(width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3)
  for (let i = 0; i < data.length; i++) data[i] = (i * 7 + ((i * i) >> 5)) & 0xff
  return { width, height, data }
}

test('uint8 conversion equals A1111\'s (golden image_uint8) exactly', async () => {
  const g = await refTensors('sd1', 'goldens', 'sd1_goldens.safetensors')
  for (const name of SAMPLES) {
    const key = `sample.${name}.image`
    const [, , h, w] = g.info(key).shape
    const img = imageToUint8({ shape: g.info(key).shape, data: await g.readF32(key) })
    assert.equal(img.width, w)
    assert.equal(img.height, h)
    const expected = await g.readRaw(`${key}_uint8`)
    assert.deepEqual(img.data, new Uint8Array(expected), `${key}_uint8`)
  }
})

test('golden PNGs decode to the golden uint8 pixels; re-encoding round-trips them', async () => {
  const g = await refTensors('sd1', 'goldens', 'sd1_goldens.safetensors')
  for (const name of SAMPLES) {
    const file = ref('sd1', 'goldens', `sample.${name}.png`)
    const png = decodePng(readFileSync(file), file)
    const expected = new Uint8Array(await g.readRaw(`sample.${name}.image_uint8`))
    assert.deepEqual(png.data, expected, name)
    assert.equal(png.alpha, undefined)
    for (const filter of ['none', 'adaptive'] as const) {
      assert.deepEqual(decodePng(encodePng(png, { filter })).data, expected, `${name} ${filter}`)
    }
  }
})

test('adaptive filtering uses several filter types and compresses no worse than filter 0 here', () => {
  const img = pattern(37, 23)
  const adaptive = encodePng(img, { filter: 'adaptive' })
  const none = encodePng(img, { filter: 'none' })
  const idat = readPngChunks(adaptive).find((c) => c.type === 'IDAT')!.data
  const raw = inflateSync(idat)
  const types = new Set<number>()
  for (let y = 0; y < 23; y++) types.add(raw[y * (37 * 3 + 1)])
  assert.ok(types.size >= 2, `filter types used: ${[...types]}`)
  assert.deepEqual(decodePng(adaptive).data, img.data)
  assert.deepEqual(decodePng(none).data, img.data)
})

test('text chunks: Latin-1 → tEXt, other text → iTXt (as PIL writes them); both read back', () => {
  const text = { parameters: 'a café\nSteps: 20', note: '東京 🙂 “quotes”' }
  const bytes = encodePng(pattern(4, 3), { text })
  const chunks = readPngChunks(bytes)
  assert.deepEqual(chunks.map((c) => c.type), ['IHDR', 'tEXt', 'iTXt', 'IDAT', 'IEND'])
  assert.deepEqual(readPngTexts(bytes), [
    { keyword: 'parameters', text: text.parameters, chunk: 'tEXt' },
    { keyword: 'note', text: text.note, chunk: 'iTXt' },
  ])
  // PIL's iTXt layout: keyword NUL, flag 0, method 0, empty language NUL, empty translated keyword NUL, UTF-8.
  assert.deepEqual([...chunks[2].data.subarray(0, 9)], [...Buffer.from('note'), 0, 0, 0, 0, 0])
  assert.deepEqual(decodePng(bytes).text, text)
})

test('writePng / readPng round-trip through a file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sdloom-png-'))
  try {
    const file = join(dir, 'x.png')
    await writePng(file, pattern(5, 2), { text: { parameters: 'p' } })
    const back = await readPng(file)
    assert.deepEqual(back.data, pattern(5, 2).data)
    assert.deepEqual(back.text, { parameters: 'p' })
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test('decoder reads grey+alpha, RGBA and palette images', () => {
  const ihdr = (w: number, h: number, type: number): Uint8Array => {
    const b = new Uint8Array(13); const v = new DataView(b.buffer)
    v.setUint32(0, w); v.setUint32(4, h); b.set([8, type, 0, 0, 0], 8); return b
  }
  const png = (...chunks: Uint8Array[]): Uint8Array => Buffer.concat([PNG_SIGNATURE, ...chunks, encodeChunk('IEND', new Uint8Array(0))])
  const idat = (rows: number[][]): Uint8Array => encodeChunk('IDAT', deflateSync(Uint8Array.from(rows.flat())))
  // RGBA 2x1 with the Sub filter: second pixel stored as a difference.
  const rgba = decodePng(png(encodeChunk('IHDR', ihdr(2, 1, 6)), idat([[1, 10, 20, 30, 40, 5, 5, 5, 5]])))
  assert.deepEqual([...rgba.data], [10, 20, 30, 15, 25, 35])
  assert.deepEqual([...rgba.alpha!], [40, 45])
  const ga = decodePng(png(encodeChunk('IHDR', ihdr(1, 2, 4)), idat([[0, 7, 200], [2, 1, 1]])))
  assert.deepEqual([...ga.data], [7, 7, 7, 8, 8, 8])
  assert.deepEqual([...ga.alpha!], [200, 201])
  const pal = decodePng(png(encodeChunk('IHDR', ihdr(2, 1, 3)), encodeChunk('PLTE', Uint8Array.of(1, 2, 3, 4, 5, 6)),
    encodeChunk('tRNS', Uint8Array.of(128)), idat([[0, 1, 0]])))
  assert.deepEqual([...pal.data], [4, 5, 6, 1, 2, 3])
  assert.deepEqual([...pal.alpha!], [255, 128])
})

test('corrupt files give exact errors', () => {
  const good = encodePng(pattern(3, 3), { text: { parameters: 'x' } })
  assert.throws(() => decodePng(good.subarray(1), 'a.png'), { name: 'PngError', message: 'a.png: not a PNG file: the 8-byte PNG signature is missing' })
  const badCrc = Uint8Array.from(good)
  badCrc[8 + 8 + 13 + 4 + 8 + 3] ^= 1 // a byte inside the tEXt data
  assert.throws(() => decodePng(badCrc, '/x/b.png'), {
    name: 'PngError',
    message: `b.png: chunk tEXt at byte 33: CRC mismatch (stored 0x${crcOf(good, 33)}, computed 0x${crcOf(badCrc, 33, true)}); the file is corrupt`,
  })
  assert.throws(() => decodePng(good.subarray(0, good.length - 12), 'c.png'), {
    message: `c.png: truncated at byte ${good.length - 12}: expected a chunk header, found end of file (no IEND)`,
  })
  assert.throws(() => decodePng(good.subarray(0, 45), 'd.png'), {
    message: 'd.png: chunk tEXt at byte 33 declares 12 data bytes + 4 CRC bytes, but the file ends 4 bytes after its header (truncated?)',
  })
})

/** The stored CRC of the chunk at `pos`, or (computed) the CRC its bytes have now. */
function crcOf(bytes: Uint8Array, pos: number, computed = false): string {
  const v = new DataView(bytes.buffer, bytes.byteOffset)
  const len = v.getUint32(pos)
  const n = computed ? crc32(bytes.subarray(pos + 4, pos + 8 + len)) : v.getUint32(pos + 8 + len)
  return n.toString(16).padStart(8, '0')
}
