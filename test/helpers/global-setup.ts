// Builds the project once and prepares a template data directory (initdb is slow: ~5 s), which each
// test server copies instead of initialising its own.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { RUN_DIR_ENV, startServer, TEMPLATE_ENV } from './server.js'

export default async function setup(): Promise<() => void> {
  execFileSync('npm', ['run', '-s', 'build'], { stdio: 'inherit' }) // tsc, then the engine's bundle: what bin/ runs
  const run = fs.mkdtempSync(path.join(os.tmpdir(), 'pyglite-run-'))
  const dir = path.join(run, 'template')
  fs.mkdirSync(dir)
  const srv = await startServer({ dataDir: dir, template: false })
  await srv.stop()
  process.env[TEMPLATE_ENV] = dir
  process.env[RUN_DIR_ENV] = run // the test servers' data directories go here (server.ts)
  return () => fs.rmSync(run, { recursive: true, force: true })
}
