import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { CommandContext } from '../command.ts'
import { hiresFixOf, hiresOf, refinerOf, tileOptionsOf } from './mode-flags.ts'

const ctx = (values: CommandContext['values']): CommandContext => ({ values, positionals: [], json: false, out: () => {}, warn: () => {} })

test('--hires-* flags become HiresOptions (the second pass\'s prompt, negative, sampler, schedule type and CFG too)', () => {
  assert.equal(hiresOf(ctx({})), undefined)
  assert.deepEqual(hiresOf(ctx({
    'hires-prompt': 'a dog', 'hires-negative': 'ugly', 'hires-sampler': 'DPM++ 2M', 'hires-schedule': 'Karras', 'hires-cfg': '4.5',
  })), {
    scale: undefined, resize: undefined, upscaler: undefined, steps: undefined, denoisingStrength: undefined,
    prompt: 'a dog', negativePrompt: 'ugly', sampler: 'DPM++ 2M', scheduler: 'Karras', cfgScale: 4.5,
  })
  // --upscaler-model alone names the hires upscaler after the file, as A1111 names models/ESRGAN files
  assert.equal(hiresOf(ctx({ 'hires-scale': '2', 'upscaler-model': '/m/4x-UltraSharp.pth' }))?.upscaler, '4x-UltraSharp')
  assert.deepEqual(tileOptionsOf(ctx({ 'upscaler-tile': '256' })), { tileSize: 256 })
})

test('--hires-* flags as the Engine request\'s HiresFix: --hires-resize flat, tile settings, no undefined fields', () => {
  assert.equal(hiresFixOf(ctx({})), undefined)
  assert.deepEqual(hiresFixOf(ctx({ 'hires-resize': '640x0', 'hires-upscaler': 'Lanczos', 'upscaler-tile': '0', 'upscaler-tile-overlap': '4' })),
    { resizeWidth: 640, resizeHeight: 0, upscaler: 'Lanczos', upscalerTile: 0, upscalerTileOverlap: 4 })
  assert.deepEqual(hiresFixOf(ctx({ 'hires-scale': '2', 'hires-checkpoint': 'b.safetensors' })), { scale: 2, checkpoint: 'b.safetensors' })
  assert.throws(() => hiresFixOf(ctx({ 'hires-checkpoint': 'b.safetensors' })), { message: '--hires-checkpoint runs the hires pass: add --hires-scale X or --hires-resize WxH' })
})

test('--refiner-switch-at needs --refiner and a value in (0, 1]; without --refiner the request names none', () => {
  assert.deepEqual(refinerOf(ctx({})), {})
  assert.deepEqual(refinerOf(ctx({ 'refiner': 'x.safetensors' })), { refiner: 'x.safetensors', refinerSwitchAt: 0.8 })
  assert.throws(() => refinerOf(ctx({ 'refiner-switch-at': '0.5' })), { message: '--refiner-switch-at needs --refiner FILE' })
  assert.throws(() => refinerOf(ctx({ 'refiner': 'x.safetensors', 'refiner-switch-at': '1.5' })), { message: 'refiner switch at must be in (0, 1], got 1.5' })
})
