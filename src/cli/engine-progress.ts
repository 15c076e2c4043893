/*
 * The Engine's events as `generate` has always shown them (phase-progress.ts): the load bar with the file's name, a
 * "hashing" bar in bytes while a checkpoint not seen before is identified, a "merging LoRA layers" bar only while a merge counts, encode / sample / decode per batch with the sampling bar;
 * warnings as "warning: …" lines and the engine's notes as they are. Lines a caller defers (`later`) wait for the next
 * phase, so notes about the run come after the engine's own model line, in the order the command printed them.
 */
import { basename } from 'node:path'
import type { EngineEvent } from '../engine/contract.ts'
import type { PhaseProgress } from './phase-progress.ts'

export interface EngineProgress {
  /** Shows one event (images are the caller's). */
  event(e: EngineEvent, batchCount: number): void
  /** A line printed when the next phase starts. */
  later(line: string): void
  end(): void
}

export function engineProgress(progress: PhaseProgress, warn: (line: string) => void): EngineProgress {
  let merging = false
  // The model's file name, to return to its load bar after hashing (the engine hashes a file it does not know yet
  // between the load phase's start and its first tensor).
  let loading: string | undefined
  let hashing = false
  const deferred: string[] = []
  const flush = (): void => { for (const l of deferred.splice(0)) warn(l) }
  return {
    event(e) {
      switch (e.type) {
        case 'phase':
          if (e.phase === 'load') {
            if (e.done === undefined) { loading = e.label === undefined ? undefined : basename(e.label); progress.phase('load', loading) }
            else {
              if (hashing) { hashing = false; progress.phase('load', loading) }
              progress.step(e.done, e.total ?? e.done)
            }
          } else if (e.phase === 'hash') {
            if (!hashing) { hashing = true; progress.phase('hash', e.label === undefined ? undefined : basename(e.label)) }
            if (e.done !== undefined) progress.bytes(e.done, e.total ?? e.done)
          } else if (e.phase === 'adapters') {
            if (e.done === undefined) { progress.end(); return }
            if (!merging) { merging = true; progress.phase('lora') }
            progress.step(e.done, e.total ?? e.done)
          } else {
            flush()
            progress.phase(e.phase, e.label)
          }
          return
        case 'step': progress.step(e.step, e.steps); return
        case 'warning': warn(`warning: ${e.message}`); return
        case 'log': warn(e.message); return
        default:
      }
    },
    later: (line) => { deferred.push(line) },
    end: () => { flush(); progress.end() },
  }
}
