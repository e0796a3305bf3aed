// The `pyglite` command: reads the configuration, starts the server, reports progress on a terminal, and
// shuts down cleanly on SIGINT/SIGTERM (a second signal forces the exit).
import fs from 'node:fs'
import { ConfigError, helpText, parseConfig } from './config.js'
import { configureLogging } from './util/log.js'
import { pkgPath } from './util/paths.js'

const version = (JSON.parse(fs.readFileSync(pkgPath('package.json'), 'utf8')) as { version: string }).version

// `pyglite backup …` / `pyglite restore …` (src/backup/cli.ts)
const sub = process.argv[2]
if (sub === 'backup' || sub === 'restore') {
  const { runTool } = await import('./backup/cli.js')
  process.exit(await runTool(sub, process.argv.slice(3)))
}

let parsed: ReturnType<typeof parseConfig>
try {
  parsed = parseConfig(process.argv.slice(2))
} catch (e) {
  if (!(e instanceof ConfigError)) throw e
  process.stderr.write(`pyglite: ${e.message}\n`)
  process.exit(2)
}
if ('help' in parsed) {
  process.stdout.write(`${helpText(version)}\n`)
  process.exit(0)
}
if ('version' in parsed) {
  process.stdout.write(`pyglite ${version}\n`)
  process.exit(0)
}
const config = parsed.config
configureLogging(config.logLevel)
// imported after configureLogging: modules take their child loggers when they load
const { startServer } = await import('./server.js')

/** Human progress lines go to a terminal's stderr; logs (JSON) stay on stdout. */
const tty = process.stderr.isTTY === true
const say = (line: string) => {
  if (tty) process.stderr.write(`${line}\n`)
}

let ticker: NodeJS.Timeout | undefined
const t0 = Date.now()
const srv = await startServer(config, {
  initializing(dir) {
    if (!tty) return
    process.stderr.write(`pyglite: first start: creating a new database cluster in ${dir} `)
    ticker = setInterval(() => process.stderr.write('.'), 1000)
  },
  opened(info) {
    if (ticker) {
      clearInterval(ticker)
      process.stderr.write(` done (${(info.ms / 1000).toFixed(1)} s)\n`)
    }
  },
}).catch((e: Error) => {
  if (ticker) clearInterval(ticker)
  process.stderr.write(`pyglite: could not start: ${e.message}\n`)
  process.exit(1)
})
srv.engine.onUnexpectedExit = () => {
  process.stderr.write('pyglite: the engine thread died; exiting\n')
  process.exit(70) // EX_SOFTWARE: a supervisor may restart it; PostgreSQL recovers from its WAL
}
say(
  `pyglite: ready in ${((Date.now() - t0) / 1000).toFixed(1)} s — psql "postgresql://postgres@${srv.host}:${srv.port}/postgres"`,
)

let signals = 0
const stop = (signal: string) => {
  signals++
  if (signals > 1) {
    say('pyglite: second signal, exiting now')
    // not process.exit(): it joins the engine thread, which may be deep in a statement holding Python's
    // GIL. The data on disk is as safe as after a crash: PostgreSQL recovers from its WAL on next start.
    process.kill(process.pid, 'SIGKILL')
  }
  say(`pyglite: ${signal} received, shutting down (again to force)`)
  srv.close().then(
    () => process.exit(0),
    (e: Error) => {
      process.stderr.write(`pyglite: shutdown failed: ${e.message}\n`)
      process.exit(1)
    },
  )
}
process.on('SIGINT', () => stop('SIGINT'))
process.on('SIGTERM', () => stop('SIGTERM'))
