// Sessions on one engine, side by side: pgbench -S -c 4 -j 2 -M prepared on pyglite, on
// @electric-sql/pglite-socket 0.2.17 over the same PGlite 0.5.16 (no per-session state: its clients share
// one backend's settings and statements), and on PostgreSQL 15, one run each in the same bench run.
// Ratios are tps / PostgreSQL's tps (1.0 = as fast) and pyglite / pglite-socket.
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import { promisify } from 'node:util'
import { startPgliteSocket } from '../pglite-socket.mjs'

const run = promisify(execFile)
const SECONDS = Number(process.env.PYGLITE_BENCH_PGBENCH_SECONDS ?? 5)

async function pgbench(url, args) {
  const { stdout } = await run('pgbench', [...args, url], { timeout: 600_000 })
  return stdout
}

export default {
  name: 'pgbench-sessions',
  description: `pgbench -S -c 4 -j 2 -M prepared -T ${SECONDS}, scale 1: pyglite, pglite-socket 0.2.17, PostgreSQL 15 (tps, one run each)`,
  async run(urls) {
    const socket = await startPgliteSocket()
    try {
      const all = { pyglite: urls.pyglite, 'pglite-socket': socket.url, postgresql: urls.postgresql }
      for (const url of Object.values(all)) await pgbench(url, ['-i', '-I', 'dtGvp', '-s', '1', '-q'])
      const tps = {}
      let ok = true
      const load = {}
      for (const [name, url] of Object.entries(all)) {
        load[name] = fs.readFileSync('/proc/loadavg', 'utf8').split(' ')[0]
        const out = await pgbench(url, ['-S', '-c', '4', '-j', '2', '-T', String(SECONDS), '-M', 'prepared'])
        if (Number(/number of failed transactions: (\d+)/.exec(out)?.[1] ?? 0) > 0) ok = false
        tps[name] = Number(/tps = ([\d.]+)/.exec(out)?.[1])
      }
      const q = tps.postgresql
      const lines = Object.entries(tps).map(
        ([name, t]) =>
          `${name.padEnd(14)} ${t.toFixed(0).padStart(6)} tps   / postgresql ${(t / q).toFixed(2)}   (loadavg at start ${load[name]})`,
      )
      lines.push(`pyglite / pglite-socket ${(tps.pyglite / tps['pglite-socket']).toFixed(2)}`)
      return { lines, ok }
    } finally {
      await socket.stop()
    }
  },
}
