import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { assertClose } from '../../../test/golden.ts'
import {
  referenceForward, referenceSrvgg, seeded, tinyEsrgan, tinySrvgg, toOldLayout, writeEsrganPth, writeEsrganSafetensors, type TinyEsrganSpec, type TinySrvggSpec,
} from '../../../test/fixtures/tiny-esrgan.ts'
import { UnknownModelError } from '../../core/errors.ts'
import { writeSafetensors } from '../../formats/safetensors-writer.ts'
import { EsrganNet } from './session.ts'

const image = (h: number, w: number, seed: number) => {
  const rnd = seeded(seed)
  return { h, w, data: Float32Array.from({ length: 3 * h * w }, rnd) }
}
const run = async (file: string, img: { h: number; w: number; data: Float32Array }) => {
  const net = await EsrganNet.load(file, { threads: 1 })
  try { return { config: net.config, out: await net.run({ shape: [1, 3, img.h, img.w], data: img.data }) } } finally { await net.release() }
}

// The reference is referenceForward (test/fixtures/tiny-esrgan.ts): the published RRDBNet written as plain float64
// loops, independent of the graph builder and onnxruntime; float32 accumulation through 2 blocks keeps ~1e-6.
const X4: TinyEsrganSpec = { features: 8, growth: 4, blocks: 2, upsamples: 2, unshuffle: 1, seed: 7 }

test('RRDBNet 4x: the BasicSR .pth (params_ema) equals the reference forward, and the old ESRGAN layout gives the same bits', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'esrgan-'))
  try {
    const net = tinyEsrgan(X4)
    // params (the non-EMA weights) differ: params_ema must be the one read, as Real-ESRGAN loads it
    await writeEsrganPth(join(dir, 'RealESRGAN_tiny.pth'), { params_ema: net, params: tinyEsrgan({ ...X4, seed: 99 }) })
    await writeEsrganSafetensors(join(dir, 'ESRGAN_old.safetensors'), toOldLayout(net, 2, 2))
    const img = image(7, 5, 1)
    const basicsr = await run(join(dir, 'RealESRGAN_tiny.pth'), img)
    assert.deepEqual(basicsr.config, { channels: 3, features: 8, growth: 4, blocks: 2, upsamples: 2, unshuffle: 1, scale: 4 })
    assert.deepEqual(basicsr.out.shape, [1, 3, 28, 20])
    assertClose(basicsr.out.data, referenceForward(net, X4, img), 1e-5, 'RRDBNet 4x')
    const old = await run(join(dir, 'ESRGAN_old.safetensors'), img)
    assert.deepEqual(old.config, basicsr.config)
    assert.deepEqual(old.out.data, basicsr.out.data)
  } finally { await rm(dir, { recursive: true, force: true }) }
})

test('RRDBNet x2plus (pixel-unshuffled input): measured scale 2, equals the reference; odd sizes are reflect-padded and cropped', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'esrgan-'))
  try {
    const spec: TinyEsrganSpec = { features: 6, growth: 3, blocks: 1, upsamples: 2, unshuffle: 2, seed: 3 }
    const net = tinyEsrgan(spec)
    await writeEsrganSafetensors(join(dir, 'RealESRGAN_x2_tiny.safetensors'), net)
    const img = image(6, 4, 2)
    const { config, out } = await run(join(dir, 'RealESRGAN_x2_tiny.safetensors'), img)
    assert.deepEqual(config, { channels: 3, features: 6, growth: 3, blocks: 1, upsamples: 2, unshuffle: 2, scale: 2 })
    assertClose(out.data, referenceForward(net, spec, img), 1e-5, 'RRDBNet x2plus')
    const odd = await run(join(dir, 'RealESRGAN_x2_tiny.safetensors'), image(5, 3, 4))
    assert.deepEqual(odd.out.shape, [1, 3, 10, 6])
  } finally { await rm(dir, { recursive: true, force: true }) }
})

test('a file that is not an RRDBNet is refused naming what was looked for', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'esrgan-'))
  try {
    const file = join(dir, '4x_SwinIR.safetensors')
    await writeSafetensors(file, [{ name: 'layers.0.weight', dtype: 'F32', shape: [2], data: new Uint8Array(8) }])
    await assert.rejects(EsrganNet.load(file), (e: unknown) => {
      assert.ok(e instanceof UnknownModelError)
      assert.equal(e.message, '4x_SwinIR.safetensors: is not an ESRGAN-family (RRDBNet) upscaler: no tensor "conv_first.weight", '
        + '"body.0.rdb1.conv1.weight", "conv_body.weight", "conv_hr.weight", "conv_last.weight" (nor its old ESRGAN name model.N / '
        + 'model.1.sub.N.RDBk.convj.0). Hint: SwinIR, DAT, HAT and other architectures are not supported; '
        + 'RRDBNet files are ESRGAN_4x, RealESRGAN_x4plus(_anime_6B), 4x-UltraSharp and the like; SRVGGNetCompact files (body.N) are '
        + 'realesr-general-x4v3 and realesr-animevideov3.')
      return true
    })
  } finally { await rm(dir, { recursive: true, force: true }) }
})

// SRVGGNetCompact against referenceSrvgg (test/fixtures/tiny-esrgan.ts): srvgg_arch.py's forward as float64 loops
// (convs, per-channel PReLU, pixel_shuffle by its index formula, nearest upsample), not the graph's DepthToSpace trick.
const GENERAL: TinySrvggSpec = { features: 8, convs: 4, scale: 4, seed: 11 }

test('SRVGGNetCompact (realesr-general-x4v3 layout, `params` nested in a .pth) equals the reference forward; a bare ×2 .safetensors too', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'srvgg-'))
  try {
    const net = tinySrvgg(GENERAL)
    await writeEsrganPth(join(dir, 'realesr-general-x4v3.pth'), { params: net })
    const img = image(6, 9, 3)
    const general = await run(join(dir, 'realesr-general-x4v3.pth'), img)
    assert.deepEqual(general.config, { arch: 'srvgg', channels: 3, features: 8, convs: 4, scale: 4, unshuffle: 1 })
    assert.deepEqual(general.out.shape, [1, 3, 24, 36])
    assertClose(general.out.data, referenceSrvgg(net, GENERAL, img), 1e-5, 'SRVGG 4x')

    const X2: TinySrvggSpec = { features: 6, convs: 2, scale: 2, seed: 5 }
    const small = tinySrvgg(X2)
    await writeEsrganSafetensors(join(dir, 'srvgg_x2.safetensors'), small)
    const two = await run(join(dir, 'srvgg_x2.safetensors'), img)
    assert.deepEqual(two.config, { arch: 'srvgg', channels: 3, features: 6, convs: 2, scale: 2, unshuffle: 1 })
    assertClose(two.out.data, referenceSrvgg(small, X2, img), 1e-5, 'SRVGG 2x')
  } finally { await rm(dir, { recursive: true, force: true }) }
})
