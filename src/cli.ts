// Command line entry point (bootstrap version; the configuration work of issue #2 replaces it).
import path from 'node:path'
import { configureLogging } from './log.js'
import { startServer } from './server.js'

const args = process.argv.slice(2)
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 && args[i + 1] ? args[i + 1]! : (process.env[`PYGLITE_${name.toUpperCase().replace(/-/g, '_')}`] ?? dflt)
}
const logLevel = opt('log-level', 'info')
configureLogging(logLevel as 'info')
const srv = await startServer({
  host: opt('host', '127.0.0.1'),
  port: Number(opt('port', '5432')),
  dataDir: path.resolve(opt('data-dir', 'pyglite-data')),
  pythonPath: [],
  logLevel,
})
const stop = async () => {
  await srv.close().catch(() => {})
  process.exit(0)
}
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
