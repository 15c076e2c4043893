/**
 * A server in its own process for server-abuse.test.ts (so its memory is measured apart from the clients'):
 * `node --import tsx abuse-server-child.ts DATA ROOT LIMITS_JSON`. Prints "listening URL pid" when ready.
 */
import { startServer } from '../../src/server/start.ts'
import { scriptedEngine } from '../e2e/server-helpers.ts'

const [dataDir, root, limits] = process.argv.slice(2)
const server = await startServer({
  dataDir, modelRoots: [root], port: 0, watch: false, limits: JSON.parse(limits) as object, createEngine: () => scriptedEngine(2), log: () => undefined,
})
console.log(`listening ${server.url} ${process.pid}`)
process.on('SIGTERM', () => { void server.close().then(() => process.exit(0)) })
