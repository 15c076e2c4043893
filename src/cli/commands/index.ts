import type { Command } from '../command.ts'

/** The command registry: one entry per file in this folder. */
export const COMMANDS: Record<string, Command> = {
}
