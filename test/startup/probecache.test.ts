// The start-up probes' cache (src/engine/pg/probecache.ts): the addresses of the backend statics and of the
// fmgr_builtins entries found at one start are checked, not scanned for, at the next; a cache that is
// garbage, of another build, or holds wrong addresses is probed past — and in every case the session
// features that depend on those addresses still work (temp tables, currval/lastval, WITH HOLD cursors,
// prepared statements per session, SET SESSION AUTHORIZATION, pg_stat_activity's built-ins).
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import { startServer, type TestServer } from '../helpers/server.js'

const servers: TestServer[] = []
const cache = fs.mkdtempSync(path.join(process.env.PYGLITE_TEST_RUN_DIR ?? os.tmpdir(), 'pyglite-cache-'))
afterAll(async () => {
  for (const s of servers) await s.stop()
  fs.rmSync(cache, { recursive: true, force: true })
})

const env = { PYGLITE_CACHE_DIR: cache }
const args = ['--log-level', 'debug']
const PROBED = /"msg":"probed the backend statics"/
const RECALLED = /"msg":"backend statics at their remembered addresses"/
const FAILED = /"msg":"the remembered backend statics failed their checks: probing"/
const BUILTINS_FAILED = /"msg":"remembered fmgr_builtins entries failed their check: probing"/

/**
 * A server, once the engine thread's log of its database open has arrived (the worker's lines reach stdout
 * through the main thread, and may come after "listening").
 */
async function start(dataDir?: string): Promise<TestServer> {
  const s = await startServer({ dataDir, env, args })
  servers.push(s)
  const deadline = Date.now() + 30_000
  while (!/"db":"postgres"[^\n]*"msg":"database opened"/.test(s.output())) {
    if (Date.now() > deadline) throw new Error(`no "database opened" line:\n${s.output()}`)
    await new Promise((r) => setTimeout(r, 20))
  }
  return s
}

async function restart(s: TestServer): Promise<TestServer> {
  await s.stop()
  servers.splice(servers.indexOf(s), 1)
  return start(s.dataDir)
}

function cacheFile(): string {
  const files = fs.readdirSync(cache).filter((f) => /^probes-[0-9a-f]{16}\.json$/.test(f))
  expect(files).toHaveLength(1)
  return path.join(cache, files[0]!)
}

interface ProbeFile {
  format: number
  key: string
  pglite: string
  wasmBytes: number
  groups: { statics: Record<string, number[]>; builtins: Record<string, number[]> }
}

const readCache = () => JSON.parse(fs.readFileSync(cacheFile(), 'utf8')) as ProbeFile

async function client(s: TestServer, user = 'postgres'): Promise<pg.Client> {
  const c = new pg.Client({ host: s.host, port: s.port, database: 'postgres', user })
  await c.connect()
  return c
}

async function error(c: pg.Client, sql: string): Promise<[string, string]> {
  const e = (await c.query(sql).then(
    () => null,
    (err: unknown) => err,
  )) as { code?: string; message?: string } | null
  return [e?.code ?? 'no error', e?.message ?? '']
}

const one = async (c: pg.Client, sql: string) => (await c.query({ text: sql, rowMode: 'array' })).rows

/** What the probed addresses carry: each session's own temp tables, sequences, cursors, statements, role. */
async function sessionFeatures(s: TestServer, tag: string): Promise<void> {
  const a = await client(s)
  const b = await client(s)
  try {
    await a.query(`CREATE TABLE IF NOT EXISTS kept_${tag}(v int)`)
    // temp tables: same name, each session its own (myTempNamespace and the search path flags)
    for (const [c, v] of [
      [a, 1],
      [b, 2],
    ] as const) {
      await c.query(`CREATE TEMP TABLE t_${tag}(v int)`)
      await c.query(`INSERT INTO t_${tag} VALUES (${v})`)
    }
    expect(await one(a, `SELECT v FROM t_${tag}`)).toEqual([[1]])
    expect(await one(b, `SELECT v FROM t_${tag}`)).toEqual([[2]])
    expect(await one(a, `SELECT count(*)::int FROM kept_${tag}`)).toEqual([[0]])

    // currval/lastval per session (seqhashtab, last_used_seq)
    await a.query(`CREATE SEQUENCE sq_${tag}`)
    expect(await one(a, `SELECT nextval('sq_${tag}')::int`)).toEqual([[1]])
    expect(await error(b, `SELECT currval('sq_${tag}')`)).toEqual([
      '55000',
      `currval of sequence "sq_${tag}" is not yet defined in this session`,
    ])
    expect(await error(b, 'SELECT lastval()')).toEqual([
      '55000',
      'lastval is not yet defined in this session',
    ])
    expect(await one(b, `SELECT nextval('sq_${tag}')::int`)).toEqual([[2]])
    expect(await one(a, `SELECT currval('sq_${tag}')::int, lastval()::int`)).toEqual([[1, 1]])

    // WITH HOLD cursors per session (PortalHashTable)
    await a.query('DECLARE cur CURSOR WITH HOLD FOR SELECT g FROM generate_series(1, 3) g')
    expect(await error(b, 'FETCH cur')).toEqual(['34000', 'cursor "cur" does not exist'])
    await b.query(`DECLARE cur CURSOR WITH HOLD FOR SELECT 'b' || g FROM generate_series(1, 3) g`)
    expect(await one(a, 'FETCH 2 FROM cur')).toEqual([[1], [2]])
    expect(await one(b, 'FETCH cur')).toEqual([['b1']])
    expect(await one(a, 'FETCH cur')).toEqual([[3]])

    // named and unnamed prepared statements per session (prepared_queries, unnamed_stmt_psrc)
    await a.query('PREPARE p AS SELECT 41 + 1')
    expect(await error(b, 'EXECUTE p')).toEqual(['26000', 'prepared statement "p" does not exist'])
    expect(await one(a, 'EXECUTE p')).toEqual([[42]])
    expect((await a.query({ text: 'SELECT $1::int + 1 AS x', values: [6] })).rows).toEqual([{ x: 7 }])

    // the login role decides SET SESSION AUTHORIZATION (AuthenticatedUserId)
    await a.query(`DROP ROLE IF EXISTS probe_user_${tag}`)
    await a.query(`CREATE ROLE probe_user_${tag} LOGIN`)
    const u = await client(s, `probe_user_${tag}`)
    try {
      expect(await error(u, 'SET SESSION AUTHORIZATION postgres')).toEqual([
        '42501',
        'permission denied to set session authorization "postgres"',
      ])
      await a.query(`SET SESSION AUTHORIZATION probe_user_${tag}`)
      expect(await one(a, 'SELECT session_user::text, current_user::text')).toEqual([
        [`probe_user_${tag}`, `probe_user_${tag}`],
      ])
      // back: a's login role is a superuser, whoever it is now (u's is not: refused above)
      await a.query('SET SESSION AUTHORIZATION postgres')
      expect(await one(a, 'SELECT session_user::text')).toEqual([['postgres']])
      // pg_stat_activity's built-ins have JS bodies (fmgr_builtins entries): every session is listed
      const pids = await one(
        a,
        `SELECT count(*)::int FROM pg_stat_activity WHERE usename IN ('postgres', 'probe_user_${tag}')`,
      )
      expect(pids[0]![0]).toBeGreaterThanOrEqual(3)
      expect(await one(u, 'SELECT pg_backend_pid() <> pg_backend_pid()')).toEqual([[false]])
    } finally {
      await u.end()
    }
  } finally {
    await a.end()
    await b.end()
  }
}

describe('the start-up probes’ cache', () => {
  let good: ProbeFile
  let server: TestServer

  it('probes at the first start, checks the remembered addresses at the next', async () => {
    server = await start()
    expect(server.output()).toMatch(PROBED)
    expect(server.output()).not.toMatch(RECALLED)
    good = readCache()
    expect(good.format).toBe(1)
    expect(Object.keys(good.groups.statics).sort()).toEqual(
      [
        'authenticatedUserId',
        'lastUsedSeq',
        'namespaceUser',
        'portalTable',
        'preparedQueries',
        'searchPathCacheValid',
        'seqTable',
        'tempNamespace',
        'tempToastNamespace',
        'unnamedStatement',
      ].sort(),
    )
    expect(Object.keys(good.groups.builtins).length).toBeGreaterThan(10)
    await sessionFeatures(server, 'first')

    server = await restart(server)
    expect(server.output()).toMatch(RECALLED)
    expect(server.output()).not.toMatch(PROBED)
    expect(server.output()).not.toMatch(BUILTINS_FAILED)
    await sessionFeatures(server, 'recalled')
    expect(readCache()).toEqual(good)
  }, 240_000)

  it('a garbage cache file is probed past and rewritten', async () => {
    fs.writeFileSync(cacheFile(), '{"format": 1, "groups": garbage')
    server = await restart(server)
    expect(server.output()).toMatch(/"msg":"the probe cache is not this build’s or unreadable"/)
    expect(server.output()).toMatch(PROBED)
    expect(readCache()).toEqual(good)
    await sessionFeatures(server, 'garbage')
  }, 240_000)

  it('a cache of another build is not used', async () => {
    fs.writeFileSync(cacheFile(), JSON.stringify({ ...good, pglite: '0.4.0' }))
    server = await restart(server)
    expect(server.output()).toMatch(PROBED)
    expect(server.output()).not.toMatch(RECALLED)
    expect(readCache()).toEqual(good)
  }, 240_000)

  it('wrong addresses fail their checks: probed afresh, and the server is right', async () => {
    // each remembered address moved by a word (a byte for the flag), and two pairs swapped: what a file of
    // another build under the same key, or a damaged one, could hold
    const st = good.groups.statics
    const moved = (name: string, by: number) => st[name]!.map((a) => a + by)
    const wrong: ProbeFile = {
      ...good,
      groups: {
        statics: {
          ...Object.fromEntries(Object.keys(st).map((k) => [k, moved(k, 4)])),
          searchPathCacheValid: moved('searchPathCacheValid', 1),
          tempNamespace: st.tempToastNamespace!,
          tempToastNamespace: st.tempNamespace!,
          seqTable: st.lastUsedSeq!,
          lastUsedSeq: st.seqTable!,
        },
        builtins: Object.fromEntries(
          Object.entries(good.groups.builtins).map(([oid, [a]]) => [oid, [a! + 16]]),
        ),
      },
    }
    fs.writeFileSync(cacheFile(), JSON.stringify(wrong))
    server = await restart(server)
    expect(server.output()).toMatch(FAILED)
    expect(server.output()).toMatch(BUILTINS_FAILED)
    expect(server.output()).toMatch(PROBED)
    expect(readCache()).toEqual(good)
    await sessionFeatures(server, 'wrong')
    // the probes' own objects are gone whichever way they ran
    const c = await client(server)
    try {
      expect(
        await one(
          c,
          `SELECT count(*)::int FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relname LIKE 'pyglite\\_probe%' OR n.nspname LIKE 'pyglite\\_probe%'`,
        ),
      ).toEqual([[0]])
    } finally {
      await c.end()
    }
  }, 240_000)

  it('one address wrong among right ones: probed afresh', async () => {
    // namespaceUser alone points at another static of namespace.c (myTempNamespace), the rest are right
    const st = good.groups.statics
    fs.writeFileSync(
      cacheFile(),
      JSON.stringify({
        ...good,
        groups: { ...good.groups, statics: { ...st, namespaceUser: st.tempNamespace! } },
      }),
    )
    server = await restart(server)
    expect(server.output()).toMatch(FAILED)
    expect(server.output()).toMatch(PROBED)
    expect(readCache()).toEqual(good)
    await sessionFeatures(server, 'one')
  }, 240_000)
})
