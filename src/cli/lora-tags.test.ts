import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseExtraNetworks } from '../prompt/index.ts'
import { loraTag, promptWithLoraTags } from './lora-tags.ts'

test('--lora FILE[:W[:W_UNET]] becomes the tag A1111 users type', () => {
  assert.equal(loraTag('/x/loras/style.safetensors'), '<lora:style:1>')
  assert.equal(loraTag('style.safetensors:0.7'), '<lora:style:0.7>')
  assert.equal(loraTag('C:/a/detail.v2.pt:0.5:0.8'), '<lora:detail.v2:0.5:0.8>')
  assert.equal(promptWithLoraTags('a cat', ['a.safetensors', 'b.safetensors:-0.5']), 'a cat <lora:a:1> <lora:b:-0.5>')
  assert.equal(promptWithLoraTags('', ['a.safetensors']), '<lora:a:1>')
  assert.equal(promptWithLoraTags('a cat', []), 'a cat')
})

test('the tags read back through A1111\'s extra-network syntax with the same names and weights', () => {
  const parsed = parseExtraNetworks(promptWithLoraTags('a cat', ['/m/style.safetensors:0.7', 'd.safetensors:0.5:0.8']))
  assert.deepEqual(parsed.loras.map((l) => ({ name: l.name, te: l.te, unet: l.unet })), [
    { name: 'style', te: 0.7, unet: 0.7 }, { name: 'd', te: 0.5, unet: 0.8 },
  ])
})
