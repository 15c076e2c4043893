/**
 * Float32 arrays handed back during one patch-set update (the deltas of an adapter being replaced, patched arrays of
 * keys no longer touched in in-place mode) and taken again by the same update. Fresh allocations of hundreds of MB
 * are expensive (every page is faulted in and zeroed by the kernel); a LoRA switch reuses the arrays of the LoRA it
 * replaces instead. Arrays left at the end of the update are dropped with the pool.
 */
export class BufferPool {
  readonly #free = new Map<number, Float32Array[]>()

  give(a: Float32Array): void {
    const list = this.#free.get(a.length)
    if (list) list.push(a)
    else this.#free.set(a.length, [a])
  }

  /** An array of this length with arbitrary contents (a reused one) or zeros (a new one). */
  take(length: number): Float32Array {
    return this.#free.get(length)?.pop() ?? new Float32Array(length)
  }

  /** An array of this length filled with zeros. */
  takeZeroed(length: number): Float32Array {
    const a = this.#free.get(length)?.pop()
    return a ? a.fill(0) : new Float32Array(length)
  }
}
