/*
 * The CLI's exit status for each error code (core/errors.ts gives every SdError a machine-readable `code`; the
 * faces, not core, decide what it means to them). Usage and input mistakes are 2, as getopt tools exit; an
 * interrupt is 130 (128 + SIGINT), as a shell reports it; everything else 1.
 */
import { SdError } from '../core/errors.ts'

const EXIT_CODES: Readonly<Record<string, number>> = {
  'input': 2,
  'usage': 2,
  'interrupted': 130,
}

/** The exit status for an error (SdError by code; anything else is an internal error: 1). */
export function exitCodeOf(e: unknown): number {
  if (!(e instanceof SdError)) return 1
  return EXIT_CODES[e.code] ?? EXIT_CODES[e.code.split('/')[0]] ?? 1
}
