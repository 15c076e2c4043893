import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { InputError } from '../core/errors.ts'
import { writeSafetensors } from '../formats/safetensors-writer.ts'
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

test('close names: case, edits and substrings, closest first', async () => {
  assert.deepEqual(closeNames('Watercolour', ['watercolor', 'pencil', 'water', 'oil']), ['watercolor', 'water'])
  assert.deepEqual(closeNames('zzz', ['watercolor']), [])
  await assert.rejects(resolveNetworkName('pencl', new Map([['pencil', '/x/pencil.pt']]), '/x'),
    new InputError('<lora:pencl>: no LoRA named "pencl" in --loras /x (names are file stems, searched recursively); close names: pencil'))
  await assert.rejects(resolveNetworkName('q', new Map(), '/x'),
    new InputError('<lora:q>: no LoRA named "q" in --loras /x (names are file stems, searched recursively); the folder has no .safetensors, .pt or .ckpt files'))
})

test('a name that is no stem resolves through ss_output_name, unless two files share that alias', async () => {
  const aliased = await mkdtemp(join(tmpdir(), 'sdloom-alias-'))
  try {
    const write = (f: string, alias: string) => writeSafetensors(join(aliased, f), [], { metadata: { ss_output_name: alias } })
    await write('wc-v2.safetensors', 'watercolor')
    await write('ink1.safetensors', 'ink')
    await write('ink2.safetensors', 'ink')
    const found = await listNetworks(aliased)
    assert.equal(await resolveNetworkName('watercolor', found, aliased), join(aliased, 'wc-v2.safetensors'))
    assert.equal(await resolveNetworkName('ink1', found, aliased), join(aliased, 'ink1.safetensors'))
    await assert.rejects(resolveNetworkName('ink', found, aliased), new InputError(`<lora:ink>: no LoRA named "ink" in --loras ${aliased} `
      + '(names are file stems, searched recursively); close names: ink1, ink2'))
  } finally {
    await rm(aliased, { recursive: true, force: true })
  }
})
