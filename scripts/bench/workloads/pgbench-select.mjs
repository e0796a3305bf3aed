// pgbench -S (select-only TPC-B), 4 clients, on pyglite and on PostgreSQL 15 in the same run: the protocol
// path end to end (sockets, framing, the engine thread's turns, PGlite's executor). Throughput is compared
// as the ratio of transactions per second, pyglite / PostgreSQL (1.0 = as fast; below 1 = slower).
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'

const run = promisify(execFile)
const SECONDS = Number(process.env.PYGLITE_BENCH_PGBENCH_SECONDS ?? 5)

async function pgbench(url, args) {
  const { stdout } = await run('pgbench', [...args, url], { timeout: 600_000 })
  return stdout
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

export default {
  name: 'pgbench-select',
  description: `pgbench -S -c 4 -j 2 -T ${SECONDS}, scale 1, modes simple / extended / prepared (tps)`,
  async run(urls, runs) {
    // urls also carries the pyglite process id (index.mjs): only the two servers are initialised
    for (const url of [urls.pyglite, urls.postgresql])
      await pgbench(url, ['-i', '-I', 'dtGvp', '-s', '1', '-q'])
    const rounds = Math.max(1, Math.min(runs, 3))
    const lines = []
    let ok = true
    for (const mode of ['simple', 'extended', 'prepared']) {
      const tps = { pyglite: [], postgresql: [] }
      for (let r = 0; r < rounds; r++) {
        const order = r % 2 ? ['postgresql', 'pyglite'] : ['pyglite', 'postgresql']
        for (const name of order) {
          const out = await pgbench(urls[name], [
            '-S',
            '-c',
            '4',
            '-j',
            '2',
            '-T',
            String(SECONDS),
            '-M',
            mode,
          ])
          const failed = Number(/number of failed transactions: (\d+)/.exec(out)?.[1] ?? 0)
          if (failed > 0) ok = false
          tps[name].push(Number(/tps = ([\d.]+)/.exec(out)?.[1]))
        }
      }
      const p = median(tps.pyglite)
      const q = median(tps.postgresql)
      lines.push(
        `${mode.padEnd(9)} pyglite ${p.toFixed(0).padStart(6)} tps   postgresql ${q.toFixed(0).padStart(6)} tps   ratio ${(p / q).toFixed(2)}   (rounds: pyglite ${tps.pyglite.map((v) => v.toFixed(0)).join(' ')}; postgresql ${tps.postgresql.map((v) => v.toFixed(0)).join(' ')})`,
      )
    }
    return { lines, ok }
  },
}
