// Temporary schemas per session, as PostgreSQL gives each backend its own: four clients (pg, postgres.js,
// psycopg, pgJDBC) create `bang` at once and each sees its own; temp objects are private, survive their own
// transaction's rollback only if committed, and go when the session disconnects (cleanly or killed).
import { spawn } from 'node:child_process'
import path from 'node:path'
import type pg from 'pg'
import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connectPg, runJdbcProgram } from '../helpers/clients.js'
import { ROOT, startServer, type TestServer } from '../helpers/server.js'
import { failure } from '../plpy/clients.js'

const HERE = path.join(ROOT, 'test/sessions/clients')
let srv: TestServer
beforeAll(async () => {
  srv = await startServer()
})
afterAll(async () => {
  await srv?.stop()
})

const connect = () => connectPg(srv, {}, { quiet: true })

const temps = (c: pg.Client) =>
  c
    .query(
      "SELECT string_agg(relname, ',' ORDER BY relname) AS names FROM pg_class WHERE relnamespace = pg_my_temp_schema() AND relkind IN ('r', 'v', 'S')",
    )
    .then((r) => r.rows[0].names as string | null)
const mySchema = async (c: pg.Client) =>
  (await c.query('SELECT pg_my_temp_schema()::regnamespace::text AS ns')).rows[0].ns as string
const schemaExists = async (c: pg.Client, ns: string) =>
  (await c.query('SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = $1', [ns])).rows[0].n === 1

/** Run a Python client; `ready`: it printed "ready" (and waits for `go`); `done`: its last output line. */
function runPython(
  file: string,
  ...args: string[]
): { ready: Promise<void>; go: () => void; done: Promise<string> } {
  const p = spawn('/usr/bin/python3', [path.join(HERE, file), ...args])
  let out = ''
  let err = ''
  let ready = () => {}
  const r = new Promise<void>((resolve) => (ready = resolve))
  p.stdout.on('data', (d) => {
    out += d
    if (out.startsWith('ready\n')) ready()
  })
  p.stderr.on('data', (d) => (err += d))
  const done = new Promise<string>((resolve, reject) =>
    p.on('close', (code) => (code === 0 ? resolve(out.trim().split('\n').at(-1)!) : reject(new Error(err)))),
  )
  done.catch(() => ready())
  return { ready: r, go: () => p.stdin.end('go\n'), done }
}

describe('temporary tables', () => {
  it('are private: four clients create `bang` at once and each sees its own (pg, postgres.js, psycopg, pgJDBC)', async () => {
    const a = await connect()
    const sql = postgres(srv.url(), { max: 1, onnotice: () => {} })
    try {
      await a.query("CREATE TEMP TABLE bang(who text); INSERT INTO bang VALUES ('pg')")
      await sql`CREATE TEMPORARY TABLE bang(who text)`
      await sql`INSERT INTO bang VALUES ('postgres.js')`
      const py = runPython('temp_psycopg.py', srv.url())
      await py.ready // psycopg has made its table and waits
      const j = runJdbcProgram(srv, path.join(HERE, 'JdbcTemp.java'), 'JdbcTemp')
      expect(j.rows).toBe('jdbc;')
      py.go()
      const p = JSON.parse(await py.done)
      const js = (await sql`SELECT pg_my_temp_schema()::regnamespace::text AS ns`)[0]!.ns
      const names = [await mySchema(a), js, p.ns, j.ns].sort()
      expect(j.bangs).toBe(names.join(',')) // the four sessions' tables, at once, one in each one's schema
      expect(p.rows).toEqual(['psycopg'])
      expect((await a.query('SELECT who FROM bang')).rows).toEqual([{ who: 'pg' }])
      expect(await sql`SELECT who FROM bang`).toEqual([{ who: 'postgres.js' }])
      expect(new Set(names).size).toBe(4)
      for (const n of names) expect(n).toMatch(/^pg_temp_\d+$/)
      // another session does not see them; naming one explicitly is PostgreSQL's error
      const b = await connect()
      expect(await b.query('SELECT * FROM bang').catch((e) => e.message)).toBe(
        'relation "bang" does not exist',
      )
      await b.end()
    } finally {
      await a.end()
      await sql.end()
    }
  })

  it('go with their session: clean disconnect and killed client, schema and all', async () => {
    const a = await connect()
    const b = await connect()
    await a.query('CREATE TEMP TABLE a_t(v int); CREATE TEMPORARY VIEW a_v AS SELECT 1 AS one')
    await a.query('CREATE TEMP SEQUENCE a_s; SELECT 1 AS x INTO TEMP a_into')
    await b.query(
      'BEGIN; CREATE TEMP TABLE b_t(v text); INSERT INTO b_t VALUES (repeat($$x$$, 100000)); COMMIT',
    )
    expect(await temps(a)).toBe('a_into,a_s,a_t,a_v')
    expect(await temps(b)).toBe('b_t')
    const aNs = await mySchema(a)
    await a.end()
    const c = await connect()
    for (let i = 0; i < 100 && (await schemaExists(c, aNs)); i++) await new Promise((r) => setTimeout(r, 20))
    expect(await schemaExists(c, aNs)).toBe(false)
    expect((await b.query('SELECT length(v) AS n FROM b_t')).rows).toEqual([{ n: 100000 }])
    // a killed client's temp objects go as well; the name is free again
    await c.query('CREATE TEMP TABLE c_t(v int)')
    const cNs = await mySchema(c)
    ;(c as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy()
    for (let i = 0; i < 100 && (await schemaExists(b, cNs)); i++) await new Promise((r) => setTimeout(r, 20))
    expect(await schemaExists(b, cNs)).toBe(false)
    expect(
      (
        await b.query(
          "SELECT count(*)::int AS n FROM pg_class WHERE relname IN ('a_t', 'a_v', 'a_s', 'a_into', 'c_t')",
        )
      ).rows[0].n,
    ).toBe(0)
    await b.end()
  })

  it('follow transactions: rolled back with their CREATE, ON COMMIT DROP / DELETE ROWS, DISCARD TEMP', async () => {
    const a = await connect()
    try {
      await a.query('BEGIN')
      await a.query('CREATE TEMP TABLE r(v int)')
      await a.query('ROLLBACK')
      expect(await a.query('SELECT * FROM r').catch((e) => e.message)).toBe('relation "r" does not exist')
      await a.query('CREATE TEMP TABLE r(v int)')
      await a.query(
        'BEGIN; CREATE TEMP TABLE gone(v int) ON COMMIT DROP; INSERT INTO gone VALUES (1); COMMIT',
      )
      await a.query('CREATE TEMP TABLE rows_go(v int) ON COMMIT DELETE ROWS')
      await a.query('BEGIN; INSERT INTO rows_go VALUES (1); COMMIT')
      expect((await a.query('SELECT count(*)::int AS n FROM rows_go')).rows[0].n).toBe(0)
      expect(await temps(a)).toBe('r,rows_go')
      await a.query('DISCARD TEMP')
      expect(await temps(a)).toBe(null)
      await a.query('CREATE TEMP TABLE r(v int)')
      expect(await temps(a)).toBe('r')
    } finally {
      await a.end()
    }
  })

  it('left by a killed server are gone before the first client after the restart runs anything', async () => {
    const own = await startServer()
    try {
      const a = await connectPg(own, {}, { quiet: true })
      await a.query('CREATE TEMP TABLE left_behind(v int); INSERT INTO left_behind VALUES (1)')
      expect(await mySchema(a)).toMatch(/^pg_temp_[1-9][0-9]*$/)
      const oid = (await a.query('SELECT pg_my_temp_schema()::int AS oid')).rows[0].oid as number
      await own.stop('SIGKILL')
      const again = await startServer({ dataDir: own.dataDir })
      try {
        const b = await connectPg(again, {}, { quiet: true })
        // the very first statement: the leftover schema was dropped when the database opened, before it
        // (a new schema may have its name: the pool's are made after the leftovers are dropped)
        expect(
          (
            await b.query(
              "SELECT (SELECT count(*)::int FROM pg_class WHERE relname = 'left_behind') AS tables, (SELECT count(*)::int FROM pg_namespace WHERE oid = $1) AS schemas",
              [oid],
            )
          ).rows,
        ).toEqual([{ tables: 0, schemas: 0 }])
        await b.query('CREATE TEMP TABLE left_behind(v int)')
        expect(await temps(b)).toBe('left_behind')
        await b.end()
      } finally {
        await again.stop()
      }
    } finally {
      await own.stop()
    }
  })

  it("made by a function's plpy.execute are the calling session's own, and go with it", async () => {
    const admin = await connect()
    await admin.query(`CREATE FUNCTION mk_staging(v int) RETURNS int LANGUAGE plpython3u AS $$
plpy.execute("CREATE TEMP TABLE staging AS SELECT %d AS v" % v)
return plpy.execute("SELECT v FROM staging")[0]["v"]
$$`)
    await admin.end()
    const a = await connect()
    const b = await connect()
    // neither input mentions a temp object: only the function's query does
    expect((await a.query('SELECT mk_staging(1) AS v')).rows).toEqual([{ v: 1 }])
    expect((await b.query('SELECT mk_staging(2) AS v')).rows).toEqual([{ v: 2 }])
    expect((await a.query('SELECT v FROM staging')).rows).toEqual([{ v: 1 }])
    const [nsA, nsB] = [await mySchema(a), await mySchema(b)]
    expect(nsA).toMatch(/^pg_temp_[1-9][0-9]*$/)
    expect(nsB).toMatch(/^pg_temp_[1-9][0-9]*$/)
    expect(nsA).not.toBe(nsB)
    // by OID: the pool may give a new schema the name again
    const oidA = (await a.query('SELECT pg_my_temp_schema()::int AS o')).rows[0].o as number
    await a.end()
    const c = await connect()
    const gone = async () =>
      (await c.query('SELECT count(*)::int AS n FROM pg_namespace WHERE oid = $1', [oidA])).rows[0].n === 0
    for (let i = 0; i < 100 && !(await gone()); i++) await new Promise((r) => setTimeout(r, 20))
    expect(await gone()).toBe(true)
    // a's table went with it: the name is free for the next caller
    expect((await c.query('SELECT mk_staging(3) AS v')).rows).toEqual([{ v: 3 }])
    await Promise.all([b.end(), c.end()])
  })

  it("made by PL/pgSQL (EXECUTE, a static statement, a trigger) are the calling session's own, and go with it", async () => {
    const admin = await connect()
    await admin.query(`CREATE FUNCTION mk_dyn(v int) RETURNS int LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('CREATE %s TABLE dyn_%s AS SELECT %s AS v', 'TEMP', 'stage', v);
  RETURN (SELECT d.v FROM dyn_stage d);
END $$`)
    await admin.query(`CREATE FUNCTION mk_static(v int) RETURNS int LANGUAGE plpgsql AS $$
BEGIN
  CREATE TEMP TABLE static_stage (v int);
  INSERT INTO static_stage VALUES (v);
  RETURN (SELECT s.v FROM static_stage s);
END $$`)
    await admin.query('CREATE TABLE audited (v int)')
    await admin.query(`CREATE FUNCTION audit_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  CREATE TEMP TABLE IF NOT EXISTS audit_log (v int);
  INSERT INTO audit_log VALUES (NEW.v);
  RETURN NEW;
END $$`)
    await admin.query(
      'CREATE TRIGGER audit BEFORE INSERT ON audited FOR EACH ROW EXECUTE FUNCTION audit_row()',
    )
    await admin.end()
    const a = await connect()
    const b = await connect()
    // no input of a or b mentions a temporary object
    for (const [c, v] of [
      [a, 1],
      [b, 2],
    ] as const) {
      expect((await c.query('SELECT mk_dyn($1) AS v', [v])).rows).toEqual([{ v }])
      expect((await c.query('SELECT mk_static($1) AS v', [v])).rows).toEqual([{ v }])
      await c.query('INSERT INTO audited VALUES ($1)', [v])
    }
    for (const [c, v] of [
      [a, 1],
      [b, 2],
    ] as const) {
      expect(await temps(c)).toBe('audit_log,dyn_stage,static_stage')
      const rows = await c.query(
        'SELECT d.v AS d, s.v AS s, l.v AS l FROM dyn_stage d, static_stage s, audit_log l',
      )
      expect(rows.rows).toEqual([{ d: v, s: v, l: v }])
    }
    expect(await mySchema(a)).not.toBe(await mySchema(b))
    // a third session sees neither's tables, and makes its own
    const c = await connect()
    expect(await temps(c)).toBeNull()
    expect((await failure(c, 'SELECT v FROM dyn_stage')).code).toBe('42P01')
    expect((await c.query('SELECT mk_dyn(3) AS v')).rows).toEqual([{ v: 3 }])
    // a's go with it
    const oidA = (await a.query('SELECT pg_my_temp_schema()::int AS o')).rows[0].o as number
    await a.end()
    const gone = async () =>
      (await c.query('SELECT count(*)::int AS n FROM pg_namespace WHERE oid = $1', [oidA])).rows[0].n === 0
    for (let i = 0; i < 100 && !(await gone()); i++) await new Promise((r) => setTimeout(r, 20))
    expect(await gone()).toBe(true)
    expect(
      (
        await c.query(
          "SELECT count(*)::int AS n FROM pg_class WHERE relname IN ('dyn_stage', 'static_stage', 'audit_log')",
        )
      ).rows[0].n,
    ).toBe(4) // b's three and c's dyn_stage
    await Promise.all([b.end(), c.end()])
  })
})
