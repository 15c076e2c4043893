import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openTensorFile } from './open.ts'
import { writeSafetensors } from './safetensors-writer.ts'
import { writeTorchCkpt } from '../../test/fixtures/torch-pickle-writer.ts'

let dir = ''
before(async () => { dir = await mkdtemp(join(tmpdir(), 'sdloom-open-')) })
after(async () => { await rm(dir, { recursive: true, force: true }) })

test('dispatches by content, whatever the extension', async () => {
  await writeSafetensors(join(dir, 'st.ckpt'), [{ name: 'x', dtype: 'F32', shape: [1], data: new Uint8Array(4) }])
  await writeTorchCkpt(join(dir, 'zip.safetensors'), { x: { dtype: 'F32', shape: [1], data: [0] } })
  await writeTorchCkpt(join(dir, 'legacy.bin'), { x: { dtype: 'F32', shape: [1], data: [0] } }, { legacy: true })
  for (const [name, format] of [['st.ckpt', 'safetensors'], ['zip.safetensors', 'pickle'], ['legacy.bin', 'pickle']]) {
    const src = await openTensorFile(join(dir, name))
    try {
      assert.equal(src.format, format, name)
      assert.deepEqual(src.keys(), ['x'])
      assert.deepEqual([...await src.readF32('x')], [0])
    } finally { await src.close() }
  }
})

test('missing files, folders, empty and unrecognised files are clear errors', async () => {
  const rejects = (name: string, message: string): Promise<void> => assert.rejects(openTensorFile(join(dir, name)), { name: 'TensorFileError', message })
  await rejects('missing.safetensors', 'missing.safetensors: no such file')
  await mkdir(join(dir, 'folder.ckpt'))
  await rejects('folder.ckpt', 'folder.ckpt: is a directory, not a tensor file')
  await writeFile(join(dir, 'empty.pt'), new Uint8Array(0))
  await rejects('empty.pt', 'empty.pt: unrecognised format: expected safetensors (8-byte length, then "{"), a torch zip checkpoint ("PK\\x03\\x04"), a torch pickle (0x80) or GGUF ("GGUF"); the file is empty')
  await writeFile(join(dir, 'page.safetensors'), '<!DOCTYPE html><html>')
  await rejects('page.safetensors', 'page.safetensors: unrecognised format: expected safetensors (8-byte length, then "{"), a torch zip checkpoint ("PK\\x03\\x04"), a torch pickle (0x80) or GGUF ("GGUF"); the file starts with 3c 21 44 4f 43 54 59 50 45')
  await writeFile(join(dir, 'plain.pkl'), Uint8Array.from([0x80, 2, 0x4e, 0x2e]))
  await rejects('plain.pkl', 'plain.pkl: pickle file without the torch magic number; not a torch checkpoint')
})
