/**
 * The one SQLite database of a data folder (jobs, images, the model library), opened the same way by every part:
 * WAL so readers (metadata routes) never wait on the runner's writes, and `synchronous = FULL` so a committed job row
 * survives power loss and kill -9 alike (a job is committed before the server answers).
 */
import Database from 'better-sqlite3'
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'

export type SqliteDb = Database.Database

export function openDatabase(file: string): SqliteDb {
  mkdirSync(dirname(file), { recursive: true })
  const db = new Database(file)
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = FULL')
  db.pragma('busy_timeout = 5000')
  db.pragma('foreign_keys = ON')
  return db
}
