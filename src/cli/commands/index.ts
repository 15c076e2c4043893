import type { Command } from '../command.ts'
import { pngInfo } from './png-info.ts'

/** The command registry: one entry per file in this folder. */
export const COMMANDS: Record<string, Command> = {
  'png-info': pngInfo,
}
