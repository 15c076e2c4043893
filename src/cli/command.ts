import type { ParseArgsConfig } from 'node:util'

export type OptionSpec = NonNullable<ParseArgsConfig['options']>

export interface CommandContext {
  /** Values of the command's options (plus the shared --json / --debug flags). */
  readonly values: Record<string, string | boolean | (string | boolean)[] | undefined>
  readonly positionals: readonly string[]
  readonly json: boolean
  /** Normal output (stdout). */
  out(text: string): void
  /** Warnings and progress (stderr). */
  warn(text: string): void
}

/** One `sdloom` sub-command. The CLI layer stays thin: work lives in tools/ and pipeline/. */
export interface Command {
  readonly summary: string
  /** Full `--help` text (usage line, arguments, options). */
  readonly help: string
  readonly options: OptionSpec
  /** Returns the process exit code. Throw an SdError for user-facing failures. */
  run(ctx: CommandContext): Promise<number>
}
