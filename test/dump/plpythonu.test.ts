// LANGUAGE plpythonu (PostgreSQL 14 and older's name for PL/Python) on a fresh pyglite database: it comes
// with the plpython3u extension, functions made with it are stored as plpython3u, so pg_dump 18.6's output
// restores into PostgreSQL 15 + plpython3u (which has no plpythonu); and a dump in the style of
// PostgreSQL 14 (CREATE EXTENSION plpythonu, LANGUAGE plpythonu) restores into pyglite.
import { execFileSync, spawnSync } from 'node:child_process'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { dumpServers } from '../helpers/reference.js'
import { startServer } from '../helpers/server.js'

const PG15 = '/usr/lib/postgresql/15/bin'

const servers = dumpServers()

function sql(url: string, text: string): string {
  return execFileSync(`${PG15}/psql`, ['-X', '-At', '-v', 'ON_ERROR_STOP=1', '-d', url, '-c', text], {
    encoding: 'utf8',
  }).trim()
}

function restore(url: string, script: string) {
  const r = spawnSync(`${PG15}/psql`, ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url], {
    input: script,
    encoding: 'utf8',
  })
  return { status: r.status, stderr: r.stderr }
}

const langOf = (url: string, fn: string) =>
  sql(
    url,
    `SELECT l.lanname FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang WHERE p.oid = '${fn}'::regproc`,
  )

describe('LANGUAGE plpythonu', () => {
  it('works on a fresh database without CREATE EXTENSION: functions, procedures, DO blocks', () => {
    const url = servers.glite.url()
    expect(sql(url, `SELECT extname FROM pg_extension ORDER BY 1`)).toBe('plpgsql\nplpython3u')
    expect(sql(url, `SELECT lanname FROM pg_language WHERE lanname LIKE 'plpython%' ORDER BY 1`)).toBe(
      'plpython3u\nplpythonu',
    )
    sql(
      url,
      `CREATE FUNCTION pyu_ver() RETURNS int LANGUAGE plpythonu AS $$ import sys; return sys.version_info[0] $$`,
    )
    expect(sql(url, 'SELECT pyu_ver()')).toBe('3')
    // stored as the language it runs in, dependency included (DROP EXTENSION … CASCADE finds it)
    expect(langOf(url, 'pyu_ver')).toBe('plpython3u')
    expect(
      sql(
        url,
        `SELECT l.lanname FROM pg_depend d JOIN pg_language l ON l.oid = d.refobjid
         WHERE d.objid = 'pyu_ver'::regproc AND d.refclassid = 'pg_language'::regclass`,
      ),
    ).toBe('plpython3u')
    sql(url, `CREATE PROCEDURE pyu_proc(INOUT n int) LANGUAGE plpythonu AS $$ return [n * 2] $$`)
    expect(sql(url, 'CALL pyu_proc(21)')).toBe('42')
    const r = spawnSync(
      `${PG15}/psql`,
      ['-X', '-q', '-d', url, '-c', `DO $$ plpy.notice('from plpythonu') $$ LANGUAGE plpythonu`],
      {
        encoding: 'utf8',
      },
    )
    expect(r.stderr).toBe('NOTICE:  from plpythonu\n')
    // the validator still compiles the body
    const bad = spawnSync(
      `${PG15}/psql`,
      [
        '-X',
        '-q',
        '-d',
        url,
        '-c',
        'CREATE FUNCTION pyu_bad() RETURNS int LANGUAGE plpythonu AS $$ return = $$',
      ],
      { encoding: 'utf8' },
    )
    expect(bad.stderr).toMatch(
      /^ERROR: {2}could not compile PL\/Python function "pyu_bad"\nDETAIL: {2}SyntaxError/,
    )
    // CREATE EXTENSION plpythonu, as older dumps say, is accepted
    sql(url, 'CREATE EXTENSION IF NOT EXISTS plpythonu')
    sql(url, 'DROP EXTENSION plpythonu')
  })

  it("pyglite's pg_dump 18.6 output restores into PostgreSQL 15 with ON_ERROR_STOP", () => {
    const dump = execFileSync(path.join(servers.pg18, 'pg_dump'), ['-d', servers.glite.url()], {
      encoding: 'utf8',
    })
    expect(dump).not.toMatch(/plpythonu/)
    expect(dump).toContain('LANGUAGE plpython3u')
    sql(servers.ref.url, 'CREATE DATABASE from_pyglite_u')
    const url = servers.ref.url.replace(/\/postgres$/, '/from_pyglite_u')
    const r = restore(url, dump.replace(/^SET transaction_timeout = 0;\n/m, ''))
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
    expect(sql(url, 'SELECT pyu_ver()')).toBe('3')
    expect(sql(url, 'CALL pyu_proc(4)')).toBe('8')
  }, 120_000)

  it('a data directory made before plpythonu joined plpython3u gets it at the next start', async () => {
    // the state such a directory is in: plpython3u without the plpythonu language
    sql(
      servers.glite.url(),
      `ALTER EXTENSION plpython3u DROP LANGUAGE plpythonu; ALTER EXTENSION plpython3u DROP FUNCTION plpython_validator(oid);
       DROP LANGUAGE plpythonu; DROP FUNCTION plpython_validator(oid)`,
    )
    expect(sql(servers.glite.url(), `SELECT count(*) FROM pg_language WHERE lanname = 'plpythonu'`)).toBe('0')
    const dataDir = servers.glite.dataDir
    await servers.glite.stop()
    servers.glite = await startServer({ dataDir })
    expect(
      sql(
        servers.glite.url(),
        `SELECT e.extname FROM pg_language l JOIN pg_depend d ON d.objid = l.oid AND d.classid = 'pg_language'::regclass
         JOIN pg_extension e ON e.oid = d.refobjid WHERE l.lanname = 'plpythonu' AND d.deptype = 'e'`,
      ),
    ).toBe('plpython3u')
    sql(servers.glite.url(), `CREATE FUNCTION pyu_again() RETURNS int LANGUAGE plpythonu AS $$ return 5 $$`)
    expect(sql(servers.glite.url(), 'SELECT pyu_again()')).toBe('5')
    expect(langOf(servers.glite.url(), 'pyu_again')).toBe('plpython3u')
  }, 120_000)

  it('a PostgreSQL 14-style dump (CREATE EXTENSION plpythonu, LANGUAGE plpythonu) restores into pyglite', () => {
    const old = `SET check_function_bodies = false;
CREATE EXTENSION IF NOT EXISTS plpythonu WITH SCHEMA pg_catalog;
COMMENT ON EXTENSION plpythonu IS 'PL/PythonU untrusted procedural language';
CREATE FUNCTION public.from14(x integer) RETURNS integer
    LANGUAGE plpythonu
    AS $$ return x + 14 $$;
`
    sql(servers.glite.url(), 'CREATE DATABASE from14')
    const url = servers.glite.url().replace(/\/postgres(\?|$)/, '/from14$1')
    const r = restore(url, old)
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
    expect(sql(url, 'SELECT from14(1)')).toBe('15')
    expect(langOf(url, 'from14')).toBe('plpython3u')
  }, 120_000)
})
