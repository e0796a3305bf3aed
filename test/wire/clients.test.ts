// Real drivers against the real server, each asserting the values it reads back: psql, node-postgres,
// postgres.js, psycopg2, psycopg 3 and asyncpg (Debian packages, /usr/bin/python3; asyncpg also against
// PostgreSQL 15), pgJDBC (Debian libpostgresql-jdbc-java, compiled and run with the JDK at test time).
import { execFileSync } from 'node:child_process'
import path from 'node:path'
import pg from 'pg'
import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runJdbcProgram } from '../helpers/clients.js'
import { type Reference, startReference } from '../helpers/reference.js'
import { ROOT, startServer, type TestServer } from '../helpers/server.js'

const HERE = path.join(ROOT, 'test/wire/clients')
let srv: TestServer
beforeAll(async () => {
  srv = await startServer()
})
/** PostgreSQL 15, started by the first test that compares with it */
let refStarted: Promise<Reference> | undefined
const reference = () => {
  refStarted ??= startReference()
  return refStarted
}
afterAll(async () => {
  await srv?.stop()
  if (refStarted) (await refStarted).stop()
})

const psql = (sql: string, extra: string[] = []) =>
  execFileSync('psql', ['-X', '-At', '-v', 'ON_ERROR_STOP=1', '-d', srv.url(), ...extra, '-c', sql], {
    encoding: 'utf8',
  }).trim()

describe('psql', () => {
  it('runs statements and reports errors with their SQLSTATE', () => {
    expect(psql("SELECT 1 + 1, 'ü', current_user")).toBe('2|ü|postgres')
    let err = ''
    try {
      execFileSync(
        'psql',
        ['-X', '-v', 'ON_ERROR_STOP=1', '-v', 'VERBOSITY=verbose', '-d', srv.url(), '-c', 'SELECT 1/0'],
        {
          encoding: 'utf8',
          stdio: 'pipe',
        },
      )
    } catch (e) {
      err = String((e as { stderr: string }).stderr)
    }
    expect(err).toContain('ERROR:  22012: division by zero')
  })

  it('describes tables (\\d uses the catalog queries psql 15 sends)', () => {
    psql('CREATE TABLE psql_t(id int PRIMARY KEY, note text NOT NULL)')
    const d = execFileSync('psql', ['-X', '-d', srv.url(), '-c', '\\d psql_t'], { encoding: 'utf8' })
    expect(d).toContain('Table "public.psql_t"')
    expect(d).toMatch(/note\s+\| text\s+\|\s+\| not null/)
    expect(d).toContain('"psql_t_pkey" PRIMARY KEY, btree (id)')
  })
})

describe('node-postgres', () => {
  it('uses parameters, types, named statements, transactions, notices and error fields', async () => {
    const c = new pg.Client({ connectionString: srv.url() })
    await c.connect()
    const notices: string[] = []
    c.on('notice', (n) => notices.push(n.message ?? ''))
    const r = await c.query('SELECT $1::int + 1 AS n, $2::text AS t, $3::jsonb AS j, now() > $4 AS later', [
      41,
      'x',
      { a: [1] },
      new Date('2000-01-01'),
    ])
    expect(r.rows).toEqual([{ n: 42, t: 'x', j: { a: [1] }, later: true }])
    await c.query('CREATE TABLE pg_t(v int)')
    await c.query('BEGIN')
    await c.query({ name: 'ins', text: 'INSERT INTO pg_t VALUES ($1)', values: [1] })
    await c.query({ name: 'ins', text: 'INSERT INTO pg_t VALUES ($1)', values: [2] })
    await c.query('ROLLBACK')
    expect((await c.query('SELECT count(*)::int AS n FROM pg_t')).rows[0].n).toBe(0)
    await c.query("DO $$ BEGIN RAISE NOTICE 'from the server'; END $$")
    expect(notices).toEqual(['from the server'])
    const e = await c.query('SELECT * FROM missing_table').catch((x) => x)
    expect(e.code).toBe('42P01')
    expect(e.message).toBe('relation "missing_table" does not exist')
    expect(e.position).toBe('15')
    await c.end()
  })
})

describe('postgres.js', () => {
  it('runs prepared queries, transactions and typed results', async () => {
    const sql = postgres(srv.url(), { max: 2, onnotice: () => {} })
    await sql`CREATE TABLE pjs_t(id int, at timestamptz, amount numeric)`
    await sql.begin(async (tx) => {
      for (let i = 0; i < 7; i++)
        await tx`INSERT INTO pjs_t VALUES (${i}, ${new Date(Date.UTC(2023, 0, 1 + i))}, ${`${i}.50`})`
    })
    const rows = await sql`SELECT id, at, amount FROM pjs_t WHERE id > ${4} ORDER BY id`
    expect(rows.map((r) => [r.id, (r.at as Date).toISOString(), r.amount])).toEqual([
      [5, '2023-01-06T00:00:00.000Z', '5.50'],
      [6, '2023-01-07T00:00:00.000Z', '6.50'],
    ])
    const err = await sql
      .begin(async (tx) => {
        await tx`INSERT INTO pjs_t(id) VALUES (100)`
        await tx`SELECT 1/0`
      })
      .catch((e) => e)
    expect(err.code).toBe('22012')
    expect((await sql`SELECT count(*)::int AS n FROM pjs_t WHERE id = 100`)[0]!.n).toBe(0)
    await sql.end()
  })
})

describe('psycopg2 and psycopg 3', () => {
  const py = (script: string) =>
    JSON.parse(execFileSync('/usr/bin/python3', [path.join(HERE, script), srv.url()], { encoding: 'utf8' }))

  it('psycopg2: connects (client encoding reported), converts types, reports errors and notices', () => {
    const r = py('psycopg2_check.py')
    expect(r.encoding).toBe('UTF8')
    expect(r.server_version).toBe(180006)
    expect(r.row).toEqual([
      '2024-01-02T03:04:05.678000+00:00',
      '1999-12-31',
      '3.14159265358979323846',
      '0001ff6279746573',
      { k: [1, 2, null] },
      [1, 2, 3],
    ])
    expect(r.error).toEqual(['42P01', 'relation "no_such_table" does not exist'])
    expect(r.notices).toEqual(['NOTICE:  note 7'])
    expect(r.tokyo).toBe('2024-01-02T12:04:05+09:00')
    expect(r.dict).toEqual({ one: 1, two: 'two' })
    expect(r.appname).toBe('')
  })

  it('psycopg 3: prepared + binary, pipeline mode, COPY both ways, named cursors, notices', () => {
    const r = py('psycopg3_check.py')
    expect(r.info).toEqual([180006, 'utf-8', 'on'])
    expect(r.binary).toEqual(['2020-05-17T12:00:05', '1.25', 'r5'])
    expect(r.pipeline).toEqual([6, '3.75', 'r5'])
    expect(r.copied).toBe(1000)
    expect(r.copy_out).toEqual([
      ['100', 'copied 100'],
      ['101', 'copied 101'],
      ['102', 'copied 102'],
    ])
    expect(r.named_cursor).toBe(1006)
    expect(r.notices).toEqual([['WARNING', 'careful']])
    expect(r.unique).toEqual(['23505', 'pg3_t_pkey'])
  })
})

describe('asyncpg', () => {
  const run = (url: string) =>
    JSON.parse(
      execFileSync('/usr/bin/python3', [path.join(HERE, 'asyncpg_check.py'), url], { encoding: 'utf8' }),
    )

  it('binary binds and COPY, statement cache, cursors, introspected types, LISTEN, cancel on timeout: as on PostgreSQL 15', async () => {
    const r = run(srv.url())
    expect(r.select).toBe(42)
    expect(r.row).toBe(
      "(Decimal('1.50'), '{\"k\": [1, 2]}', [1, 2, 3], datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc), UUID('00000000-0000-0000-0000-000000000007'), b'\\x00\\xff', 'héllo')",
    )
    expect(r.count).toBe(6)
    expect(r.copied).toBe("(Decimal('2'), [4], 'copied')")
    expect(r.cursor).toEqual([
      [2, 'x0'],
      [3, 'x1'],
      [4, 'x2'],
      [5, 'x3'],
      [6, 'x4'],
      [100, 'copied'],
    ])
    expect(r.described).toEqual([
      ['int4'],
      [
        ['id', 'int4'],
        ['t', 'text'],
      ],
    ])
    expect(r.error).toEqual(['DivisionByZeroError', '22012', 'division by zero'])
    expect(r.introspected).toEqual(['happy', "(1, 'a')", ['sad', 'happy'], 5])
    expect(r.plpython).toBe(42)
    expect(r.codec).toEqual({ a: [1, null] })
    expect(r.notify).toBe('hello')
    expect(r.timeout).toBe('cancelled')
    expect(r.after_cancel).toBe(2)
    expect(r).toEqual(run((await reference()).url))
  })
})

describe('pgJDBC', () => {
  it('reads binary timestamps right after 6+ executions, keeps statement names per connection', () => {
    const kv = runJdbcProgram(srv, path.join(HERE, 'PgJdbcCheck.java'), 'PgJdbcCheck', /\n| (?=names\.b=)/)
    for (let i = 1; i <= 8; i++) {
      expect(kv[`exec${i}.ts`], `execution ${i}`).toBe('2024-02-29T13:14:15.123456')
      expect(kv[`exec${i}.tz`], `execution ${i}`).toBe('2024-02-29T13:14:15.500Z')
      expect(kv[`exec${i}.n`]).toBe('12345678901234567890.123')
      expect(kv[`exec${i}.s`]).toBe('héllo')
    }
    expect(kv['names.a']).toBe('7')
    expect(kv['names.b']).toBe('x6b')
    expect(kv['error.state']).toBe('22012')
    expect(kv.count).toBe('1')
    expect(kv['b.appname']).toBe('PostgreSQL JDBC Driver')
  }, 120_000)

  it('answers DatabaseMetaData (what GUI tools ask: tables, columns, keys, indexes, routines) as PostgreSQL 15 does', async () => {
    const java = path.join(HERE, 'JdbcMetadata.java')
    const ours = runJdbcProgram(srv, java, 'JdbcMetadata')
    expect(ours.pk).toBe('COLUMN_NAME:id PK_NAME:child_pkey')
    expect(ours.fk).toBe(
      'PKTABLE_NAME:parent PKCOLUMN_NAME:id FKCOLUMN_NAME:parent_id FK_NAME:child_parent_id_fkey',
    )
    expect(ours.functions).toBe('FUNCTION_NAME:twice FUNCTION_TYPE:1')
    expect(ours.call).toBe('7')
    const u = new URL((await reference()).url)
    const theirs = runJdbcProgram({ ...srv, host: u.hostname, port: Number(u.port) }, java, 'JdbcMetadata')
    // getTypeInfo lists every type: PostgreSQL 18's catalog has other built-in ones than 15's
    const { types: _a, ...a } = ours
    const { types: _b, ...b } = theirs
    expect(a).toEqual(b)
  }, 120_000)
})
