// A new data directory is a copy of the pristine cluster (src/databases/pristine.ts): it must equal what
// initdb makes (catalogs, settings, plpython3u), the cache must be rebuilt when the PGlite it was made by
// changes, and two servers starting at once on an empty cache must both come up.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import { textRows } from '../helpers/clients.js'
import { startServer, type TestServer } from '../helpers/server.js'

const servers: TestServer[] = []
const dirs: string[] = []
afterAll(async () => {
  for (const s of servers) await s.stop()
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true })
})

function tmpDir(prefix: string): string {
  const d = fs.mkdtempSync(path.join(process.env.PYGLITE_TEST_RUN_DIR ?? os.tmpdir(), prefix))
  dirs.push(d)
  return d
}

/** A server on an empty data directory with this cache setting. */
async function fresh(cache: string): Promise<TestServer> {
  const s = await startServer({ template: false, env: { PYGLITE_CACHE_DIR: cache } })
  servers.push(s)
  return s
}

const pristines = (cache: string) => fs.readdirSync(cache).filter((f) => f.startsWith('pristine-'))

/**
 * What a cluster holds, as text: every pg_catalog table's rows (in one canonical order), the settings with
 * their sources, and the databases. Differences between two initdbs are left out: none are expected
 * (bootstrap is deterministic), but pg_control's system identifier and timestamps are not in any table.
 */
async function snapshot(s: TestServer, db = 'postgres'): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>()
  const tables = await textRows(
    s,
    `SELECT c.relname FROM pg_catalog.pg_class c WHERE c.relnamespace = 'pg_catalog'::regnamespace
       AND c.relkind = 'r' ORDER BY 1`,
    db,
  )
  expect(tables.length).toBeGreaterThan(60)
  for (const t of tables) {
    // pg_statistic: planner statistics of the catalogs themselves; compared as well. Left out: the
    // per-session temp schemas the engine makes ahead of need when it opens a database (docs/sessions.md),
    // whose OIDs depend on what the engine did before, not on initdb
    const runtime = t === 'pg_namespace' ? ` WHERE t.nspname !~ '^pg_(toast_)?temp_'` : ''
    out.set(t, await textRows(s, `SELECT t::text FROM pg_catalog.${t} t${runtime} ORDER BY 1`, db))
  }
  out.set(
    'temp schemas',
    await textRows(
      s,
      `SELECT count(*) > 0 FROM pg_catalog.pg_namespace WHERE nspname ~ '^pg_(toast_)?temp_'`,
      db,
    ),
  )
  out.set(
    'settings',
    await textRows(
      s,
      `SELECT name, setting, source, sourcefile IS NOT NULL FROM pg_catalog.pg_settings ORDER BY 1`,
      db,
    ),
  )
  out.set(
    'files',
    await textRows(s, `SELECT f FROM pg_catalog.pg_ls_dir('.', false, false) f ORDER BY 1`, db),
  )
  out.set(
    'relation files',
    await textRows(
      s,
      `SELECT relname, pg_catalog.pg_relation_filepath(oid), pg_catalog.pg_relation_size(oid)
         FROM pg_catalog.pg_class WHERE relkind IN ('r', 'i', 't', 'S', 'm') ORDER BY 1`,
      db,
    ),
  )
  return out
}

describe('first start from the pristine cluster', () => {
  it('equals a fresh initdb: catalogs, settings, plpython3u, in every database', async () => {
    const cache = tmpDir('pyglite-cache-')
    const [copied, initdb] = await Promise.all([fresh(cache), fresh('off')])
    expect(copied.output()).toMatch(/"msg":"copied the pristine cluster"/)
    expect(initdb.output()).not.toMatch(/pristine/)
    for (const db of ['postgres', 'template1']) {
      const a = await snapshot(copied, db)
      const b = await snapshot(initdb, db)
      expect([...a.keys()]).toEqual([...b.keys()])
      for (const [k, v] of a) expect(v, `${db}: ${k}`).toEqual(b.get(k))
    }
    // what the comparison covers, checked directly
    const lang = `SELECT l.lanname, e.extname, p.proname FROM pg_catalog.pg_language l
      JOIN pg_catalog.pg_extension e ON e.oid = (SELECT d.refobjid FROM pg_catalog.pg_depend d
        WHERE d.classid = 'pg_language'::regclass AND d.objid = l.oid AND d.deptype = 'e')
      JOIN pg_catalog.pg_proc p ON p.oid = l.lanplcallfoid WHERE l.lanname = 'plpython3u'`
    expect(await textRows(copied, lang)).toEqual(['plpython3u|plpython3u|plpython3_call_handler'])
    expect(await textRows(copied, lang, 'template1')).toEqual([]) // as initdb leaves it: no plpython3u there
    expect(
      await textRows(copied, `SELECT current_setting('shared_buffers'), current_setting('server_encoding')`),
    ).toEqual(['16MB|UTF8'])
    const f = `CREATE FUNCTION pyadd(a int, b int) RETURNS int LANGUAGE plpython3u AS $$ return a + b $$;
      SELECT pyadd(40, 2)`
    for (const s of [copied, initdb]) {
      const c = new pg.Client(s.url())
      await c.connect()
      const r = await c.query(f)
      expect((r as unknown as pg.QueryResult[])[1]!.rows).toEqual([{ pyadd: 42 }])
      await c.end()
    }
    // the cache holds the cluster with its manifest (and the assembled side modules, wat.ts), and nothing
    // half-built
    expect(fs.readdirSync(cache).filter((f) => f.startsWith('.'))).toEqual([])
    const entries = pristines(cache)
    expect(entries).toHaveLength(1)
    expect(entries[0]).toMatch(/^pristine-[0-9a-f]{16}$/)
    const manifest = JSON.parse(
      fs.readFileSync(path.join(cache, entries[0]!, 'pyglite-pristine.json'), 'utf8'),
    )
    expect(manifest.catalogVersion).toBe(
      Number((await textRows(copied, 'SELECT catalog_version_no FROM pg_control_system()'))[0]),
    )
    expect(fs.existsSync(path.join(copied.dataDir, 'postgres', 'pyglite-pristine.json'))).toBe(false)
  }, 600_000)

  it('is rebuilt when the PGlite that made it is not the one running', async () => {
    const cache = tmpDir('pyglite-cache-')
    const first = await fresh(cache)
    expect(first.output()).toMatch(/"msg":"built the pristine cluster"/)
    const [entry] = pristines(cache)
    const file = path.join(cache, entry!, 'pyglite-pristine.json')
    const good = JSON.parse(fs.readFileSync(file, 'utf8'))

    // reused as long as it matches
    const second = await fresh(cache)
    expect(second.output()).toMatch(/"msg":"copied the pristine cluster"/)
    expect(second.output()).not.toMatch(/"msg":"built the pristine cluster"/)

    // made by another PGlite version: rebuilt, and the new manifest names this one
    fs.writeFileSync(file, JSON.stringify({ ...good, pglite: '0.4.0' }))
    const third = await fresh(cache)
    expect(third.output()).toMatch(/"msg":"built the pristine cluster"/)
    expect(JSON.parse(fs.readFileSync(file, 'utf8')).pglite).toBe(good.pglite)

    // a catalog version that pg_control does not confirm (another build of the same version): rebuilt
    fs.writeFileSync(file, JSON.stringify({ ...good, catalogVersion: good.catalogVersion - 1 }))
    const fourth = await fresh(cache)
    expect(fourth.output()).toMatch(/"msg":"built the pristine cluster"/)
    expect(JSON.parse(fs.readFileSync(file, 'utf8')).catalogVersion).toBe(good.catalogVersion)
    expect(pristines(cache)).toEqual([entry])
    for (const s of [first, second, third, fourth])
      expect(await textRows(s, `SELECT extname FROM pg_extension WHERE extname = 'plpython3u'`)).toEqual([
        'plpython3u',
      ])
  }, 900_000)

  it('two servers starting at once on an empty cache both come up', async () => {
    const cache = tmpDir('pyglite-cache-')
    const [a, b] = await Promise.all([fresh(cache), fresh(cache)])
    for (const s of [a, b]) {
      expect(s.output()).toMatch(/"msg":"copied the pristine cluster"/)
      await textRows(s, 'CREATE TABLE t (i int)')
      expect(await textRows(s, `INSERT INTO t VALUES (${s.port}) RETURNING i`)).toEqual([String(s.port)])
    }
    expect(a.dataDir).not.toBe(b.dataDir)
    // one entry: whichever build finished second used the first one's (or both built the same key)
    expect(fs.readdirSync(cache).filter((f) => f.startsWith('.'))).toEqual([])
    expect(pristines(cache)).toHaveLength(1)
  }, 600_000)
})
