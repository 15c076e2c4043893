/*
 * Latent upscalers against values computed by hand from torch.nn.functional.interpolate's definitions
 * (align_corners False): a 1-D ramp makes every mode's source index and weights visible.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { upscaleLatent } from './latent-upscale.ts'

const ramp = Float32Array.from([0, 1, 2, 3]) // [1, 1, 1, 4]
const row = (name: string, out: number) => Array.from(upscaleLatent(ramp, [1, 1, 1, 4], 1, out, name))

test('nearest vs nearest-exact: identical at x2, different at x1.5', () => {
  assert.deepEqual(row('Latent (nearest)', 8), [0, 0, 1, 1, 2, 2, 3, 3])
  assert.deepEqual(row('Latent (nearest-exact)', 8), [0, 0, 1, 1, 2, 2, 3, 3])
  // 4 → 6: nearest floor(d · 2/3) = 0,0,1,2,2,3; nearest-exact floor((d + 0.5) · 2/3) = 0,1,1,2,3,3
  assert.deepEqual(row('Latent (nearest)', 6), [0, 0, 1, 2, 2, 3])
  assert.deepEqual(row('Latent (nearest-exact)', 6), [0, 1, 1, 2, 3, 3])
})

test('bilinear: half-pixel centres, clamped at the edges; antialiased equals it when enlarging', () => {
  // src = max((d + 0.5)/2 − 0.5, 0) = 0, 0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3.25 → clamped upper neighbour
  const expect = [0, 0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3]
  assert.deepEqual(row('Latent', 8), expect)
  row('Latent (antialiased)', 8).forEach((v, i) => assert.ok(Math.abs(v - expect[i]) < 1e-6, `${i}`))
})

test('bicubic uses A = −0.75 (no exact linear reproduction, unlike PIL\'s −0.5); antialiased shrinking averages', () => {
  // d = 3: src 1.25, t = 0.25, taps 0..3 weigh cc2(1.25), cc1(0.25), cc1(0.75), cc2(1.75) = −0.10547, 0.87891, 0.26172,
  // −0.03516 → 0·w0 + 1·w1 + 2·w2 + 3·w3 = 1.296875; d = 4 mirrors it: 3 − 1.296875
  const v = row('Latent (bicubic)', 8)
  assert.ok(Math.abs(v[3] - 1.296875) < 1e-6, `${v[3]}`)
  assert.ok(Math.abs(v[4] - 1.703125) < 1e-6, `${v[4]}`)
  // 4 → 2, triangle filter widened by 2: output 0 centres on 1 (src units), taps 0..2 weigh 0.75, 0.75, 0.25
  const s = row('Latent (antialiased)', 2)
  assert.ok(Math.abs(s[0] - (0 * 0.75 + 1 * 0.75 + 2 * 0.25) / 1.75) < 1e-6, `${s[0]}`)
  assert.throws(() => row('Latent (fancy)', 8), { name: 'InputError' })
})
