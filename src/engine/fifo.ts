/** One job at a time, in the order they came (per model: a generation, an adapter change and an unload never overlap). */
export class Fifo {
  private tail: Promise<unknown> = Promise.resolve()
  /** Jobs queued or running; a cache never evicts a model while this is above 0. */
  pending = 0

  run<T>(job: () => Promise<T>): Promise<T> {
    this.pending++
    const result = this.tail.then(job)
    this.tail = result.catch(() => undefined)
    return result.finally(() => { this.pending-- })
  }
}
