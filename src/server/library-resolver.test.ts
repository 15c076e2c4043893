import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openDatabase } from '../jobs/sqlite.ts'
import { Library } from '../library/library.ts'
import { LibraryResolver } from './library-resolver.ts'
import { makeA1111Root } from '../../test/fixtures/server-a1111-root.ts'
import { ref } from '../../test/golden.ts'

let dir: string
let root: string
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sdloom-resolver-'))
  root = join(dir, 'a1111')
  // A copy, not the fixture's symlink: the test changes its mtime.
  await makeA1111Root(root, { 'models/Stable-diffusion/own.safetensors': await readFile(ref('sd1', 'tiny-sd1.safetensors')) })
  await mkdir(join(root, 'models', 'VAE-approx'), { recursive: true })
  await writeFile(join(root, 'models', 'VAE-approx', 'taesd_decoder.safetensors'), 'a decoder')
})
after(() => rm(dir, { recursive: true, force: true }))

test('the resolver hands the engine the library\'s SHA-256 only while the file is the one that was hashed', async () => {
  const lib = await Library.open(openDatabase(join(dir, 'sha.db')), [root])
  await lib.scan()
  const resolver = new LibraryResolver(lib)
  const file = await resolver.checkpoint('own')
  assert.equal(await resolver.knownSha256(file), undefined, 'nothing hashed yet: the engine hashes it')
  const expected = createHash('sha256').update(await readFile(file)).digest('hex')
  assert.equal((await lib.hashes(lib.entry(file)!)).sha256, expected)
  assert.equal(await resolver.knownSha256(file), expected)
  await utimes(file, new Date(), new Date(Date.now() + 5000))
  assert.equal(await resolver.knownSha256(file), undefined, 'a file touched since it was listed is hashed again')
})

test('previews find a TAESD decoder in any library root, by latent family', async () => {
  const resolver = new LibraryResolver(await Library.open(openDatabase(join(dir, 'taesd.db')), [root]))
  assert.equal(await resolver.taesd('sd'), join(root, 'models', 'VAE-approx', 'taesd_decoder.safetensors'))
  assert.equal(await resolver.taesd('sdxl'), undefined)
})
