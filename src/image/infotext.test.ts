import { test } from 'node:test'
import assert from 'node:assert/strict'
import { formatInfotext, parseInfotext, quoteValue, unquoteValue, type GenerationInfo } from './infotext.ts'

const FULL: GenerationInfo = {
  prompt: 'a photo of a cat, (masterpiece:1.2), best quality <lora:tiny, lora:0.7>',
  negativePrompt: 'blurry, lowres',
  steps: 20,
  sampler: 'Euler a',
  scheduleType: 'Karras',
  cfgScale: 7,
  seed: 42,
  width: 512,
  height: 768,
  modelHash: '6ce0161689',
  model: 'v1-5-pruned-emaonly',
  vaeHash: '735e4c3a44',
  vae: 'vae-ft-mse-840000-ema-pruned',
  clipSkip: 2,
  rng: 'CPU',
  loraHashes: [{ name: 'tinylora', hash: '0123456789ab' }, { name: 'tiny, lora', hash: 'ba9876543210' }],
  tiHashes: [{ name: 'tinyneg', hash: 'aabbccddeeff' }],
  version: 'sdloom 0.1.0',
}

test('format writes A1111\'s field order, omissions and quoting', () => {
  assert.equal(formatInfotext(FULL), [
    'a photo of a cat, (masterpiece:1.2), best quality <lora:tiny, lora:0.7>',
    'Negative prompt: blurry, lowres',
    'Steps: 20, Sampler: Euler a, Schedule type: Karras, CFG scale: 7, Seed: 42, Size: 512x768, Model hash: 6ce0161689, '
      + 'Model: v1-5-pruned-emaonly, VAE hash: 735e4c3a44, VAE: vae-ft-mse-840000-ema-pruned, Clip skip: 2, RNG: CPU, '
      + 'Lora hashes: "tinylora: 0123456789ab, tiny lora: ba9876543210", TI hashes: "tinyneg: aabbccddeeff", Version: sdloom 0.1.0',
  ].join('\n'))
})

test('format omits defaults: empty negative prompt, clip skip 1, GPU RNG; extra params sit before the hashes', () => {
  const text = formatInfotext({
    prompt: 'cat', negativePrompt: '', steps: 8, sampler: 'DPM++ 2M', cfgScale: 7.5, seed: 1, width: 64, height: 96,
    clipSkip: 1, rng: 'GPU', denoisingStrength: 0.75, ensd: 31337, extra: { 'Hires upscale': 2, 'Hires upscaler': 'Latent', NGMS: 'NGMS', Tiling: true },
    loraHashes: [{ name: 'l', hash: '0123456789ab' }],
  })
  assert.equal(text, 'cat\nSteps: 8, Sampler: DPM++ 2M, CFG scale: 7.5, Seed: 1, Size: 64x96, Denoising strength: 0.75, '
    + 'ENSD: 31337, Hires upscale: 2, Hires upscaler: Latent, NGMS, Tiling: True, Lora hashes: "l: 0123456789ab"')
})

test('quote/unquote follow infotext_utils (JSON, non-ASCII kept)', () => {
  assert.equal(quoteValue('plain value'), 'plain value')
  assert.equal(quoteValue('a, b'), '"a, b"')
  assert.equal(quoteValue('k: v'), '"k: v"')
  assert.equal(quoteValue('line1\nline2'), '"line1\\nline2"')
  assert.equal(quoteValue('say "hi"'), '"say \\"hi\\""')
  assert.equal(quoteValue('café, 東京\\x'), '"café, 東京\\\\x"')
  assert.equal(unquoteValue('"a, b \\"c\\""'), 'a, b "c"')
  assert.equal(unquoteValue('"not json\\q"'), '"not json\\q"')
  assert.equal(unquoteValue('"'), '"')
  assert.equal(unquoteValue('x"'), 'x"')
})

test('round trip: parse(format(info)) gives the same info', () => {
  const back = parseInfotext(formatInfotext(FULL))
  assert.deepEqual(back.info, {
    ...FULL,
    // names lose ',' and ':' when written, exactly as in A1111
    loraHashes: [{ name: 'tinylora', hash: '0123456789ab' }, { name: 'tiny lora', hash: 'ba9876543210' }],
  })
  assert.equal(back.fields['Lora hashes'], 'tinylora: 0123456789ab, tiny lora: ba9876543210')
  const multi: GenerationInfo = { prompt: 'line one,\nline two', negativePrompt: 'neg one\nneg two', steps: 4, sampler: 'Heun',
    cfgScale: 1.5, seed: 4294967295, width: 8, height: 16, extra: { 'Hires prompt': 'x, "y"\nz' } }
  const b2 = parseInfotext(formatInfotext(multi))
  assert.deepEqual(b2.info, { ...multi })
})

test('parses A1111\'s own docstring example', () => {
  const text = `girl with an artist's beret, determined, blue eyes, desert scene, computer monitors, heavy makeup, by Alphonse Mucha and Charlie Bowater, ((eyeshadow)), (coquettish), detailed, intricate
Negative prompt: ugly, fat, obese, chubby, (((deformed))), [blurry], bad anatomy, disfigured, poorly drawn face, mutation, mutated, (extra_limb), (ugly), (poorly drawn hands), messy drawing
Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 965400086, Size: 512x512, Model hash: 45dee52b`
  const p = parseInfotext(text)
  assert.equal(p.prompt, text.split('\n')[0])
  assert.equal(p.negativePrompt, text.split('\n')[1].slice('Negative prompt: '.length))
  assert.deepEqual(p.fields, { Steps: '20', Sampler: 'Euler a', 'CFG scale': '7', Seed: '965400086', Size: '512x512', 'Model hash': '45dee52b' })
  assert.deepEqual(p.info, { prompt: p.prompt, negativePrompt: p.negativePrompt, steps: 20, sampler: 'Euler a', cfgScale: 7,
    seed: 965400086, width: 512, height: 512, modelHash: '45dee52b' })
})

test('parses a webui 1.10 infotext with hires fix, quoted hashes and a multi-line prompt', () => {
  const text = `masterpiece, best quality,
1girl, <lora:add_detail:0.5>
Negative prompt: (worst quality, low quality:1.4), easynegative
Steps: 25, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 3842617402, Size: 512x768, Model hash: 7f96a1a9ca, Model: anything-v5, Denoising strength: 0.5, Clip skip: 2, Hires upscale: 2, Hires steps: 10, Hires upscaler: R-ESRGAN 4x+ Anime6B, Lora hashes: "add_detail: 7c6bad76eb54", TI hashes: "easynegative: c74b4e810b03", Emphasis: No norm, Version: v1.10.1`
  const p = parseInfotext(text)
  assert.equal(p.prompt, 'masterpiece, best quality,\n1girl, <lora:add_detail:0.5>')
  assert.equal(p.negativePrompt, '(worst quality, low quality:1.4), easynegative')
  assert.deepEqual(Object.keys(p.fields), ['Steps', 'Sampler', 'Schedule type', 'CFG scale', 'Seed', 'Size', 'Model hash', 'Model',
    'Denoising strength', 'Clip skip', 'Hires upscale', 'Hires steps', 'Hires upscaler', 'Lora hashes', 'TI hashes', 'Emphasis', 'Version'])
  assert.equal(p.info.scheduleType, 'Karras')
  assert.equal(p.info.denoisingStrength, 0.5)
  assert.equal(p.info.clipSkip, 2)
  assert.equal(p.info.rng, undefined)
  assert.deepEqual(p.info.loraHashes, [{ name: 'add_detail', hash: '7c6bad76eb54' }])
  assert.deepEqual(p.info.tiHashes, [{ name: 'easynegative', hash: 'c74b4e810b03' }])
  assert.deepEqual(p.info.extra, { 'Hires upscale': '2', 'Hires steps': '10', 'Hires upscaler': 'R-ESRGAN 4x+ Anime6B', Emphasis: 'No norm' })
  assert.equal(p.info.version, 'v1.10.1')
  // Re-formatting the parsed info reproduces the text (A1111's order is preserved through `extra`), except
  // that extras sit before the hashes in sdloom's writer, as create_infotext puts extra_generation_params.
  assert.equal(formatInfotext(p.info as GenerationInfo), text.replace(', Emphasis: No norm', '')
    .replace('Hires upscaler: R-ESRGAN 4x+ Anime6B,', 'Hires upscaler: R-ESRGAN 4x+ Anime6B, Emphasis: No norm,'))
})

test('a last line with fewer than 3 fields is part of the prompt; blank leading lines vanish as in A1111', () => {
  const p = parseInfotext('a cat\nSteps: 20, Seed: 1')
  assert.equal(p.prompt, 'a cat\nSteps: 20, Seed: 1')
  assert.deepEqual(p.fields, {})
  const q = parseInfotext('x\nNegative prompt:\n\nugly\nSteps: 1, Sampler: Euler, Seed: 2')
  assert.equal(q.negativePrompt, 'ugly')
  assert.equal(parseInfotext('a\n\nb\nSteps: 1, Sampler: Euler, Seed: 2').prompt, 'a\n\nb')
})

test('unicode keys and values parse (Python\'s \\w is Unicode)', () => {
  const p = parseInfotext('p\nSteps: 1, Sampler: Euler, Modèle: été, Seed: 3')
  assert.equal(p.fields['Modèle'], 'été')
})
