/**
 * One txt2img run in a fresh process (so its peak RSS is its own): `node --import tsx bench/txt2img-e2e-child.ts
 * FILE oneShot|kept [LORA]` prints {peakGiB, s} as JSON (LORA: applied first, as `sdloom generate --lora` does).
 * Used by bench/sections/txt2img-e2e.ts.
 */
import { prepareAdapters } from '../src/pipeline/adapters.ts'
import { loadModel } from '../src/pipeline/load-model.ts'
import { txt2img } from '../src/pipeline/txt2img.ts'
import { createClipTokenizer } from '../src/prompt/index.ts'
import { TOKENIZER_DIR } from '../test/golden.ts'
import { peakRssMb } from './section.ts'

const [file, mode, lora] = process.argv.slice(2)
const model = await loadModel(file)
const t0 = performance.now()
if (lora) await prepareAdapters(model, { loras: [{ file: lora, te: 1, unet: 1 }], hashCache: false, oneShot: mode === 'oneShot' }, () => undefined)
const tokenizer = createClipTokenizer(TOKENIZER_DIR)
await txt2img(model, { prompt: 'a photo of a cat', negativePrompt: 'blurry', steps: 2, sampler: 'Euler', seed: 1, tokenizer }, { oneShot: mode === 'oneShot' })
const s = (performance.now() - t0) / 1000
console.log(JSON.stringify({ peakGiB: (await peakRssMb()) / 1024, s }))
await model.release()
