/** The web UI's prompt edits (extra-network card clicks, weights, autocomplete token) and infotext → form mapping. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { DEFAULTS, fromParameters, HIRES_DEFAULTS, toJobBody } from '../web/src/params.ts'
import { adjustWeight, hasLora, setLoraWeight, tokenAt, toggleLora, toggleWord } from '../web/src/prompt-edit.ts'
import type { Catalog } from '../web/src/types.ts'

test('a card click adds <lora:NAME:W>, a second removes it (other tags and a similar name stay); weights edit in place', () => {
  const p1 = toggleLora('a cat', 'tiny', 0.8)
  assert.equal(p1, 'a cat, <lora:tiny:0.8>')
  const p2 = toggleLora(`${p1}, <lora:tinylora:1>`, 'tiny', 1)
  assert.equal(p2, 'a cat, <lora:tinylora:1>')
  assert.equal(hasLora(p2, 'tiny'), false)
  assert.equal(toggleLora('', 'x.y', 1), '<lora:x.y:1>')
  assert.equal(toggleLora('<lora:x.y:1>, a dog', 'x.y', 1), 'a dog')
  assert.equal(setLoraWeight('a, <lora:tiny:1>, <lora:tinylora:1>', 'tiny', 0.5), 'a, <lora:tiny:0.5>, <lora:tinylora:1>')
})

test('embedding names toggle as whole words; the autocomplete token starts after the last separator', () => {
  assert.equal(toggleWord('blurry', 'tinyneg'), 'blurry, tinyneg')
  assert.equal(toggleWord('blurry, tinyneg', 'tinyneg'), 'blurry')
  assert.equal(toggleWord('tinyneg2, tinyneg', 'tinyneg'), 'tinyneg2')
  assert.equal(toggleWord('tinyneg, blurry', 'tinyneg'), 'blurry')
  assert.deepEqual(tokenAt('a cat, blue ey', 14), { start: 7, word: 'blue ey' })
  assert.deepEqual(tokenAt('a cat <lora:ti', 14), { start: 6, word: '<lora:ti' })
  assert.deepEqual(tokenAt('(red h', 6), { start: 1, word: 'red h' })
})

test('Ctrl+Up/Down: the word at the caret or the selection gets (words:1.1); inside a group the weight moves, and at 1 the group goes', () => {
  assert.deepEqual(adjustWeight('a red fox', 4, 4, 0.1), { text: 'a (red:1.1) fox', start: 3, end: 6 })
  assert.deepEqual(adjustWeight('a red fox', 2, 9, -0.1), { text: 'a (red fox:0.9)', start: 3, end: 10 })
  assert.deepEqual(adjustWeight('a (red:1.1) fox', 4, 7, 0.1), { text: 'a (red:1.2) fox', start: 3, end: 6 })
  assert.deepEqual(adjustWeight('a (red:1.1) fox', 4, 7, -0.1), { text: 'a red fox', start: 2, end: 5 })
  assert.deepEqual(adjustWeight('a, ', 3, 3, 0.1), { text: 'a, ', start: 3, end: 3 })
})

const CATALOG: Catalog = {
  checkpoints: [{ title: 'sub/model-a.safetensors [0123456789]', model_name: 'sub_model-a', hash: '0123456789', filename: '/m/sub/model-a.safetensors' },
    { title: 'model-b.safetensors', model_name: 'model-b', hash: null, filename: '/m/model-b.safetensors' }],
  vaes: [{ model_name: 'kl-f8.safetensors', filename: '/v/kl-f8.safetensors' }],
  samplers: [{ name: 'Euler a', aliases: [] }, { name: 'DPM++ 2M', aliases: [] }],
  schedulers: [{ name: 'karras', label: 'Karras' }],
  library: [], tags: [],
  upscalers: [],
}

test('infotext fields map onto the form; the model by hash or name; what does not map is listed; a locked seed stays', () => {
  const fields = { Prompt: 'p', 'Negative prompt': 'n', Steps: '7', Sampler: 'DPM++ 2M', 'Schedule type': 'Karras', 'CFG scale': '5.5', Seed: '99', 'Size-1': '96', 'Size-2': '64',
    Size: '96x64', Model: 'whatever', 'Model hash': '0123456789', VAE: 'kl-f8', 'Clip skip': '2', 'Hires upscale': '2' }
  const r = fromParameters(fields, DEFAULTS, CATALOG, false)
  assert.deepEqual(r.params, { ...DEFAULTS, prompt: 'p', negative: 'n', steps: 7, sampler: 'DPM++ 2M', scheduler: 'karras', cfg: 5.5, seed: 99, width: 96, height: 64,
    checkpoint: 'sub/model-a.safetensors [0123456789]', vae: 'kl-f8.safetensors', clipSkip: 2, hires: { ...HIRES_DEFAULTS, enabled: true, scale: 2 } })
  assert.deepEqual(r.notRestored, [])
  const other = fromParameters({ Prompt: 'q', Model: 'model-b', Sampler: 'Unknown', Seed: '5' }, { ...DEFAULTS, seed: 7 }, CATALOG, true)
  assert.deepEqual([other.params.checkpoint, other.params.sampler, other.params.seed, other.params.negative], ['model-b.safetensors', 'Euler a', 7, ''])
  assert.deepEqual(other.notRestored, ['Sampler: Unknown (unknown here)'])
  assert.deepEqual(fromParameters({ Model: 'gone' }, DEFAULTS, CATALOG, false).notRestored, ['Model: gone (not in the library)'])
})

test('the job body carries A1111 txt2img fields, saves the images, and sets model, VAE and clip skip as override_settings', () => {
  const body = toJobBody({ ...DEFAULTS, prompt: 'p', checkpoint: 'm.safetensors', steps: 30, batchCount: 2, batchSize: 3 })
  assert.deepEqual(body, {
    prompt: 'p', negative_prompt: '', sampler_name: 'Euler a', save_images: true, steps: 30, cfg_scale: 7, seed: -1, width: 512, height: 512, n_iter: 2, batch_size: 3,
    override_settings: { sd_model_checkpoint: 'm.safetensors', sd_vae: 'Automatic', CLIP_stop_at_last_layers: 1, live_previews_enable: true, show_progress_every_n_steps: 3 },
  })
})
