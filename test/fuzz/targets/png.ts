/**
 * PNG: chunk layer (lengths, CRCs), IHDR, bounded inflate of IDAT, unfiltering, colour conversion, and every text
 * chunk (tEXt, bounded zTXt / iTXt). Structure-aware cases have valid CRCs around hostile content: any IHDR numbers,
 * IDAT streams that inflate to too little, too much (bombs) or garbage, every filter byte, palettes too short,
 * text chunks with bad keywords, flags, methods and compressed bombs.
 */
import fc from 'fast-check'
import { deflateSync } from 'node:zlib'
import { readdir } from 'node:fs/promises'
import { decodePng, encodePng } from '../../../src/image/png.ts'
import { encodeChunk, readPngTexts } from '../../../src/image/png-chunks.ts'
import { ref } from '../../golden.ts'
import { idat, ihdr, itxt, pngOf, ztxt } from '../../fixtures/png-builder.ts'
import type { FuzzTarget } from '../harness.ts'
import { mutated, INTERESTING } from '../mutate.ts'
import { counting, refBytes } from '../seeds.ts'

/** The fuzz decodes with a 1-megapixel limit, so a case allocates at most ~10 MB of pixels. */
const MAX_PIXELS = 1 << 20

function generatedSeeds(): Uint8Array[] {
  const px = { width: 7, height: 5, data: counting(7 * 5 * 3) }
  const raw = (w: number, h: number, ch: number): Uint8Array => counting((w * ch + 1) * h).map((b, i) => (i % (w * ch + 1) === 0 ? b % 5 : b))
  return [
    encodePng(px, { text: { parameters: 'a cat\nNegative prompt: dog\nSteps: 20, Sampler: Euler a, Seed: 1', note: '東京 🙂' } }),
    encodePng(px, { filter: 'none' }),
    pngOf(ihdr({ width: 3, height: 2, colorType: 6 }), idat(raw(3, 2, 4)), ztxt('parameters', 'zipped text')),
    pngOf(ihdr({ width: 3, height: 2, colorType: 4 }), idat(raw(3, 2, 2)), itxt('Comment', 'ünïcode', true, 'en', 'Kommentar')),
    pngOf(ihdr({ width: 3, height: 2, colorType: 0 }), idat(raw(3, 2, 1))),
    pngOf(ihdr({ width: 4, height: 2, colorType: 3 }), encodeChunk('PLTE', counting(12)), encodeChunk('tRNS', Uint8Array.of(0, 128)), idat(raw(4, 2, 1).map((b, i) => (i % 5 === 0 ? 0 : b % 4)))),
  ]
}

export async function pngSeeds(): Promise<Uint8Array[]> {
  const goldens = (await readdir(ref('sd1', 'goldens'))).filter((f) => f.endsWith('.64x64.png')).slice(0, 2)
  return [...await Promise.all(goldens.map((f) => refBytes('sd1', 'goldens', f))), ...generatedSeeds()]
}

const dim = fc.oneof(fc.integer({ min: 0, max: 64 }), fc.constantFrom(...INTERESTING.filter((v) => v < 2n ** 32n).map(Number)), fc.constant(4096))
const header = fc.record({
  width: dim, height: dim, depth: fc.constantFrom(1, 2, 4, 8, 16, 0, 255), colorType: fc.constantFrom(0, 2, 3, 4, 6, 1, 7), interlace: fc.constantFrom(0, 0, 0, 1, 2),
})
/** A zTXt chunk of 2 MB of zeros (2 KB in the file): above the 1 MiB text bound. Built once. */
const TEXT_BOMB = ztxt('parameters', new Uint8Array(2_000_000))

const zeroStreams = new Map<number, Uint8Array>()
/** deflate(n zeros), memoised: bombs are many sizes of the same few streams, and deflating 1 MB per case is slow. */
function deflatedZeros(n: number): Uint8Array {
  let z = zeroStreams.get(n)
  if (!z) {
    if (zeroStreams.size > 4096) zeroStreams.clear()
    z = deflateSync(new Uint8Array(n))
    zeroStreams.set(n, z)
  }
  return z
}

/** An IDAT stream: the right size, a multiple of it (a bomb), a fraction, or garbage. */
const imageData = fc.record({ factor: fc.constantFrom(0, 0.5, 1, 1, 1, 2, 1000), filter: fc.nat({ max: 6 }), garbage: fc.boolean(), zeros: fc.boolean() })
const textChunk = fc.oneof(
  fc.tuple(fc.string({ maxLength: 90 }), fc.string({ maxLength: 40 })).map(([k, t]) => encodeChunk('tEXt', Buffer.concat([Buffer.from(k, 'latin1'), Uint8Array.of(0), Buffer.from(t, 'latin1')]))),
  fc.tuple(fc.string({ minLength: 1, maxLength: 10 }), fc.string({ maxLength: 40 })).map(([k, t]) => ztxt(k, t)),
  fc.constant(TEXT_BOMB),
  fc.tuple(fc.string({ minLength: 1, maxLength: 10 }), fc.string({ maxLength: 40 }), fc.boolean(), fc.string({ maxLength: 5 })).map(([k, t, c, l]) => itxt(k, t, c, l)),
  fc.uint8Array({ maxLength: 24 }).map((b) => encodeChunk('iTXt', b)),
  fc.uint8Array({ maxLength: 24 }).map((b) => encodeChunk('zTXt', b)),
)

const structured: fc.Arbitrary<Uint8Array> = fc.record({ h: header, data: imageData, texts: fc.array(textChunk, { maxLength: 3 }), plte: fc.option(fc.nat({ max: 800 })) })
  .map(({ h, data, texts, plte }) => {
    const ch = ({ 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 } as Record<number, number>)[h.colorType] ?? 1
    const stride = h.width * ch + 1
    const length = Math.floor(stride * h.height * data.factor)
    const raw = data.zeros ? undefined : counting(Math.min(length, 1 << 12))
    if (raw) for (let i = 0; i < raw.length; i += stride) raw[i] = data.filter
    const stream = data.garbage ? counting(64) : raw ? deflateSync(raw) : deflatedZeros(Math.min(length, 1 << 20))
    const idatChunk = encodeChunk('IDAT', stream)
    return pngOf(ihdr(h), ...(plte === null ? [] : [encodeChunk('PLTE', counting(plte))]), ...texts, idatChunk)
  })

export const pngTarget: FuzzTarget<Uint8Array> = {
  name: 'png',
  describe: 'image/png.ts + png-chunks.ts: chunks, bounded inflate, unfilter, colours, text chunks',
  async arbitrary() { return fc.oneof(mutated(await pngSeeds()), structured) },
  run(bytes) {
    decodePng(bytes, 'fuzz.png', { maxPixels: MAX_PIXELS })
    readPngTexts(bytes, 'fuzz.png')
  },
}
