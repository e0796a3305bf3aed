// Containment (issue 20): a wasm trap or a missing C function while one session's statement runs is an ERROR
// for that statement, and other sessions — one holding an open transaction while the fault happens beside
// it — go on and commit. A fault PostgreSQL could not survive either (inside a critical section) ends every
// session with a FATAL that says so, the database reopens at once (a new connection answers within a second
// or so of that FATAL), and acknowledged commits are kept. Cursors and named portals that were running when a
// fault was contained end as PostgreSQL ends them after an ERROR: with their transaction.
// The faults come from $libdir/pyglite_test_faults (src/engine/pg/faultmodule.ts, PYGLITE_TEST_FAULTS=1).
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fields, message, RawClient, rows } from '../helpers/raw.js'
import { startServer, type TestServer } from '../helpers/server.js'

let srv: TestServer
const clients: pg.Client[] = []

async function connect(): Promise<pg.Client> {
  const c = new pg.Client(srv.url())
  c.on('error', () => {}) // the FATAL of the last test arrives as an error event too
  await c.connect()
  clients.push(c)
  return c
}

const failure = (p: Promise<unknown>) =>
  p.then(
    () => null,
    (e: { code?: string; message?: string; detail?: string }) => ({
      code: e.code,
      message: e.message,
      detail: e.detail,
    }),
  )

const TRAP = {
  code: 'XX000',
  message: 'internal error in the database engine: RuntimeError: unreachable',
  detail: 'The statement was aborted and its transaction rolled back; other sessions are not affected.',
}

/** Parse (unnamed), Bind to portal `portal`, Execute it, Sync: the extended protocol with a named portal. */
const namedPortal = (portal: string, sql: string) =>
  Buffer.concat([
    message('P', Buffer.from(`\0${sql}\0\0\0`)),
    message('B', Buffer.from(`${portal}\0\0\0\0\0\0\0\0`)),
    message('E', Buffer.from(`${portal}\0\0\0\0\0`)),
    message('S'),
  ])

/** Parse + Sync of `sql`: a preparation-only batch, which runs beside another session's open transaction. */
const prepareOnly = (sql: string) =>
  Buffer.concat([message('P', Buffer.from(`\0${sql}\0\0\0`)), message('S')])

beforeAll(async () => {
  srv = await startServer({ env: { PYGLITE_TEST_FAULTS: '1' } })
  const c = await connect()
  const lib = "'$libdir/pyglite_test_faults'"
  await c.query(`
    CREATE FUNCTION trap() RETURNS int LANGUAGE c AS ${lib}, 'pyglite_test_trap';
    CREATE FUNCTION missing() RETURNS int LANGUAGE c AS ${lib}, 'pyglite_test_missing';
    CREATE FUNCTION critical() RETURNS int LANGUAGE c AS ${lib}, 'pyglite_test_critical';
    CREATE FUNCTION jsthrow() RETURNS int LANGUAGE c AS ${lib}, 'pyglite_test_js';
    CREATE TYPE faulty;
    CREATE FUNCTION faulty_in(cstring) RETURNS faulty LANGUAGE c STRICT AS ${lib}, 'pyglite_test_trap';
    CREATE FUNCTION faulty_out(faulty) RETURNS cstring LANGUAGE c STRICT AS ${lib}, 'pyglite_test_trap';
    CREATE TYPE faulty (INPUT = faulty_in, OUTPUT = faulty_out, INTERNALLENGTH = 4, PASSEDBYVALUE);
    CREATE TABLE ledger (who text);
    CREATE FUNCTION pl_trap() RETURNS text LANGUAGE plpgsql AS $$
      BEGIN BEGIN PERFORM trap(); EXCEPTION WHEN others THEN RETURN 'caught'; END; RETURN 'no'; END $$;`)
}, 120_000)
afterAll(async () => {
  for (const c of clients) await c.end().catch(() => {})
  await srv?.stop()
})

describe('one session’s fault is its own ERROR', () => {
  it('a trap beside another session’s open transaction: that transaction survives and commits', async () => {
    const b = await connect()
    await b.query('BEGIN')
    await b.query("INSERT INTO ledger VALUES ('b1')")
    await b.query("SET LOCAL application_name = 'holder'")
    // a's statement is only prepared, so it runs now, inside b's transaction (in a savepoint); parsing
    // 'x'::faulty calls the type's input function, which traps
    const { c: a } = await RawClient.login(srv.port)
    a.write(prepareOnly("SELECT 'x'::faulty"))
    const got = await a.until('Z')
    const err = got.find((m) => m.type === 'E')
    expect(fields(err!.body)).toMatchObject({ S: 'ERROR', C: TRAP.code, M: TRAP.message, D: TRAP.detail })
    expect(got.at(-1)!.body.toString()).toBe('I') // a is idle, not in a failed transaction
    // b's transaction is untouched: its row, its SET LOCAL, and it commits
    expect((await b.query('SELECT who FROM ledger')).rows).toEqual([{ who: 'b1' }])
    expect((await b.query("SELECT current_setting('application_name') AS n")).rows).toEqual([{ n: 'holder' }])
    await b.query("INSERT INTO ledger VALUES ('b2')")
    await b.query('COMMIT')
    const after = await a.query("SELECT string_agg(who, ',' ORDER BY who) FROM ledger")
    expect(after.find((m) => m.type === 'D')!.body.toString()).toContain('b1,b2')
    a.end()
  })

  it('a trap, a missing C function, a JS exception, a trap under PL/pgSQL and PL/Python: ERRORs; all go on', async () => {
    const a = await connect()
    const b = await connect()
    await a.query("SET application_name = 'a-session'")
    await a.query({ name: 'kept', text: 'SELECT $1::int + 1 AS v', values: [1] })
    expect(await failure(a.query('SELECT trap()'))).toEqual(TRAP)
    // a C function nobody provides: a clean 0A000 naming it (src/engine/pg/missing.ts)
    expect(await failure(a.query('SELECT missing()'))).toEqual({
      code: '0A000',
      message: 'function pyglite_test_no_such_symbol is not supported by pyglite',
      detail:
        'PGlite, the PostgreSQL build pyglite runs, lacks this C function, which pyglite_test_faults.so need.',
    })
    // a JavaScript exception from a function the library calls: contained like a trap
    expect(await failure(a.query('SELECT jsthrow()'))).toEqual({
      ...TRAP,
      message: 'internal error in the database engine: TypeError: simulated failure in JavaScript',
    })
    // extended protocol, inside an explicit transaction: rolled back, the session resyncs
    await a.query('BEGIN')
    await a.query("INSERT INTO ledger VALUES ('a-rolled-back')")
    expect(await failure(a.query('SELECT trap() + $1', [1]))).toEqual(TRAP)
    expect(await failure(a.query('SELECT 1'))).toMatchObject({ code: '25P02' })
    await a.query('ROLLBACK')
    // the PL/pgSQL exception block cannot catch it (PostgreSQL never got an ERROR there), its subtransaction
    // is rolled back all the same
    expect(await failure(a.query('SELECT pl_trap()'))).toEqual(TRAP)
    const py = await failure(a.query('DO $$ plpy.execute("SELECT trap()") $$ LANGUAGE plpython3u'))
    expect(py?.code).toBe('XX000')
    expect(
      await failure(a.query('SELECT count(*) FROM (SELECT trap() FROM generate_series(1, 3)) s')),
    ).toEqual(TRAP)
    // a's own state is intact, and so is b's session
    expect((await a.query({ name: 'kept', text: 'SELECT $1::int + 1 AS v', values: [41] })).rows).toEqual([
      { v: 42 },
    ])
    expect((await a.query("SELECT current_setting('application_name') AS n")).rows).toEqual([
      { n: 'a-session' },
    ])
    expect((await b.query("SELECT count(*)::int AS n FROM ledger WHERE who = 'a-rolled-back'")).rows).toEqual(
      [{ n: 0 }],
    )
    // logged once each, at error level, with the session and the statement
    const logged = srv
      .output()
      .split('\n')
      .filter((l) => l.includes('"statement":"SELECT trap()"'))
    expect(logged).toHaveLength(1)
    expect(JSON.parse(logged[0]!)).toMatchObject({
      level: 50,
      session: expect.any(Number),
      statement: 'SELECT trap()',
    })
  })
})

describe('cursors and portals that were running', () => {
  it('a cursor being fetched fails with its transaction: after ROLLBACK it is gone, its name free', async () => {
    const a = await connect()
    await a.query('BEGIN')
    await a.query(
      'DECLARE c CURSOR FOR SELECT x, CASE WHEN x > 2 THEN trap() END AS t FROM generate_series(1, 5) x',
    )
    expect((await a.query('FETCH 2 FROM c')).rows).toEqual([
      { x: 1, t: null },
      { x: 2, t: null },
    ])
    expect(await failure(a.query('FETCH 2 FROM c'))).toEqual(TRAP)
    expect(await failure(a.query('FETCH 1 FROM c'))).toMatchObject({ code: '25P02' })
    await a.query('ROLLBACK')
    // as after any ERROR in PostgreSQL (before: "cannot drop active portal", then "cursor already exists")
    expect(await failure(a.query('CLOSE c'))).toMatchObject({
      code: '34000',
      message: 'cursor "c" does not exist',
    })
    expect((await a.query('SELECT count(*)::int AS n FROM pg_cursors')).rows).toEqual([{ n: 0 }])
    await a.query('BEGIN')
    await a.query('DECLARE c CURSOR FOR SELECT 7 AS v')
    expect((await a.query('FETCH c')).rows).toEqual([{ v: 7 }])
    await a.query('COMMIT')
  })

  it('a PL/Python cursor whose fetch traps ends as after an ERROR in its fetch: caught, cannot run, closes', async () => {
    const a = await connect()
    const notices: string[] = []
    a.on('notice', (n) => notices.push(n.message ?? ''))
    // the same function with an ordinary ERROR (division by zero at row 3: this output is PostgreSQL 15's,
    // checked by hand) and with a trap at row 3
    const run = (bad: string) =>
      a.query(`DO $$
import re
out = []
cur = plpy.cursor("SELECT CASE WHEN g = 3 THEN ${bad} ELSE g END AS v FROM generate_series(1, 5) g")
out.append(str([r["v"] for r in cur.fetch(2)]))
for i in range(2):
    try:
        out.append(str([r["v"] for r in cur.fetch(2)]))
    except plpy.SPIError as e:
        out.append(type(e).__name__ + ": " + re.sub("portal [0-9]+", "portal N", str(e)))
cur.close()
out.append(str(plpy.execute("SELECT count(*) AS n FROM pg_catalog.pg_cursors")[0]["n"]))
plpy.notice(" | ".join(out))
$$ LANGUAGE plpython3u`)
    await run('1 / (g - 3)')
    await run('trap()')
    expect(notices).toEqual([
      '[1, 2] | DivisionByZero: division by zero | ObjectNotInPrerequisiteState: portal "<unnamed portal N>" cannot be run | 0',
      '[1, 2] | InternalError: internal error: unreachable | ObjectNotInPrerequisiteState: portal "<unnamed portal N>" cannot be run | 0',
    ])
    expect((await a.query('SELECT 41 + 1 AS v')).rows).toEqual([{ v: 42 }])
  })

  it('a named extended-protocol portal: its name can be bound again after the fault', async () => {
    const { c: a } = await RawClient.login(srv.port)
    a.write(namedPortal('p', 'SELECT trap()'))
    const got = await a.until('Z')
    expect(fields(got.find((m) => m.type === 'E')!.body)).toMatchObject({ C: TRAP.code, M: TRAP.message })
    expect(got.at(-1)!.body.toString()).toBe('I')
    a.write(namedPortal('p', 'SELECT 41 + 1'))
    const again = await a.until('Z')
    expect(again.filter((m) => m.type === 'E').map((m) => fields(m.body).M)).toEqual([])
    expect(rows(again)).toEqual([['42']])
    a.end()
  })
})

describe('a fault PostgreSQL could not survive', () => {
  it('ends every session with a FATAL that says so; the database reopens at once with every commit', async () => {
    const b = await connect()
    await b.query("INSERT INTO ledger VALUES ('committed before')")
    // when b hears its FATAL: the engine is being reopened from then on
    const bEnded = new Promise<{ err: { code?: string; message?: string }; at: number }>((resolve) =>
      b.once('error', (err) => resolve({ err, at: performance.now() })),
    )
    const a = await connect()
    const t0 = performance.now()
    const err = await failure(a.query('SELECT critical()'))
    const FATAL = {
      code: 'XX000',
      message: 'terminating connection because the database engine failed: RuntimeError: unreachable',
    }
    expect(err).toMatchObject(FATAL)
    const ended = await bEnded
    expect(ended.err).toMatchObject(FATAL)
    // reopened at once, by itself: a client connecting right after the FATAL gets an answer, with every
    // acknowledged commit. The time is printed, not held to the 1 s target here (a timed assertion in a
    // loaded test run only flakes): the bound below catches a reopen that waits for a fsync of every file
    // again (5-8 s here), test/durability/recovery-sync.test.ts checks the one syncfs that replaced it
    // (src/engine/storage/durable.ts), and `npm run bench startup` measures the reopen after a crash
    const c = await connect()
    const r = await c.query("SELECT string_agg(who, ',' ORDER BY who) AS w FROM ledger")
    const ms = performance.now() - ended.at
    expect(r.rows[0].w).toBe('b1,b2,committed before')
    const reopen = /"ms":(\d+),"msg":"reopened the database"/.exec(srv.output())
    console.log(
      `fault → FATAL: ${Math.round(ended.at - t0)} ms; FATAL → new connection's first answer: ${Math.round(ms)} ms (reopen ${reopen?.[1]} ms)`,
    )
    expect(ms).toBeLessThan(4000)
    const logged = srv
      .output()
      .split('\n')
      .filter((l) => l.includes('"statement":"SELECT critical()"'))
    expect(logged).toHaveLength(1)
    expect(JSON.parse(logged[0]!)).toMatchObject({ level: 50 })
  })
})
