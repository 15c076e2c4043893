/*
 * Small pieces of torch's CPU numerics that sigma schedules depend on at the last bit. Samplers and schedules work
 * in float32 like torch: every elementwise op rounds to float32 (Math.fround) where the torch op would.
 */

export const fr = Math.fround

/** AVX2 vector widths (lanes) of torch's CPU kernels: Vectorized<float> and Vectorized<double>. */
const LANES = { f32: 8, f64: 4 } as const

/**
 * `torch.linspace(start, end, steps, dtype)` on the CPU, value for value (pytorch v1.13.1
 * aten/src/ATen/native/cpu/RangeFactoriesKernel.cpp): step = (end - start) / (steps - 1); index i < steps/2 is
 * start + step·i, the rest end - step·(steps - 1 - i); the vectorised loop (blocks of 2 × lanes while they fit)
 * computes a lane block as base + j·step from its first index instead.
 */
export function torchLinspace(start: number, end: number, steps: number, dtype: 'f32' | 'f64' = 'f32'): Float64Array {
  const round = dtype === 'f32' ? fr : (x: number) => x
  const out = new Float64Array(steps)
  const s0 = round(start)
  const e0 = round(end)
  if (steps === 1) { out[0] = s0; return out }
  const step = round(round(e0 - s0) / (steps - 1))
  const halfway = Math.floor(steps / 2)
  const at = (i: number): number => (i < halfway ? round(s0 + round(step * i)) : round(e0 - round(step * (steps - i - 1))))
  const lanes = LANES[dtype]
  let i = 0
  for (; i <= steps - 2 * lanes; i += lanes) {
    const base = at(i)
    out[i] = base
    for (let j = 1; j < lanes; j++) out[i + j] = round(base + round(j * step))
  }
  for (; i < steps; i++) out[i] = at(i)
  return out
}
