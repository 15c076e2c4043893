/**
 * A server in its own process (for the kill -9 test): `node --import tsx server-child.ts DATA ROOT STEP_MS`.
 * Prints "listening URL" when ready. The engine is the scripted test double, so a job takes a known time.
 */
import { startServer } from '../../src/server/start.ts'
import { scriptedEngine } from './server-helpers.ts'

const [dataDir, root, stepMs] = process.argv.slice(2)
const server = await startServer({
  dataDir, modelRoots: [root], port: 0, watch: false, createEngine: () => scriptedEngine(Number(stepMs)), log: (l) => console.log(l),
})
console.log(`listening ${server.url}`)
process.on('SIGTERM', () => { void server.close().then(() => process.exit(0)) })
