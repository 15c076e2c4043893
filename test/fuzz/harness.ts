/**
 * The fuzzing contract (issue #17): every input ends in a parsed result or one typed SdError, within a time and a
 * memory bound. Anything else is a finding: a non-SdError exception (TypeError, RangeError from an allocation sized
 * from an unchecked header, Node's own ERR_OUT_OF_RANGE…), a case slower than `maxMs`, or a case during which the
 * process's array buffers + JS heap grew by more than `maxBytes` (GC only lowers that figure, so a growth above the
 * bound means at least that much was allocated for one small input).
 */
import fc from 'fast-check'
import { SdError } from '../../src/core/errors.ts'

export interface FuzzTarget<T> {
  readonly name: string
  /** What is fuzzed, for the report. */
  readonly describe: string
  /** Inputs: mutations of real seed files and structure-aware generators (seeds may be loaded from disk). */
  arbitrary(): Promise<fc.Arbitrary<T>>
  /** Parses one input as far as it goes (headers, then every tensor / pixel / token). */
  run(input: T): void | Promise<void>
  /** Time bound per case (default 2000 ms; the campaign multiplies it for a loaded machine). */
  readonly maxMs?: number
  /** Allocation bound per case (default 64 MiB). */
  readonly maxBytes?: number
}

export type Outcome = 'parsed' | 'refused'

/** A case broke the contract; the message says how and what the input was. */
export class FuzzFinding extends Error {
  override name = 'FuzzFinding'
}

const MiB = 1024 * 1024
const used = (): number => { const m = process.memoryUsage(); return m.arrayBuffers + m.heapUsed }

/** SDLOOM_FUZZ_FULL=1 prints a finding's whole input (hex), to paste into a regression test. */
const SHOWN = process.env.SDLOOM_FUZZ_FULL ? Infinity : 96
export const describeInput = (input: unknown): string => {
  if (input instanceof Uint8Array) return `${input.length} bytes: ${Buffer.from(input.subarray(0, SHOWN)).toString('hex')}${input.length > SHOWN ? '…' : ''}`
  const s = JSON.stringify(input, (_k, v: unknown) => (v instanceof Uint8Array ? `<${v.length} bytes>` : v))
  return s === undefined ? String(input) : s.length > 300 ? `${s.slice(0, 300)}… (${s.length} chars)` : s
}

/** A message that leaks a JS artefact ("undefined", "[object Object]") the input did not contain. */
function unclear(message: string, input: unknown): boolean {
  if (!message) return true
  const text = input instanceof Uint8Array ? Buffer.from(input).toString('latin1') : JSON.stringify(input) ?? ''
  return ['undefined', '[object Object]'].some((w) => message.includes(w) && !text.includes(w))
}

/** Runs one case and classifies it; throws FuzzFinding when the contract is broken. */
export async function runCase<T>(target: FuzzTarget<T>, input: T, slack = 1): Promise<Outcome> {
  const maxMs = (target.maxMs ?? 2000) * slack
  const maxBytes = target.maxBytes ?? 64 * MiB
  const before = used()
  const t0 = performance.now()
  let outcome: Outcome = 'parsed'
  try {
    await target.run(input)
  } catch (e) {
    if (!(e instanceof SdError)) {
      throw new FuzzFinding(`${target.name}: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)} (not an SdError) on ${describeInput(input)}`, { cause: e })
    }
    if (unclear(e.message, input)) throw new FuzzFinding(`${target.name}: unclear SdError message "${e.message}" on ${describeInput(input)}`)
    outcome = 'refused'
  }
  const ms = performance.now() - t0
  if (ms > maxMs) throw new FuzzFinding(`${target.name}: a case took ${ms.toFixed(0)} ms (bound ${maxMs} ms) on ${describeInput(input)}`)
  const grew = used() - before
  if (grew > maxBytes) throw new FuzzFinding(`${target.name}: memory grew ${(grew / MiB).toFixed(0)} MiB in one case (bound ${maxBytes / MiB} MiB) on ${describeInput(input)}`)
  return outcome
}

export interface FuzzStats { runs: number; parsed: number; refused: number }

/** The fast-check property of a target; `stats` counts outcomes. */
export async function fuzzProperty<T>(target: FuzzTarget<T>, stats: FuzzStats, slack = 1): Promise<fc.IAsyncPropertyWithHooks<[T]>> {
  return fc.asyncProperty(await target.arbitrary(), async (input) => {
    stats.runs++
    stats[await runCase(target, input, slack)]++
  })
}
