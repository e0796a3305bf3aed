// Several databases on one server: CREATE DATABASE, connecting by name (node-postgres, psql), PL/Python in
// the new database, isolation, DROP DATABASE and its refusals with PostgreSQL's SQLSTATEs, a test
// framework's create/connect/drop loop, and databases kept across a restart.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { pg18Bin } from '../helpers/reference.js'
import { startServer, type TestServer } from '../helpers/server.js'

let srv: TestServer

const url = (db: string, user = 'postgres') =>
  `postgresql://${user}@${srv.host}:${srv.port}/${encodeURIComponent(db)}`

async function connect(db = 'postgres', user = 'postgres'): Promise<pg.Client> {
  const c = new pg.Client({ host: srv.host, port: srv.port, user, database: db })
  await c.connect()
  return c
}

async function withClient<T>(db: string, f: (c: pg.Client) => Promise<T>, user = 'postgres'): Promise<T> {
  const c = await connect(db, user)
  try {
    return await f(c)
  } finally {
    await c.end()
  }
}

/** The error a statement fails with (fails the test if it succeeds). */
async function failure(c: pg.Client, sql: string): Promise<pg.DatabaseError> {
  try {
    await c.query(sql)
  } catch (e) {
    return e as pg.DatabaseError
  }
  throw new Error(`expected an error from: ${sql}`)
}

const psql = (db: string, sql: string) =>
  execFileSync('psql', ['-X', '-At', '-v', 'ON_ERROR_STOP=1', '-d', url(db), '-c', sql], {
    encoding: 'utf8',
  }).trim()

beforeAll(async () => {
  srv = await startServer({ env: { PYGLITE_DB_IDLE_CLOSE_MS: '1500' } })
}, 120_000)

afterAll(async () => {
  await srv?.stop()
})

describe('CREATE DATABASE and connecting to it', () => {
  it('creates a database that accepts connections by name, with plpython3u ready and its own data', async () => {
    await withClient('postgres', async (c) => {
      const r = await c.query('CREATE DATABASE app_one')
      expect(r.command).toBe('CREATE')
      await c.query('CREATE TABLE only_in_postgres(x int)')
      await c.query(`CREATE FUNCTION whoami() RETURNS text LANGUAGE plpython3u AS $$ return 'postgres' $$`)
    })
    await withClient('app_one', async (c) => {
      expect((await c.query('SELECT current_database() AS d, current_user AS u')).rows).toEqual([
        { d: 'app_one', u: 'postgres' },
      ])
      await c.query(`CREATE FUNCTION whoami() RETURNS text LANGUAGE plpython3u AS $$
        return 'app_one:' + plpy.execute("SELECT current_database() AS d")[0]["d"] $$`)
      expect((await c.query('SELECT whoami() AS w')).rows).toEqual([{ w: 'app_one:app_one' }])
      const e = await failure(c, 'SELECT * FROM only_in_postgres')
      expect(e.code).toBe('42P01')
      await c.query("CREATE TABLE t AS SELECT 'one' AS v")
      const owner = await c.query(
        'SELECT pg_get_userbyid(datdba) AS o FROM pg_database WHERE datname = current_database()',
      )
      expect(owner.rows).toEqual([{ o: 'postgres' }])
    })
    // psql connects by name too; the initial database did not change
    expect(psql('app_one', 'SELECT v FROM t')).toBe('one')
    expect(psql('postgres', "SELECT whoami(), to_regclass('t') IS NULL")).toBe('postgres|t')
  }, 180_000) // the first CREATE DATABASE initialises the template cluster (initdb in wasm: 7-10 s idle, minutes at load 17)

  it('refuses what PostgreSQL refuses, with its SQLSTATEs', async () => {
    await withClient('postgres', async (c) => {
      await c.query('CREATE DATABASE app_dup')
      let e = await failure(c, 'CREATE DATABASE app_dup')
      expect([e.code, e.message]).toEqual(['42P04', 'database "app_dup" already exists'])
      e = await failure(c, 'CREATE DATABASE postgres')
      expect(e.code).toBe('42P04')
      // inside a transaction block PostgreSQL itself refuses, and the transaction is failed
      await c.query('BEGIN')
      e = await failure(c, 'CREATE DATABASE in_tx')
      expect([e.code, e.message]).toEqual(['25001', 'CREATE DATABASE cannot run inside a transaction block'])
      expect((await failure(c, 'SELECT 1')).code).toBe('25P02')
      await c.query('ROLLBACK')
      e = await failure(c, 'SELECT 1; DROP DATABASE app_dup')
      expect(e.code).toBe('25001')
      e = await failure(c, 'CREATE DATABASE bad_tpl TEMPLATE no_such_db')
      expect([e.code, e.message]).toEqual(['3D000', 'template database "no_such_db" does not exist'])
      e = await failure(c, 'CREATE DATABASE bad_opt WITH no_such_option = 1')
      expect([e.code, e.message]).toEqual(['42601', 'option "no_such_option" not recognized'])
      e = await failure(c, 'CREATE DATABASE bad_owner OWNER nobody_here')
      expect([e.code, e.message]).toEqual(['42704', 'role "nobody_here" does not exist'])
      e = await failure(c, 'DROP DATABASE no_such_db')
      expect([e.code, e.message]).toEqual(['3D000', 'database "no_such_db" does not exist'])
      const notices: string[] = []
      c.on('notice', (n) => notices.push(`${n.code} ${n.message}`))
      await c.query('DROP DATABASE IF EXISTS no_such_db')
      expect(notices).toEqual(['00000 database "no_such_db" does not exist, skipping'])
      e = await failure(c, 'DROP DATABASE postgres')
      expect([e.code, e.message]).toEqual(['55006', 'cannot drop the currently open database'])
      e = await failure(c, 'DROP DATABASE template1')
      expect([e.code, e.message]).toEqual(['42809', 'cannot drop a template database'])
      // the refused databases were not made; the client's session is fine
      expect((await c.query('SELECT 2 AS two')).rows).toEqual([{ two: 2 }])
    })
    const e = await connect('bad_opt').then(
      () => null,
      (err: pg.DatabaseError) => err,
    )
    expect([e?.code, e?.message]).toEqual(['3D000', 'database "bad_opt" does not exist'])
    await withClient('app_dup', async (c) => {
      expect((await failure(c, 'DROP DATABASE app_dup')).code).toBe('55006')
    })
  }, 180_000)

  it('checks the CREATEDB privilege and the owner, as the creating role', async () => {
    await withClient('postgres', async (c) => {
      await c.query('CREATE ROLE plain_user LOGIN')
      await c.query('CREATE ROLE maker LOGIN CREATEDB')
    })
    await withClient(
      'postgres',
      async (c) => {
        const e = await failure(c, 'CREATE DATABASE by_plain')
        expect([e.code, e.message]).toEqual(['42501', 'permission denied to create database'])
      },
      'plain_user',
    )
    await withClient(
      'postgres',
      async (c) => {
        const e = await failure(c, 'CREATE DATABASE by_maker OWNER plain_user')
        expect([e.code, e.message]).toEqual(['42501', 'must be able to SET ROLE "plain_user"'])
        await c.query('CREATE DATABASE by_maker')
      },
      'maker',
    )
    // the new database is the maker's; the role exists there and plain_user is created on connect
    await withClient(
      'by_maker',
      async (c) => {
        const r = await c.query(
          'SELECT pg_get_userbyid(datdba) AS o, current_user AS u FROM pg_database WHERE datname = current_database()',
        )
        expect(r.rows).toEqual([{ o: 'maker', u: 'maker' }])
        await c.query('CREATE TABLE mine(x int)')
      },
      'maker',
    )
    await withClient(
      'by_maker',
      async (c) => {
        expect((await c.query('SELECT current_user AS u')).rows).toEqual([{ u: 'plain_user' }])
        expect((await failure(c, 'SELECT * FROM mine')).code).toBe('42501')
        expect((await failure(c, 'DROP DATABASE postgres')).code).toBe('42501')
      },
      'plain_user',
    )
    await withClient('postgres', (c) => c.query('DROP DATABASE by_maker'), 'maker')
  }, 180_000)
})

describe('template1, the pg_database listing, pg_dumpall', () => {
  it('serves template1 as the template new databases copy, refusing CREATE DATABASE while it is in use', async () => {
    await withClient('template1', async (t) => {
      expect((await t.query('SELECT current_database() AS d')).rows).toEqual([{ d: 'template1' }])
      await t.query("CREATE TABLE from_template AS SELECT 'inherited' AS v")
      await withClient('postgres', async (c) => {
        const e = await failure(c, 'CREATE DATABASE while_busy')
        expect([e.code, e.message, e.detail]).toEqual([
          '55006',
          'source database "template1" is being accessed by other users',
          'There is 1 other session using the database.',
        ])
      })
    })
    await withClient('postgres', (c) => c.query('CREATE DATABASE from_tpl'))
    expect(psql('from_tpl', 'SELECT v FROM from_template')).toBe('inherited')
    await withClient('postgres', (c) => c.query('CREATE DATABASE from_tpl0 TEMPLATE template0'))
    expect(psql('from_tpl0', "SELECT to_regclass('from_template') IS NULL")).toBe('t')
    // template0 is pristine as in PostgreSQL: no plpython3u until someone creates it (pg_regress does)
    expect(psql('from_tpl0', "SELECT count(*) FROM pg_extension WHERE extname = 'plpython3u'")).toBe('0')
    expect(psql('from_tpl', "SELECT count(*) FROM pg_extension WHERE extname = 'plpython3u'")).toBe('1')
    await withClient('template1', (t) => t.query('DROP TABLE from_template'))
    await withClient('postgres', (c) => c.query('DROP DATABASE from_tpl0'))
  }, 180_000)

  it("lists every database in postgres's pg_database, and pg_dumpall dumps them all", async () => {
    const listed = () =>
      psql(
        'postgres',
        "SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database WHERE datname LIKE 'from_tpl%'",
      )
    const deadline = Date.now() + 20_000
    while (listed() !== 'from_tpl' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200))
    expect(listed()).toBe('from_tpl')
    await withClient('from_tpl', (c) => c.query("CREATE TABLE dumped AS SELECT 'in from_tpl' AS v"))
    const bin = pg18Bin()
    const dump = execFileSync(path.join(bin, 'pg_dumpall'), ['-d', url('postgres')], { encoding: 'utf8' })
    expect(dump).toMatch(/^\\connect template1$/m)
    expect(dump).toMatch(/^CREATE DATABASE from_tpl WITH TEMPLATE = template0 /m)
    expect(dump).toMatch(/^ALTER DATABASE from_tpl OWNER TO postgres;$/m)
    expect(dump).toMatch(/^\\connect from_tpl$/m)
    expect(dump).toContain('in from_tpl')
    await withClient('postgres', (c) => c.query('DROP DATABASE from_tpl'))
  }, 180_000)
})

describe('the extended query protocol (Parse/Bind/Execute/Sync, as pgJDBC sends it)', () => {
  it('creates and drops a database, and reports errors at Execute', async () => {
    await withClient('postgres', async (c) => {
      const ext = (text: string) => c.query({ text, queryMode: 'extended' } as pg.QueryConfig)
      expect((await ext('CREATE DATABASE app_ext')).command).toBe('CREATE')
      const e = await ext('CREATE DATABASE app_ext').then(
        () => null,
        (err: pg.DatabaseError) => [err.code, err.message],
      )
      expect(e).toEqual(['42P04', 'database "app_ext" already exists'])
      await withClient('app_ext', async (d) => {
        expect((await d.query('SELECT current_database() AS d')).rows).toEqual([{ d: 'app_ext' }])
      })
      expect((await ext('DROP DATABASE app_ext')).command).toBe('DROP')
      // the session goes on, and the name is free again
      expect((await ext('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
      const gone = await connect('app_ext').then(
        () => null,
        (err: pg.DatabaseError) => err.code,
      )
      expect(gone).toBe('3D000')
    })
  }, 180_000)
})

describe('DROP DATABASE', () => {
  it('refuses while others are connected (55006 with their number), and WITH (FORCE) ends them', async () => {
    await withClient('postgres', (c) => c.query('CREATE DATABASE busy_db'))
    const others = [await connect('busy_db'), await connect('busy_db')]
    const ended = others.map(
      (o) =>
        new Promise<string | undefined>((resolve) => {
          o.on('error', (e: Error) => resolve((e as pg.DatabaseError).code))
          o.on('end', () => resolve(undefined))
        }),
    )
    await withClient('postgres', async (c) => {
      const e = await failure(c, 'DROP DATABASE busy_db')
      expect([e.code, e.message, e.detail]).toEqual([
        '55006',
        'database "busy_db" is being accessed by other users',
        'There are 2 other sessions using the database.',
      ])
      await others[1]!.end()
      const e1 = await failure(c, 'DROP DATABASE busy_db')
      expect(e1.detail).toBe('There is 1 other session using the database.')
      await c.query('DROP DATABASE busy_db WITH (FORCE)')
    })
    expect(await ended[0]).toBe('57P01')
    const e = await connect('busy_db').then(
      () => null,
      (err: pg.DatabaseError) => err.code,
    )
    expect(e).toBe('3D000')
    expect(
      fs.readdirSync(srv.dataDir).filter((f) => f.startsWith('db-') && f.includes('627573795f6462')),
    ).toEqual([])
  }, 180_000)

  it('lets a test framework create, use and drop a database five times over', async () => {
    const admin = await connect('postgres')
    try {
      for (let i = 0; i < 5; i++) {
        await admin.query(`CREATE DATABASE "test_loop"`)
        await withClient('test_loop', async (c) => {
          await c.query('CREATE TABLE run(i int)')
          await c.query('INSERT INTO run VALUES ($1)', [i])
          await c.query(`CREATE FUNCTION twice(x int) RETURNS int LANGUAGE plpython3u AS 'return x * 2'`)
          // a fresh database each time: only this round's row
          expect((await c.query('SELECT array_agg(twice(i)) AS a FROM run')).rows).toEqual([{ a: [i * 2] }])
        })
        await admin.query('DROP DATABASE test_loop')
      }
    } finally {
      await admin.end()
    }
  }, 180_000)
})

describe('lifetime', () => {
  it('closes an idle database and reopens it on the next connection', async () => {
    await withClient('app_one', (c) => c.query("INSERT INTO t VALUES ('two')"))
    const deadline = Date.now() + 20_000
    while (!srv.output().includes('"db":"app_one","msg":"closed an idle database"') && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 200))
    expect(srv.output()).toContain('"db":"app_one","msg":"closed an idle database"')
    expect(psql('app_one', "SELECT string_agg(v, ',' ORDER BY v) FROM t")).toBe('one,two')
  }, 180_000)

  it('keeps created databases across a restart', async () => {
    await withClient('postgres', (c) => c.query('CREATE DATABASE "Kept DB/ü"'))
    await withClient('Kept DB/ü', (c) => c.query("CREATE TABLE k AS SELECT 'kept' AS v"))
    expect(await srv.stop()).toBe(0)
    srv = await startServer({ dataDir: srv.dataDir })
    expect(psql('Kept DB/ü', 'SELECT v, current_database() FROM k')).toBe('kept|Kept DB/ü')
    expect(psql('app_one', 'SELECT count(*) FROM t')).toBe('2')
    expect(
      psql('postgres', "SELECT count(*) FROM pg_database WHERE datname IN ('Kept DB/ü', 'app_one')"),
    ).toBe('2')
    expect(fs.existsSync(path.join(srv.dataDir, 'databases.json'))).toBe(true)
  }, 180_000)
})
