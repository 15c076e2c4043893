import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { InputError } from '../core/errors.ts'
import { closeNames, listNetworks, loraRequestsFromPrompt, parseLoraFlag, resolveNetworkName } from './extra-networks-resolve.ts'

let dir: string
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sdloom-loras-'))
  await mkdir(join(dir, 'style', 'old'), { recursive: true })
  for (const f of ['a.safetensors', 'b.pt', 'c.ckpt', 'notes.txt', 'style/watercolor.safetensors', 'style/old/a.safetensors']) await writeFile(join(dir, f), '')
})
after(() => rm(dir, { recursive: true, force: true }))

test('--lora FILE[:W[:W_UNET]]: trailing numbers are weights, the rest (colons included) is the file', () => {
  assert.deepEqual(parseLoraFlag('x.safetensors'), { file: 'x.safetensors', te: 1, unet: 1 })
  assert.deepEqual(parseLoraFlag('x.safetensors:0.7'), { file: 'x.safetensors', te: 0.7, unet: 0.7 })
  assert.deepEqual(parseLoraFlag('x.safetensors:0.7:-.5'), { file: 'x.safetensors', te: 0.7, unet: -0.5 })
  assert.deepEqual(parseLoraFlag('C:\\loras\\x.safetensors:1e-1'), { file: 'C:\\loras\\x.safetensors', te: 0.1, unet: 0.1 })
  assert.deepEqual(parseLoraFlag('odd:name.pt'), { file: 'odd:name.pt', te: 1, unet: 1 })
  assert.throws(() => parseLoraFlag(':0.5'), new InputError('--lora :0.5: no file. Hint: --lora FILE[:WEIGHT[:UNET_WEIGHT]], e.g. --lora style.safetensors:0.7'))
})

test('prompt calls become requests with A1111 multipliers (<lyco:…> too)', () => {
  assert.deepEqual(loraRequestsFromPrompt('a cat <lora:style:0.7> <lyco:char:0.9:0.4> <hypernet:h:1>'), [
    { name: 'style', te: 0.7, unet: 0.7 }, { name: 'char', te: 0.9, unet: 0.4 },
  ])
})

test('--loras DIR: recursive, by file stem, .safetensors/.pt/.ckpt only; a later file with the same stem wins', async () => {
  const found = await listNetworks(dir)
  assert.deepEqual([...found.keys()].sort(), ['a', 'b', 'c', 'watercolor'])
  assert.equal(found.get('a'), join(dir, 'style', 'old', 'a.safetensors'))
  await assert.rejects(listNetworks(join(dir, 'missing')), new InputError(`--loras ${join(dir, 'missing')}: no such folder`))
})

test('close names: case, edits and substrings, closest first', () => {
  assert.deepEqual(closeNames('Watercolour', ['watercolor', 'pencil', 'water', 'oil']), ['watercolor', 'water'])
  assert.deepEqual(closeNames('zzz', ['watercolor']), [])
  assert.throws(() => resolveNetworkName('pencl', new Map([['pencil', '/x/pencil.pt']]), '/x'),
    new InputError('<lora:pencl>: no LoRA named "pencl" in --loras /x (names are file stems, searched recursively); close names: pencil'))
  assert.throws(() => resolveNetworkName('q', new Map(), '/x'),
    new InputError('<lora:q>: no LoRA named "q" in --loras /x (names are file stems, searched recursively); the folder has no .safetensors, .pt or .ckpt files'))
})
