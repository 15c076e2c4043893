/*
 * torchsde 0.2.6's BrownianTree (BrownianInterval with halfway_tree=True, tol 1e-6, pool_size 24, no Lévy area) as
 * A1111 1.10 runs it for the SDE samplers, and k-diffusion @ ab527a9's BrownianTreeNoiseSampler over it: one tree per
 * image, entropy = the image's seed, W(t) over t ∈ [σ_min, σ_max] of the schedule (identity transform). Each node of
 * the dyadic tree is seeded by numpy SeedSequence(seed, spawn_key=(key, depth), pool_size=24); a node's W is split
 * between its children by a Brownian bridge drawn with that seed; A1111 draws those normals with its own generator
 * (CPU: torch.randn on a fresh torch.Generator seeded with the node seed; NV/GPU: the Philox stream). Query times are
 * rounded to 6 decimals as torchsde does. Float32 where torch computes in float32.
 * https://github.com/google-research/torchsde/blob/v0.2.6/torchsde/_brownian/brownian_interval.py
 */
import { fr } from '../torch-f32.ts'
import { createGenerator, type RandnSource } from './image-rng.ts'
import { SeedSequence } from './seed-sequence.ts'

const POOL_SIZE = 24
const round6 = (x: number): number => Number(x.toFixed(6))

interface Node {
  readonly start: number
  readonly end: number
  readonly parent?: Node
  readonly isLeft: boolean
  readonly key: number
  readonly depth: number
  midway?: number
  wSeed?: number
  left?: Node
  right?: Node
  w?: Float32Array
}

export class BrownianTree {
  private readonly root: Node
  private readonly randn: (seed: number) => Float32Array
  private readonly seed: number

  constructor(opts: { t0: number; t1: number; seed: number; shape: readonly number[]; source: RandnSource }) {
    this.seed = opts.seed
    this.randn = (seed) => createGenerator(opts.source, seed).randn(opts.shape)
    this.root = { start: round6(opts.t0), end: round6(opts.t1), isLeft: false, key: 0, depth: 0 }
    const [wSeed] = new SeedSequence(opts.seed, { poolSize: POOL_SIZE }).generateState(3)
    const scale = fr(Math.sqrt(opts.t1 - opts.t0))
    this.root.w = this.randn(wSeed).map((n) => fr(n * scale))
  }

  /** W(tb) − W(ta), ta <= tb (clamped into [t0, t1] as torchsde does). */
  increment(ta: number, tb: number): Float32Array {
    const clamp = (t: number) => Math.min(Math.max(t, this.root.start), this.root.end)
    const [a, b] = [round6(clamp(ta)), round6(clamp(tb))]
    if (a === b) return new Float32Array(this.root.w!.length)
    const parts: Node[] = []
    this.locate(this.root, a, b, parts)
    const w = Float32Array.from(this.nodeW(parts[0]))
    for (const p of parts.slice(1)) {
      const wi = this.nodeW(p)
      for (let k = 0; k < w.length; k++) w[k] = fr(w[k] + wi[k])
    }
    return w
  }

  /** torchsde _loc_inner from the root: the existing (or newly split) nodes that tile [ta, tb], in order. */
  private locate(node: Node, ta: number, tb: number, out: Node[]): void {
    if (ta === node.start && tb === node.end) { out.push(node); return }
    if (node.midway === undefined) this.split(node, ta === node.start ? tb : ta)
    const mid = node.midway!
    if (tb <= mid) this.locate(node.left!, ta, tb, out)
    else if (ta >= mid) this.locate(node.right!, ta, tb, out)
    else {
      this.locate(node.left!, ta, mid, out)
      this.locate(node.right!, mid, tb, out)
    }
  }

  /** halfway_tree: split at the (rounded) midpoint, then keep splitting the side holding `at` until it is a boundary. */
  private split(node: Node, at: number): void {
    const mid = round6(0.5 * (node.end + node.start))
    node.midway = mid
    node.wSeed = new SeedSequence(this.seed, { spawnKey: [node.key, node.depth], poolSize: POOL_SIZE }).generateState(4)[0]
    const child = (isLeft: boolean): Node => ({
      start: isLeft ? node.start : mid, end: isLeft ? mid : node.end, parent: node, isLeft,
      key: 2 * node.key + (isLeft ? 0 : 1), depth: node.depth + 1,
    })
    node.left = child(true)
    node.right = child(false)
    if (at > mid) this.split(node.right, at)
    else if (at < mid) this.split(node.left, at)
  }

  /**
   * A node's increment from its parent's by the Brownian bridge (cached). Both children come from the same draw of
   * the parent's seed, so they are made together: a query tiles its interval with siblings, and one full-latent
   * draw per split instead of one per child halves the tree's cost (its values are unchanged).
   */
  private nodeW(node: Node): Float32Array {
    if (node.w) return node.w
    const parent = node.parent!
    const W = this.nodeW(parent)
    const h = 1 / (parent.end - parent.start)
    const leftDiff = parent.midway! - parent.start
    const rightDiff = parent.end - parent.midway!
    const noise = this.randn(parent.wSeed!)
    const [ld, hr, sd] = [fr(leftDiff), fr(h), fr(Math.sqrt(leftDiff * rightDiff * h))]
    const left = new Float32Array(W.length)
    const right = new Float32Array(W.length)
    for (let k = 0; k < W.length; k++) {
      const leftW = fr(fr(fr(W[k] * ld) * hr) + fr(noise[k] * sd))
      left[k] = leftW
      right[k] = fr(W[k] - leftW)
    }
    parent.left!.w = left
    parent.right!.w = right
    return node.w!
  }
}

/**
 * k-diffusion BrownianTreeNoiseSampler as A1111 creates it: one tree per image seed over [σ_min, σ_max] of the
 * schedule (smallest positive and largest sigma); (σ, σ_next) → (W(σ_next) − W(σ)) / √|σ_next − σ|, images stacked.
 */
export function brownianNoiseSampler(opts: { sigmas: Float32Array; seeds: readonly number[]; shape: readonly number[]; source: RandnSource }) {
  const positive = Array.from(opts.sigmas).filter((s) => s > 0)
  const [t0, t1] = [Math.min(...positive), Math.max(...positive)]
  const trees = opts.seeds.map((seed) => new BrownianTree({ t0, t1, seed, shape: opts.shape, source: opts.source }))
  const per = opts.shape.reduce((a, b) => a * b, 1)
  return (sigma: number, sigmaNext: number): Float32Array => {
    const [ta, tb, sign] = sigma <= sigmaNext ? [sigma, sigmaNext, 1] : [sigmaNext, sigma, -1]
    const scale = fr(Math.sqrt(fr(Math.abs(fr(fr(sigmaNext) - fr(sigma))))))
    const out = new Float32Array(per * trees.length)
    trees.forEach((tree, i) => {
      const w = tree.increment(ta, tb)
      for (let k = 0; k < per; k++) out[i * per + k] = fr(fr(w[k] * sign) / scale)
    })
    return out
  }
}
