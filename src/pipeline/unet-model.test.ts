/* The UNet ModelFn's row batching and step counting, with a recording stand-in for the UNet session. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { UnetInputs, UnetSession } from '../models/unet/index.ts'
import type { BatchRow } from '../sampling/index.ts'
import type { Cond, PromptConditioning } from './conditioning.ts'
import { stackContexts, unetModel } from './unet-model.ts'

/** A cond of `tokens` rows of width 2 whose values are `tag` + token index / 100. */
const cond = (tag: number, tokens: number): Cond =>
  ({ context: Float32Array.from({ length: tokens * 2 }, (_, i) => tag + Math.floor(i / 2) / 100), tokens, dim: 2 })

/** UNet stand-in: output row = x row + the row's first context value; records each call's inputs. */
function fakeUnet(): { unet: UnetSession; calls: UnetInputs[] } {
  const calls: UnetInputs[] = []
  const unet = {
    run: async (inputs: UnetInputs) => {
      calls.push(inputs)
      const [b, , t, c] = [inputs.x.shape[0], 0, inputs.context.shape[1], inputs.context.shape[2]]
      const per = inputs.x.data.length / b
      const data = inputs.x.data.map((v, i) => v + inputs.context.data[Math.floor(i / per) * t * c])
      return { shape: inputs.x.shape, data }
    },
  } as unknown as UnetSession
  return { unet, calls }
}

const conditioning = (conds: (step: number) => Cond[], uncond: (step: number) => Cond): PromptConditioning =>
  ({ weights: [1], text: '', condAt: conds, uncondAt: uncond })

const ROWS: BatchRow[] = [{ kind: 'cond', image: 0, part: 0 }, { kind: 'uncond', image: 0 }]
const X = new Float32Array(2 * 4 * 1 * 1)

test('equal token lengths: cond and uncond rows in one UNet call', async () => {
  const { unet, calls } = fakeUnet()
  const model = unetModel({ unet, weights: {} as never, latentShape: [4, 1, 1], conditioning: conditioning(() => [cond(1, 77)], () => cond(2, 77)) })
  const out = await model(X, 500, { rows: ROWS, sigma: 1 })
  assert.equal(calls.length, 1)
  assert.deepEqual(calls[0].context.shape, [2, 77, 2])
  assert.deepEqual([...out], [1, 1, 1, 1, 2, 2, 2, 2])
})

test('different lengths: cond rows in one call, uncond rows in another (A1111 CFGDenoiser)', async () => {
  const { unet, calls } = fakeUnet()
  const model = unetModel({ unet, weights: {} as never, latentShape: [4, 1, 1], conditioning: conditioning(() => [cond(1, 154)], () => cond(2, 77)) })
  const out = await model(X, 500, { rows: ROWS, sigma: 1 })
  assert.deepEqual(calls.map((c) => c.context.shape), [[1, 154, 2], [1, 77, 2]])
  assert.deepEqual([...out], [1, 1, 1, 1, 2, 2, 2, 2])
})

test('AND-parts of different lengths are stacked by repeating the last token vector', () => {
  const t = stackContexts([cond(1, 2), cond(3, 1)])
  assert.deepEqual(t.shape, [2, 2, 2])
  assert.deepEqual([...t.data], [1, 1, 1.01, 1.01, 3, 3, 3, 3].map(Math.fround))
})

test('the conditioning is looked up at the denoiser-call count (CFGDenoiser.step)', async () => {
  const { unet } = fakeUnet()
  const steps: number[] = []
  const model = unetModel({
    unet, weights: {} as never, latentShape: [4, 1, 1],
    conditioning: conditioning((s) => { steps.push(s); return [cond(10 + s, 77)] }, () => cond(0, 77)),
  })
  for (let i = 0; i < 3; i++) await model(X, 500, { rows: ROWS, sigma: 1 })
  assert.deepEqual(steps, [0, 1, 2])
  assert.deepEqual([...(await model(X, 1, { rows: ROWS, sigma: 1 }))].slice(0, 4), [13, 13, 13, 13])
})
