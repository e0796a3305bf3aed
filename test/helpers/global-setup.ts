// Builds the project once and prepares a template data directory (initdb is slow: ~5 s), which each
// test server copies instead of initialising its own.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { startServer, TEMPLATE_ENV } from './server.js'

export default async function setup(): Promise<() => void> {
  execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' })
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pyglite-template-'))
  const srv = await startServer({ dataDir: dir, template: false })
  await srv.stop()
  process.env[TEMPLATE_ENV] = dir
  return () => fs.rmSync(dir, { recursive: true, force: true })
}
