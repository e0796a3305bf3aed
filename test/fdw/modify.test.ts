// Writes to Python foreign tables on the real server with node-postgres: insert, bulk_insert in batches
// of modify_batch_size, update(rowid, new values) and delete(rowid) as multicorn2 calls them, the
// transaction callbacks (begin, pre_commit, commit, rollback on ROLLBACK), and IMPORT FOREIGN SCHEMA.
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { ROOT, startServer, type TestServer } from '../helpers/server.js'

let srv: TestServer
let c: pg.Client

async function log(): Promise<unknown[]> {
  return JSON.parse((await c.query('SELECT fdwlog() AS l')).rows[0].l)
}

beforeAll(async () => {
  srv = await startServer({ args: ['--python-path', path.join(ROOT, 'test', 'fdw', 'python')] })
  c = new pg.Client(srv.url())
  await c.connect()
  await c.query(`
    CREATE EXTENSION multicorn;
    CREATE FUNCTION fdwlog() RETURNS text LANGUAGE plpython3u AS $$
      import fdwtests, json
      r = json.dumps(fdwtests.LOG, default=str)
      fdwtests.LOG.clear()
      return r $$;
    CREATE SERVER sink FOREIGN DATA WRAPPER multicorn OPTIONS (wrapper 'fdwtests.Sink');
    CREATE FOREIGN TABLE fs (id int, v text) SERVER sink;
    CREATE FOREIGN TABLE fsb (id int, v text) SERVER sink OPTIONS (batch '100');`)
  await log()
}, 120_000)

afterAll(async () => {
  await c?.end()
  await srv?.stop()
})

it('inserts, commits at pre_commit, and rolls back on ROLLBACK', async () => {
  await c.query("INSERT INTO fs VALUES (1, 'a'), (2, 'b')")
  expect(await log()).toEqual([['begin', false], ['end_modify'], ['pre_commit', 2], ['commit']])
  expect((await c.query('SELECT * FROM fs ORDER BY id')).rows).toEqual([
    { id: 1, v: 'a' },
    { id: 2, v: 'b' },
  ])
  await log()
  await c.query('BEGIN')
  await c.query("INSERT INTO fs VALUES (3, 'c')")
  await c.query('ROLLBACK')
  expect(await log()).toEqual([['begin', false], ['end_modify'], ['rollback', 1]])
  expect((await c.query('SELECT count(*)::int AS n FROM fs')).rows).toEqual([{ n: 2 }])
})

it('sends INSERT … SELECT to bulk_insert in batches of modify_batch_size', async () => {
  await log()
  await c.query("INSERT INTO fsb SELECT g, 'x' || g FROM generate_series(1, 251) g")
  expect(await log()).toEqual([
    ['begin', false],
    ['bulk_insert', 100],
    ['bulk_insert', 100],
    ['bulk_insert', 51],
    ['end_modify'],
    ['pre_commit', 251],
    ['commit'],
  ])
})

it('updates and deletes by rowid', async () => {
  await log()
  await c.query("UPDATE fs SET v = 'B' WHERE id = 2")
  await c.query('DELETE FROM fs WHERE id = 1')
  const l = (await log()) as unknown[][]
  expect(l).toContainEqual([
    'update',
    2,
    [
      ['id', 2],
      ['v', 'B'],
    ],
  ])
  expect(l).toContainEqual(['delete', 1])
})

it('imports a foreign schema from import_schema', async () => {
  await log()
  await c.query(
    "IMPORT FOREIGN SCHEMA remote LIMIT TO (alpha, gamma) FROM SERVER sink INTO public OPTIONS (o '1')",
  )
  expect(await log()).toEqual([['import_schema', 'remote', [], [['o', '1']], 'limit', ['alpha', 'gamma']]])
  const r =
    await c.query(`SELECT c.relname, ft.ftoptions FROM pg_foreign_table ft JOIN pg_class c ON c.oid = ft.ftrelid
    WHERE c.relname IN ('alpha', 'beta', 'gamma') ORDER BY 1`)
  expect(r.rows).toEqual([
    { relname: 'alpha', ftoptions: ['source=remote.alpha'] },
    { relname: 'gamma', ftoptions: ['source=remote.gamma'] },
  ])
})

it('calls sub_begin/sub_rollback/sub_commit for savepoints', async () => {
  await log()
  await c.query('BEGIN')
  await c.query("INSERT INTO fs VALUES (10, 'x')")
  await c.query('SAVEPOINT a')
  await c.query("INSERT INTO fs VALUES (11, 'y')")
  await c.query('ROLLBACK TO SAVEPOINT a')
  await c.query('SAVEPOINT b')
  await c.query("INSERT INTO fs VALUES (12, 'z')")
  await c.query('RELEASE SAVEPOINT b')
  await c.query('COMMIT')
  const l = ((await log()) as unknown[][]).filter((e) => e[0] !== 'end_modify')
  expect(l).toEqual([
    ['begin', false],
    ['sub_begin', 2],
    ['sub_rollback', 2],
    // ROLLBACK TO keeps savepoint a (level 2); b is level 3 inside it; COMMIT releases a
    ['sub_begin', 2],
    ['sub_begin', 3],
    ['sub_commit', 3],
    ['sub_commit', 2],
    ['pre_commit', 3],
    ['commit'],
  ])
})

it('aborts the transaction when pre_commit fails, warns when commit fails, reports bulk_insert errors', async () => {
  await c.query(`CREATE FOREIGN TABLE fs_pre (id int, v text) SERVER sink OPTIONS (fail 'pre_commit');
    CREATE FOREIGN TABLE fs_commit (id int, v text) SERVER sink OPTIONS (fail 'commit');
    CREATE FOREIGN TABLE fs_bulk (id int, v text) SERVER sink OPTIONS (fail 'bulk_insert', batch '10')`)
  await log()
  const e = await c.query("INSERT INTO fs_pre VALUES (1, 'a')").catch((x) => x)
  expect([e.code, e.message, e.detail]).toEqual([
    'XX000',
    'Error in python: RuntimeError',
    'remote refused the commit',
  ])
  expect(((await log()) as unknown[][]).map((x) => x[0])).toEqual([
    'begin',
    'end_modify',
    'pre_commit',
    'rollback',
  ])
  const notices: string[] = []
  const onNotice = (n: { message?: string }) => notices.push(String(n.message))
  c.on('notice', onNotice)
  await c.query("INSERT INTO fs_commit VALUES (1, 'a')")
  c.off('notice', onNotice)
  expect(notices).toEqual(['Error in python: RuntimeError'])
  await log()
  const e2 = await c.query("INSERT INTO fs_bulk SELECT g, 'v' FROM generate_series(1, 25) g").catch((x) => x)
  expect([e2.code, e2.message, e2.detail]).toEqual(['XX000', 'Error in python: ValueError', 'sink is full'])
  expect(e2.where).toMatch(/in bulk_insert\n {4}raise ValueError\("sink is full"\)/)
  expect(((await log()) as unknown[][]).map((x) => x[0])).toEqual(['begin', 'bulk_insert', 'rollback'])
})

it('keeps the row insert() returns (RETURNING shows what the foreign side stored)', async () => {
  await c.query("CREATE FOREIGN TABLE fs_ret (id int, v text) SERVER sink OPTIONS (fail 'returning')")
  const r = await c.query("INSERT INTO fs_ret VALUES (7, 'a') RETURNING id, v")
  expect(r.rows).toEqual([{ id: 7, v: 'stored:a' }])
  const r2 = await c.query("INSERT INTO fs VALUES (8, 'b') RETURNING id, v")
  expect(r2.rows).toEqual([{ id: 8, v: 'b' }])
})

it('takes COPY FROM into a foreign table, in batches', async () => {
  await log()
  const r = spawnSync(
    '/usr/lib/postgresql/15/bin/psql',
    ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', srv.url(), '-c', 'COPY fsb FROM STDIN'],
    {
      input: Array.from({ length: 150 }, (_, i) => `${i + 1000}\tcopied ${i}`).join('\n') + '\n',
      encoding: 'utf8',
    },
  )
  expect(r.stderr).toBe('')
  expect(r.status).toBe(0)
  expect(((await log()) as unknown[][]).filter((e) => e[0] !== 'begin')).toEqual([
    ['bulk_insert', 100],
    ['bulk_insert', 50],
    ['end_modify'],
    ['pre_commit', 150],
    ['commit'],
  ])
})
