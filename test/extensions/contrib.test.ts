// The contrib extensions the pinned PGlite (0.5.16) ships, in a real pyglite server: listed in every
// database (also one made by CREATE DATABASE), each one created, used and dropped, still working after a
// restart, and the modules without a control file loadable with LOAD.
import { execFileSync, spawnSync } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServer, type TestServer } from '../helpers/server.js'

/** Every extension with a control file in PGlite 0.5.16's dist/*.tar.gz bundles (the spi bundle has four). */
const SHIPPED = [
  'amcheck',
  'autoinc',
  'bloom',
  'btree_gin',
  'btree_gist',
  'citext',
  'cube',
  'dict_int',
  'dict_xsyn',
  'earthdistance',
  'file_fdw',
  'fuzzystrmatch',
  'hstore',
  'insert_username',
  'intarray',
  'isn',
  'lo',
  'ltree',
  'moddatetime',
  'pageinspect',
  'pg_buffercache',
  'pg_freespacemap',
  'pg_logicalinspect',
  'pg_stat_statements',
  'pg_surgery',
  'pg_trgm',
  'pg_visibility',
  'pg_walinspect',
  'pgcrypto',
  'refint',
  'seg',
  'tablefunc',
  'tcn',
  'tsm_system_rows',
  'tsm_system_time',
  'unaccent',
  'uuid-ossp',
]

let srv: TestServer
beforeAll(async () => {
  srv = await startServer()
})
afterAll(async () => {
  await srv?.stop()
})

function sql(url: string, text: string): string {
  return execFileSync('psql', ['-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-d', url, '-c', text], {
    encoding: 'utf8',
  }).trim()
}

function psqlErr(url: string, text: string): string {
  return spawnSync('psql', ['-X', '-q', '-d', url, '-c', text], { encoding: 'utf8' }).stderr.trim()
}

/** PL/Python's transforms, which pyglite adds (docs/extensions.md), and its own numpy_plpython3u (docs/columns.md). */
const TRANSFORMS = ['hstore_plpython3u', 'jsonb_plpython3u', 'ltree_plpython3u', 'numpy_plpython3u']
const ALL = [...SHIPPED, ...TRANSFORMS].sort()

/** The shipped extensions and transforms a database lists (other pyglite extensions, e.g. multicorn, aside). */
const available = (url: string) =>
  sql(url, `SELECT name FROM pg_available_extensions ORDER BY name COLLATE "C"`)
    .split('\n')
    .filter((n) => ALL.includes(n))

describe('contrib extensions', () => {
  it('every shipped one is listed, and each is created, used and dropped', () => {
    const url = srv.url()
    expect(available(url)).toEqual(ALL)
    for (const e of ALL) {
      sql(url, `CREATE EXTENSION "${e}" CASCADE`)
      expect(sql(url, `SELECT count(*) FROM pg_extension WHERE extname = '${e}'`)).toBe('1')
      sql(url, `DROP EXTENSION "${e}" CASCADE`)
    }
    // CASCADE brought back what earthdistance and the transforms require
    sql(url, 'DROP EXTENSION cube, hstore, ltree')
    expect(sql(url, `SELECT string_agg(extname, ',' ORDER BY extname) FROM pg_extension`)).toBe(
      'plpgsql,plpython3u',
    )
    // the libraries without a control file load on demand
    expect(
      sql(url, `LOAD 'auto_explain'; LOAD 'passwordcheck'; LOAD 'pg_overexplain'; SELECT 'loaded'`),
    ).toBe('loaded')
    expect(psqlErr(url, `CREATE EXTENSION no_such_ext`)).toBe(
      'ERROR:  extension "no_such_ext" is not available\n' +
        'HINT:  The extension must first be installed on the system where PostgreSQL is running.',
    )
  })

  it('works: values, operators, indexes, in the default database', () => {
    const url = srv.url()
    sql(
      url,
      `CREATE EXTENSION hstore; CREATE EXTENSION pgcrypto; CREATE EXTENSION pg_trgm; CREATE EXTENSION "uuid-ossp"; CREATE EXTENSION citext; CREATE EXTENSION ltree; CREATE EXTENSION earthdistance CASCADE`,
    )
    sql(url, `CREATE TABLE docs (id int PRIMARY KEY, attrs hstore, title text, path ltree, email citext)`)
    sql(
      url,
      `INSERT INTO docs SELECT i, hstore('n', i::text) || hstore('even', (i % 2 = 0)::text), 'title number ' || i, ('top.s' || (i % 7))::ltree, 'User' || i || '@Example.com' FROM generate_series(1, 2000) i`,
    )
    sql(
      url,
      `CREATE INDEX ON docs USING gin (attrs); CREATE INDEX ON docs USING gist (title gist_trgm_ops); CREATE INDEX ON docs USING gist (path)`,
    )
    expect(sql(url, `SELECT count(*) FROM docs WHERE attrs @> 'even=>true'`)).toBe('1000')
    expect(sql(url, `SELECT id FROM docs WHERE email = 'user77@example.COM'`)).toBe('77')
    expect(sql(url, `SELECT count(*) FROM docs WHERE path <@ 'top.s3'`)).toBe('286')
    expect(sql(url, `SELECT title FROM docs ORDER BY title <-> 'title numbr 1999' LIMIT 1`)).toBe(
      'title number 1999',
    )
    expect(sql(url, `SELECT encode(hmac('data', 'key', 'sha256'), 'hex')`)).toBe(
      '5031fe3d989c6d1537a013fa6e739da23463fdaec3b70137d828e36ace221bd0',
    )
    expect(sql(url, `SELECT crypt('pw', gen_salt('bf', 4)) ~ '^\\$2a\\$04\\$'`)).toBe('t')
    expect(sql(url, `SELECT uuid_generate_v5(uuid_ns_url(), 'https://example.com')`)).toBe(
      '4fd35a71-71ef-5a55-a9d9-aa75c889a6d0',
    )
    expect(
      sql(
        url,
        `SELECT round(earth_distance(ll_to_earth(52.52, 13.40), ll_to_earth(48.86, 2.35))::numeric / 1000)`,
      ),
    ).toBe('878') // as on PostgreSQL 15
  })

  it('after a restart the databases that use them still work', async () => {
    const dataDir = srv.dataDir
    await srv.stop()
    srv = await startServer({ dataDir })
    const url = srv.url()
    expect(sql(url, `SELECT count(*) FROM docs WHERE attrs -> 'n' = '5'`)).toBe('1')
    expect(
      sql(url, `SET enable_seqscan = off; SELECT count(*) FROM docs WHERE title % 'title number 12'`),
    ).not.toBe('0')
    expect(sql(url, `SELECT extname FROM pg_extension WHERE extname = 'hstore'`)).toBe('hstore')
  }, 120_000)

  it('CREATE DATABASE: listed and usable there too, independently', () => {
    sql(srv.url(), 'CREATE DATABASE ext_other')
    const url = srv.url('ext_other')
    expect(available(url)).toEqual(ALL)
    expect(sql(url, `SELECT count(*) FROM pg_extension WHERE extname = 'hstore'`)).toBe('0')
    sql(url, `CREATE EXTENSION fuzzystrmatch; CREATE EXTENSION cube`)
    expect(
      sql(url, `SELECT levenshtein('kitten', 'sitting'), soundex('Robert'), cube_dim('(1,2,3)'::cube)`),
    ).toBe('3|R163|3')
  }, 120_000)
})
