// pg_dump 18.6 of a pyglite database with Python foreign tables, restored into another pyglite: the
// multicorn extension, servers with their wrapper and options, user mappings, foreign tables with table
// and column options all come back, and the restored tables scan. The dump's DDL has the shape
// PostgreSQL + multicorn2 accepts (same extension, wrapper, option names); multicorn2 cannot be installed
// on this machine's PostgreSQL 15, so it is checked for its statements, not run there.
import { execFileSync, spawnSync } from 'node:child_process'
import path from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { pg18Bin } from '../helpers/reference.js'
import { ROOT, startServer, type TestServer } from '../helpers/server.js'

const PG15 = '/usr/lib/postgresql/15/bin'
const ARGS = ['--python-path', path.join(ROOT, 'test', 'fdw', 'python')]

let a: TestServer
let b: TestServer
let pg18: string

function sql(url: string, text: string): string {
  return execFileSync(`${PG15}/psql`, ['-X', '-At', '-v', 'ON_ERROR_STOP=1', '-d', url, '-c', text], {
    encoding: 'utf8',
  }).trim()
}

const CATALOG = `
  SELECT 'server ' || srvname || ' ' || (SELECT string_agg(o, ',' ORDER BY o) FROM unnest(srvoptions) o) FROM pg_foreign_server
  UNION ALL SELECT 'mapping ' || srvname || ' ' || usename || ' ' || (SELECT string_agg(o, ',' ORDER BY o) FROM unnest(umoptions) o) FROM pg_user_mappings
  UNION ALL SELECT 'table ' || ftrelid::regclass || ' ' || (SELECT string_agg(o, ',' ORDER BY o) FROM unnest(ftoptions) o) FROM pg_foreign_table
  UNION ALL SELECT 'column ' || attrelid::regclass || '.' || attname || ' ' || (SELECT string_agg(o, ',' ORDER BY o) FROM unnest(attfdwoptions) o)
    FROM pg_attribute WHERE attfdwoptions IS NOT NULL
  ORDER BY 1`

beforeAll(async () => {
  ;[a, b] = await Promise.all([startServer({ args: ARGS }), startServer({ args: ARGS })])
  pg18 = pg18Bin()
  sql(
    a.url(),
    `CREATE EXTENSION multicorn;
     CREATE SERVER nums FOREIGN DATA WRAPPER multicorn OPTIONS (wrapper 'fdwtests.Numbers', count '4');
     CREATE USER MAPPING FOR postgres SERVER nums OPTIONS (token 's3cret');
     CREATE USER MAPPING FOR PUBLIC SERVER nums OPTIONS (token 'public');
     CREATE SCHEMA remote;
     CREATE FOREIGN TABLE remote.ft (n int OPTIONS (source 'N'), sq bigint, "La bel" text) SERVER nums
       OPTIONS (shape 'tuple', "odd key" 'it''s');`,
  )
}, 600_000)

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()])
})

it('restores servers, user mappings, foreign tables and their options', () => {
  const dump = execFileSync(path.join(pg18, 'pg_dump'), ['-d', a.url()], { encoding: 'utf8' })
  // the statements PostgreSQL + multicorn2 would be given
  expect(dump).toContain('CREATE EXTENSION IF NOT EXISTS multicorn WITH SCHEMA public;')
  // (pg_dump 18 writes options sorted by name)
  expect(dump).toContain(
    "CREATE SERVER nums FOREIGN DATA WRAPPER multicorn OPTIONS (\n    count '4',\n    wrapper 'fdwtests.Numbers'\n);",
  )
  expect(dump).toContain("CREATE USER MAPPING FOR postgres SERVER nums OPTIONS (\n    token 's3cret'\n);")
  expect(dump).toContain("CREATE USER MAPPING FOR public SERVER nums OPTIONS (\n    token 'public'\n);")
  expect(dump).toContain(
    'CREATE FOREIGN TABLE remote.ft (\n    n integer,\n    sq bigint,\n    "La bel" text\n)\nSERVER nums\n' +
      "OPTIONS (\n    \"odd key\" 'it''s',\n    shape 'tuple'\n);\n" +
      "ALTER FOREIGN TABLE ONLY remote.ft ALTER COLUMN n OPTIONS (\n    source 'N'\n);",
  )
  expect(dump).not.toMatch(/CREATE FUNCTION .*multicorn_handler|CREATE FOREIGN DATA WRAPPER/)
  const r = spawnSync(`${PG15}/psql`, ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', b.url()], {
    input: dump,
    encoding: 'utf8',
  })
  expect(r.stderr).toBe('')
  expect(r.status).toBe(0)
  expect(sql(b.url(), CATALOG)).toBe(sql(a.url(), CATALOG))
  expect(sql(b.url(), "SELECT string_agg(n || ':' || sq, ',' ORDER BY n) FROM remote.ft")).toBe(
    '1:1,2:4,3:9,4:16',
  )
})
