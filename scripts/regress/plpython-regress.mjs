#!/usr/bin/env node
// Runs PostgreSQL 18.6's PL/Python regression suite the way pg_regress does in installcheck mode
// (src/test/regress/pg_regress.c, pg_regress_main.c) against any server that speaks the protocol:
// psql -X -a -q per test in schedule order, all tests in one database, output compared byte for byte with
// expected/T.out or an alternative expected/T_N.out. Used by test/regress/plpython.test.ts; also a CLI:
//
//   node scripts/regress/plpython-regress.mjs --url postgresql://postgres@127.0.0.1:PORT \
//        [--suite DIR] [--out DIR] [--psql PATH] [test ...]
//
// Database: pg_regress drops and re-creates "pl_regression" from template0. On a server without
// CREATE DATABASE the suite runs in the database named in the URL instead, made to look like a fresh
// template0 database: the plpython3u extension pyglite pre-installs there is dropped first (the suite's
// first test creates it).
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const DEFAULT_DB = 'pl_regression'

/** The environment pg_regress gives psql (initialize_environment in pg_regress.c). */
function psqlEnv() {
  const env = { ...process.env }
  for (const k of [
    'LANGUAGE',
    'LC_ALL',
    'PGCLIENTENCODING',
    'PGOPTIONS',
    'PGDATABASE',
    'PGHOST',
    'PGPORT',
    'PGUSER',
  ])
    delete env[k]
  return {
    ...env,
    PGTZ: 'America/Los_Angeles',
    PGDATESTYLE: 'Postgres, MDY',
    PGOPTIONS: '-c intervalstyle=postgres_verbose',
    LC_MESSAGES: 'C',
    PGAPPNAME: 'pg_regress',
  }
}

/** postgresql://user@host:port/db?x → { base: 'postgresql://user@host:port', db } */
function splitUrl(url) {
  const m = /^(postgres(?:ql)?:\/\/[^/?]*)(?:\/([^?]*))?/.exec(url)
  if (!m) throw new Error(`not a postgresql:// URL: ${url}`)
  return { base: m[1], db: m[2] || 'postgres' }
}

function psqlSync(psql, url, sql) {
  const r = spawnSync(psql, ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url], {
    input: sql,
    env: psqlEnv(),
    encoding: 'utf8',
  })
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}` }
}

/** psql -X -a -q ... < sql/T.sql > results/T.out 2>&1 (stdout and stderr interleaved, as pg_regress). */
function runPsql(psql, url, sqlFile, outFile, timeoutMs, cwd) {
  return new Promise((resolve) => {
    const out = fs.openSync(outFile, 'w')
    const child = spawn(
      psql,
      ['-X', '-a', '-q', '-d', url, '-v', 'HIDE_TABLEAM=on', '-v', 'HIDE_TOAST_COMPRESSION=on'],
      { env: psqlEnv(), stdio: [fs.openSync(sqlFile, 'r'), out, out], cwd },
    )
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      fs.closeSync(out)
      resolve({ code, timedOut: signal === 'SIGKILL' })
    })
  })
}

function diffLines(a, b) {
  if (!fs.existsSync(a)) return Number.POSITIVE_INFINITY
  const r = spawnSync('diff', [a, b], { encoding: 'utf8' })
  return r.status === 0 ? 0 : r.stdout.split('\n').length - 1
}

/**
 * Run the suite. Returns { total, passed, results: [{ name, ok, expected, diff, ms, timedOut }], database,
 * notes }. `diff` is a unified diff against the closest expected file (empty when the test passed).
 * Options as pg_regress's for a contrib module: `database` (contrib_regression), `load` (--load-extension:
 * created in the fresh database first); psql runs in the suite's directory (its data/ files). `created`: the
 * caller already made `database` fresh from template0 (e.g. while the previous suite ran).
 */
export async function runSuite({
  url,
  suite,
  out,
  psql = 'psql',
  tests,
  timeoutMs = 120_000,
  database = DEFAULT_DB,
  load = [],
  created = false,
}) {
  const { base, db: fallbackDb } = splitUrl(url)
  const schedule = fs.readFileSync(path.join(suite, 'schedule'), 'utf8').split('\n').filter(Boolean)
  const names = tests?.length ? tests : schedule
  const outDir = out ?? fs.mkdtempSync(path.join(os.tmpdir(), 'pyglite-regress-'))
  fs.mkdirSync(path.join(outDir, 'results'), { recursive: true })
  const notes = []

  const DB = database
  let db = DB
  const create = created
    ? { ok: true, out: '' }
    : psqlSync(
        psql,
        `${base}/postgres`,
        `DROP DATABASE IF EXISTS "${DB}";\nCREATE DATABASE "${DB}" TEMPLATE=template0;\n`,
      )
  // a server may accept CREATE DATABASE yet not connect clients to the new database
  const probe = create.ok && psqlSync(psql, `${base}/${DB}`, 'SELECT current_database();\n')
  const landed = probe?.ok && probe.out.includes(DB)
  if (!landed) {
    db = fallbackDb
    notes.push(
      create.ok
        ? `connections to ${DB} land elsewhere; running in database ${db}`
        : `CREATE DATABASE failed (${create.out.trim().split('\n').pop()}); running in database ${db}`,
    )
    if (create.ok) psqlSync(psql, `${base}/postgres`, `DROP DATABASE IF EXISTS "${DB}";\n`)
    const fresh = psqlSync(psql, `${base}/${db}`, 'DROP EXTENSION IF EXISTS plpython3u CASCADE;\n')
    if (!fresh.ok) notes.push(`could not drop plpython3u in ${db}: ${fresh.out.trim()}`)
  }
  // pg_regress's ALTER DATABASE ... SET for every test database
  psqlSync(
    psql,
    `${base}/postgres`,
    ['lc_messages', 'lc_monetary', 'lc_numeric', 'lc_time']
      .map((g) => `ALTER DATABASE "${db}" SET ${g} TO 'C';`)
      .concat([`ALTER DATABASE "${db}" SET bytea_output TO 'hex';`])
      .concat([`ALTER DATABASE "${db}" SET timezone_abbreviations TO 'Default';`])
      .join('\n'),
  )
  for (const ext of load) {
    const r = psqlSync(psql, `${base}/${db}`, `CREATE EXTENSION IF NOT EXISTS "${ext}";\n`)
    if (!r.ok) notes.push(`--load-extension=${ext} failed: ${r.out.trim()}`)
  }

  const results = []
  for (const name of names) {
    const sqlFile = path.join(suite, 'sql', `${name}.sql`)
    const outFile = path.join(outDir, 'results', `${name}.out`)
    const t0 = performance.now()
    const { timedOut } = await runPsql(psql, `${base}/${db}`, sqlFile, outFile, timeoutMs, suite)
    const ms = Math.round(performance.now() - t0)
    const candidates = [path.join(suite, 'expected', `${name}.out`)]
    for (let i = 0; i < 10; i++) {
      const alt = path.join(suite, 'expected', `${name}_${i}.out`)
      if (fs.existsSync(alt)) candidates.push(alt)
    }
    let best = candidates[0]
    let bestN = Number.POSITIVE_INFINITY
    for (const e of candidates) {
      const n = diffLines(e, outFile)
      if (n < bestN) {
        bestN = n
        best = e
      }
      if (n === 0) break
    }
    const ok = bestN === 0
    const diff = ok ? '' : spawnSync('diff', ['-U3', best, outFile], { encoding: 'utf8' }).stdout
    results.push({ name, ok, expected: path.basename(best), diff, ms, timedOut })
  }
  const passed = results.filter((r) => r.ok).length
  fs.writeFileSync(path.join(outDir, 'regression.diffs'), results.map((r) => r.diff).join(''))
  return { total: results.length, passed, results, database: db, notes, outDir }
}

/** The report pg_regress prints, plus "N of T pass". */
export function formatReport(r) {
  const lines = r.notes.map((n) => `(${n})`)
  for (const t of r.results)
    lines.push(
      `${t.ok ? 'ok    ' : 'FAILED'} ${t.name.padEnd(28)} ${String(t.ms).padStart(6)} ms${t.timedOut ? ' (timeout)' : ''}`,
    )
  lines.push(`${r.passed} of ${r.total} pass`)
  return lines.join('\n')
}

async function main(argv) {
  const opts = { tests: [] }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--url') opts.url = argv[++i]
    else if (a === '--suite') opts.suite = argv[++i]
    else if (a === '--out') opts.out = argv[++i]
    else if (a === '--psql') opts.psql = argv[++i]
    else opts.tests.push(a)
  }
  if (!opts.url) {
    console.error(
      'usage: plpython-regress.mjs --url postgresql://user@host:port [--suite DIR] [--out DIR] [test ...]',
    )
    process.exit(2)
  }
  opts.suite ??= spawnSync('bash', [path.join(ROOT, 'scripts/get-pg18-regress.sh')], {
    encoding: 'utf8',
  }).stdout.trim()
  const r = await runSuite(opts)
  for (const t of r.results) if (!t.ok) process.stdout.write(t.diff)
  console.log(formatReport(r))
  console.log(`results in ${r.outDir}`)
  process.exit(r.passed === r.total ? 0 : 1)
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1]))
  await main(process.argv.slice(2))
