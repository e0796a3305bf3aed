// A pyglite server for one benchmark run: bin/pyglite.js on a random port with a fresh data directory.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

/** Start the server; returns { url, pid, stop() }. */
export async function startPyglite(extraArgs = []) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pyglite-bench-'))
  // PYGLITE_BENCH_NODE_FLAGS, e.g. --perf-basic-prof for perf record/report (perf-<pid>.map in /tmp)
  const nodeFlags = (process.env.PYGLITE_BENCH_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean)
  const proc = spawn(
    process.execPath,
    [
      ...nodeFlags,
      path.join(ROOT, 'bin/pyglite.js'),
      '--port',
      '0',
      '--data-dir',
      dir,
      '--log-level',
      'warn',
      '--auth',
      'trust', // loopback only
      ...extraArgs,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let out = ''
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`pyglite did not start:\n${out}`)), 120_000)
    const onData = (d) => {
      out += d
      const m = /"port":(\d+),"msg":"listening"/.exec(out)
      if (m) {
        clearTimeout(timer)
        resolve(Number(m[1]))
      }
    }
    proc.stdout.on('data', onData)
    proc.stderr.on('data', onData)
    proc.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`pyglite exited (${code}) during start-up:\n${out}`))
    })
  })
  return {
    url: `postgresql://postgres@127.0.0.1:${port}/postgres`,
    pid: proc.pid,
    async stop() {
      if (proc.exitCode === null) {
        const done = new Promise((r) => proc.once('exit', r))
        proc.kill('SIGTERM')
        await done
      }
      fs.rmSync(dir, { recursive: true, force: true })
    },
  }
}
