/**
 * Generation through the real Engine (in its worker thread, as `sdloom serve` runs it) behind the server: node-sd-webui (unmodified) asks for an image with a LoRA and
 * an embedding from the library; the PNG must equal, byte for byte, what `sdloom generate` writes for the same
 * parameters (same pixels, same infotext, same encoder).
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import sdwebui from 'node-sd-webui'
import { EngineClient } from '../../src/engine/client.ts'
import { readPngTexts } from '../../src/image/png-chunks.ts'
import { TOKENIZER_DIR } from '../golden.ts'
import { runSdloom } from './generate-cli.ts'
import { startTestServer, type TestServer } from './server-helpers.ts'

let s: TestServer
before(async () => {
  s = await startTestServer({ createEngine: (resolver) => new EngineClient({ resolver, tokenizerDir: TOKENIZER_DIR, hashCache: false }) })
})
after(() => s.dispose())

test('node-sd-webui txt2img with a LoRA and an embedding equals the CLI\'s PNG bit for bit', async () => {
  const prompt = 'a tiny house, tinyemb <lora:tinylora:0.8>'
  const client = sdwebui({ apiUrl: s.url })
  const ask = () => client.txt2img({ prompt, negativePrompt: 'tinyneg', steps: 2, width: 64, height: 64, seed: 42, samplingMethod: 'Euler', cfgScale: 7 })
  // The server runs LoRAs in "auto" mode: bypass on the first request (a switch costs nothing), merged into the
  // weights once the same set repeats, which is what the one-shot CLI does; the second answer is the merged one.
  const first = Buffer.from((await ask()).images[0], 'base64')
  const served = Buffer.from((await ask()).images[0], 'base64')
  const out = join(s.dir, 'cli.png')
  const cli = await runSdloom(['generate', prompt, '--negative', 'tinyneg', '--model', join(s.root, 'models/Stable-diffusion/tiny-sd1.safetensors'),
    '--steps', '2', '--width', '64', '--height', '64', '--seed', '42', '--sampler', 'Euler', '--cfg', '7', '--tokenizer', TOKENIZER_DIR,
    '--loras', join(s.root, 'models/Lora'), '--embeddings', join(s.root, 'embeddings'), '--out', out], { SDLOOM_CACHE: join(s.dir, 'cache') })
  assert.equal(cli.code, 0, cli.stderr)
  const written = await readFile(out)
  const infotext = readPngTexts(served).find((t) => t.keyword === 'parameters')?.text ?? ''
  assert.match(infotext, /Lora hashes: "tinylora: [0-9a-f]{12}"/)
  assert.match(infotext, /TI hashes: "(tinyemb: [0-9a-f]{12}, tinyneg|tinyneg: [0-9a-f]{12}, tinyemb)/)
  assert.equal(infotext, readPngTexts(written).find((t) => t.keyword === 'parameters')?.text)
  assert.ok(served.equals(written), 'PNG bytes differ')
  assert.equal(readPngTexts(first).find((t) => t.keyword === 'parameters')?.text, infotext)
})
