// A pyglite server for the durability measurement scripts: bin/pyglite.js on a random port, timed from
// spawn to "listening" (the reopen figures), stopped with a signal of the caller's choice.
import { spawn } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
export const BIN = path.join(ROOT, 'bin/pyglite.js')

/** Start on dataDir with extra CLI `args` and `env`: { proc, port, ms (to listening), url }. */
export function start(dataDir, { args = [], env = {} } = {}) {
  const t0 = performance.now()
  const proc = spawn(
    process.execPath,
    [BIN, '--port', '0', '--auth', 'trust', '--data-dir', dataDir, ...args],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    },
  )
  let out = ''
  return new Promise((resolve, reject) => {
    const on = (d) => {
      out += d
      const m = /"port":(\d+),"msg":"listening"/.exec(out)
      if (m)
        resolve({
          proc,
          port: Number(m[1]),
          ms: performance.now() - t0,
          url: `postgresql://postgres@127.0.0.1:${m[1]}/postgres`,
        })
    }
    proc.stdout.on('data', on)
    proc.stderr.on('data', on)
    proc.once('exit', (c) => reject(new Error(`exited ${c}: ${out}`)))
  })
}

/** Stop with `sig` and wait for the exit. */
export const stop = (s, sig = 'SIGTERM') =>
  new Promise((r) => {
    s.proc.removeAllListeners('exit')
    s.proc.once('exit', r)
    s.proc.kill(sig)
  })
