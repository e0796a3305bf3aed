#!/usr/bin/env node
// What offering the contrib extensions costs a server that uses none (docs/extensions.md): starts pyglite
// on one existing data directory RUNS times with PYGLITE_CONTRIB=off and as shipped, alternating, and
// prints the median time from spawn to the first answered query and the process's RSS at that moment.
//
//   node scripts/measure-contrib.mjs [RUNS]
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const RUNS = Number(process.argv[2] ?? 5)
const PORT = 54000 + (process.pid % 900)
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pyglite-measure-contrib-'))

function ready() {
  return (
    spawnSync(
      'psql',
      ['-X', '-At', '-d', `postgresql://postgres@127.0.0.1:${PORT}/postgres`, '-c', 'SELECT 1'],
      {
        encoding: 'utf8',
      },
    ).stdout.trim() === '1'
  )
}

async function once(contrib) {
  const env = { ...process.env, PYGLITE_CONTRIB: contrib ? 'on' : 'off' }
  const t0 = performance.now()
  const p = spawn(
    process.execPath,
    [
      path.join(ROOT, 'bin/pyglite.js'),
      '--port',
      String(PORT),
      '--data-dir',
      dir,
      '--auth',
      'trust',
      '--log-level',
      'warn',
    ],
    { env, stdio: 'ignore' },
  )
  while (!ready()) await new Promise((r) => setTimeout(r, 20))
  const ms = performance.now() - t0
  const rss = Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${p.pid}/status`, 'utf8'))?.[1]) / 1024
  p.kill('SIGTERM')
  await new Promise((r) => p.once('exit', r))
  return { ms, rss }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
try {
  await once(true) // initdb and the one-time unpacking are not what is measured
  const res = { off: [], on: [] }
  for (let i = 0; i < RUNS; i++) for (const c of [false, true]) res[c ? 'on' : 'off'].push(await once(c))
  for (const k of ['off', 'on'])
    console.log(
      `contrib ${k}: start ${median(res[k].map((r) => r.ms)).toFixed(0)} ms, RSS ${median(res[k].map((r) => r.rss)).toFixed(0)} MB (median of ${RUNS})`,
    )
} finally {
  execFileSync('rm', ['-rf', dir])
}
