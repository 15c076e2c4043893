/*
 * Commands that take FILE... (inspect, hash): one bad file must not hide the good ones. Each file is done on its
 * own; an SdError (a file we refuse, with its one-line reason) fails that file only and is reported on stderr at
 * once, so the good files still print. A single file keeps the plain error path (its own message and exit code).
 */
import { SdError } from '../core/errors.ts'
import type { CommandContext } from './command.ts'

export type FileFailure = { readonly file: string; readonly error: string }
export type FileOutcome<T> = { readonly file: string; readonly value: T } | FileFailure

export const failed = <T>(o: FileOutcome<T>): o is FileFailure => 'error' in o

export async function eachFile<T>(ctx: CommandContext, files: readonly string[], work: (file: string) => Promise<T>): Promise<FileOutcome<T>[]> {
  if (files.length === 1) return [{ file: files[0], value: await work(files[0]) }]
  const outcomes: FileOutcome<T>[] = []
  for (const file of files) {
    try {
      outcomes.push({ file, value: await work(file) })
    } catch (e) {
      if (!(e instanceof SdError)) throw e
      ctx.warn(`error: ${e.message}`)
      outcomes.push({ file, error: e.message })
    }
  }
  return outcomes
}

/** Exit status after a FILE... command: 1 when any file failed (the good ones were still printed). */
export const exitStatus = (outcomes: readonly FileOutcome<unknown>[]): number => (outcomes.some(failed) ? 1 : 0)
