/*
 * The files a first run fetches, in one step (issue #14): the CLIP tokenizer (when neither --tokenizer nor
 * SDLOOM_TOKENIZER names one and the cache lacks it) and the default checkpoint (when --model is not given). Both are
 * tried even when the first fails, so an offline machine hears about each in one line at once instead of one
 * failure per run. Downloads show their progress; Ctrl-C stops a download at its next block.
 */
import { NetworkError, SdError } from '../core/errors.ts'

export interface FirstUseFiles<T, M> {
  readonly tokenizer: T
  readonly model: M
}

/** Runs both fetches in turn; if any fails, every failure but the last is written as an "error:" line and the last thrown. */
export async function fetchFirstUseFiles<T, M>(fetch: { tokenizer: () => Promise<T>; model: () => Promise<M> },
  warn: (line: string) => void): Promise<FirstUseFiles<T, M>> {
  const failures: unknown[] = []
  const attempt = async <R>(f: () => Promise<R>): Promise<R | undefined> => {
    try {
      return await f()
    } catch (e) {
      // a file the user named that is wrong, or Ctrl-C, is not a first-run problem: report it alone
      if (!(e instanceof NetworkError)) throw e
      failures.push(e)
      return undefined
    }
  }
  const tokenizer = await attempt(fetch.tokenizer)
  const model = await attempt(fetch.model)
  if (failures.length > 0) {
    for (const f of failures.slice(0, -1)) warn(`error: ${(f as SdError).message}`)
    throw failures[failures.length - 1]
  }
  return { tokenizer: tokenizer as T, model: model as M }
}
