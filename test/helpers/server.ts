// Starts the real pyglite server (bin/pyglite.js, a child process) on a random port with a temporary
// data directory, for tests that talk to it with real clients.
import { type ChildProcess, spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = fileURLToPath(new URL('../..', import.meta.url))
export const TEMPLATE_ENV = 'PYGLITE_TEST_TEMPLATE'

export interface TestServer {
  host: string
  port: number
  dataDir: string
  /** postgresql:// URL for user postgres (optionally another database) */
  url(db?: string): string
  /** everything the server printed so far */
  output(): string
  stop(signal?: NodeJS.Signals): Promise<number | null>
  proc: ChildProcess
}

export interface StartOptions {
  /** existing data directory to use (default: a fresh copy of the template) */
  dataDir?: string
  /** copy the template data directory made by global-setup (default true) */
  template?: boolean
  args?: string[]
  env?: Record<string, string>
}

/** Tests talk to a loopback server as "postgres" without a password unless they choose an --auth. */
function defaultAuth(args: string[] = []): string[] {
  return args.includes('--auth') ? [] : ['--auth', 'trust']
}

/** Directory global-setup makes for the run: test data directories go inside, and it removes the lot. */
export const RUN_DIR_ENV = 'PYGLITE_TEST_RUN_DIR'

/**
 * Data directories made here, removed when the test process exits (a restarted server reuses one). The
 * 'exit' handler does not run when vitest ends a fork worker, so they are also made inside the run's
 * directory, which global-setup's teardown removes (each one is ~200 MB).
 */
const madeDirs = new Set<string>()
process.once('exit', () => {
  for (const d of madeDirs) fs.rmSync(d, { recursive: true, force: true })
})

export async function startServer(opts: StartOptions = {}): Promise<TestServer> {
  let dataDir = opts.dataDir
  if (!dataDir) {
    dataDir = fs.mkdtempSync(path.join(process.env[RUN_DIR_ENV] ?? os.tmpdir(), 'pyglite-test-'))
    madeDirs.add(dataDir)
    const template = process.env[TEMPLATE_ENV]
    if (opts.template !== false && template) fs.cpSync(template, dataDir, { recursive: true })
  }
  const proc = spawn(
    process.execPath,
    [
      path.join(ROOT, 'bin/pyglite.js'),
      '--port',
      '0',
      '--data-dir',
      dataDir,
      ...defaultAuth(opts.args),
      ...(opts.args ?? []),
    ],
    { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let out = ''
  proc.stdout!.on('data', (d) => (out += d))
  proc.stderr!.on('data', (d) => (out += d))
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${out}`)), 90_000)
    const check = () => {
      const m = /"port":(\d+),"msg":"listening"/.exec(out)
      if (m) {
        clearTimeout(timer)
        resolve(Number(m[1]))
      }
    }
    proc.stdout!.on('data', check)
    proc.stderr!.on('data', check)
    proc.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`server exited (${code}) during start-up:\n${out}`))
    })
  })
  const host = '127.0.0.1'
  return {
    host,
    port,
    dataDir,
    proc,
    url: (db = 'postgres') => `postgresql://postgres@${host}:${port}/${db}`,
    output: () => out,
    stop(signal: NodeJS.Signals = 'SIGTERM') {
      return new Promise((resolve) => {
        // already gone: exited (exitCode), or killed by a signal (exitCode stays null, signalCode is set)
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve(proc.exitCode)
        proc.once('exit', (code) => resolve(code))
        proc.kill(signal)
      })
    },
  }
}
