// Authentication against pg_authid and the session's role: SCRAM-SHA-256 (default), md5, password,
// trust; --password; wrong passwords (28P01), roles that cannot log in, unknown roles and databases; a
// non-superuser cannot become anyone else, and PostgreSQL enforces its privileges.
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import pg from 'pg'
import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServer, type TestServer } from '../helpers/server.js'

const run = promisify(execFile)

/** psql with a password in the environment; resolves stdout, or rejects with stderr. */
async function psql(srv: TestServer, user: string, password: string, sql: string, db = 'postgres') {
  try {
    const r = await run(
      'psql',
      [
        '-X',
        '-At',
        '-v',
        'ON_ERROR_STOP=1',
        '-h',
        srv.host,
        '-p',
        String(srv.port),
        '-U',
        user,
        '-d',
        db,
        '-c',
        sql,
      ],
      { env: { ...process.env, PGPASSWORD: password } },
    )
    return r.stdout.trim()
  } catch (e) {
    throw new Error(String((e as { stderr: string }).stderr).trim())
  }
}

const client = (srv: TestServer, user: string, password: string) =>
  new pg.Client({ host: srv.host, port: srv.port, user, password, database: 'postgres' })

describe('scram-sha-256 (the default) with --password', () => {
  let srv: TestServer
  beforeAll(async () => {
    srv = await startServer({ args: ['--auth', 'scram-sha-256', '--password', 'sup3r secret'] })
    await psql(
      srv,
      'postgres',
      'sup3r secret',
      `CREATE ROLE app LOGIN PASSWORD 'app-pw';
       CREATE ROLE nologin PASSWORD 'x';
       CREATE ROLE legacy LOGIN;
       SET password_encryption = 'md5'; ALTER ROLE legacy PASSWORD 'old-pw';
       CREATE ROLE expired LOGIN PASSWORD 'x' VALID UNTIL '2001-01-01';
       CREATE TABLE secret_t(v int); INSERT INTO secret_t VALUES (42);
       CREATE TABLE shared_t(v int); GRANT SELECT ON shared_t TO app; INSERT INTO shared_t VALUES (7)`,
    )
  })
  afterAll(async () => {
    await srv?.stop()
  })

  it('stores SCRAM secrets in pg_authid', async () => {
    const rows = await psql(
      srv,
      'postgres',
      'sup3r secret',
      "SELECT rolname, left(rolpassword, 14) FROM pg_authid WHERE rolname IN ('postgres', 'app') ORDER BY 1",
    )
    expect(rows).toBe('app|SCRAM-SHA-256$\npostgres|SCRAM-SHA-256$')
  })

  it('logs a role created through pyglite in with SCRAM; the session runs as that role', async () => {
    expect(
      await psql(
        srv,
        'app',
        'app-pw',
        'SELECT current_user, session_user, current_setting($$is_superuser$$)',
      ),
    ).toBe('app|app|off')
    expect(await psql(srv, 'app', 'app-pw', 'SELECT v FROM shared_t')).toBe('7')
    await expect(psql(srv, 'app', 'app-pw', 'SELECT v FROM secret_t')).rejects.toThrow(
      'permission denied for table secret_t',
    )
  })

  it('refuses a wrong password, an unknown role and a role without LOGIN as PostgreSQL does', async () => {
    for (const [user, pw, code, msg] of [
      ['app', 'wrong', '28P01', 'password authentication failed for user "app"'],
      ['postgres', 'not it', '28P01', 'password authentication failed for user "postgres"'],
      ['ghost', 'x', '28P01', 'password authentication failed for user "ghost"'],
      ['legacy', 'old-pw', '28P01', 'password authentication failed for user "legacy"'], // md5 secret: no SCRAM
      ['expired', 'x', '28P01', 'password authentication failed for user "expired"'],
      ['nologin', 'x', '28000', 'role "nologin" is not permitted to log in'],
    ] as const) {
      const c = client(srv, user, pw)
      const e = await c.connect().catch((x) => x)
      expect([user, e.code, e.message]).toEqual([user, code, msg])
      await c.end().catch(() => {})
    }
  })

  it('reports an unknown database after a successful login (3D000)', async () => {
    await expect(psql(srv, 'app', 'app-pw', 'SELECT 1', 'elsewhere')).rejects.toThrow(
      'FATAL:  database "elsewhere" does not exist',
    )
  })

  it('keeps a non-superuser in its role: no SET SESSION AUTHORIZATION, RESET, set_config or SET ROLE escape', async () => {
    const c = client(srv, 'app', 'app-pw')
    await c.connect()
    for (const sql of [
      'SET SESSION AUTHORIZATION postgres',
      "SELECT set_config('session_authorization', 'postgres', false)",
      'SET ROLE postgres',
    ]) {
      const e = await c.query(sql).catch((x) => x)
      expect([sql, e.code]).toEqual([sql, '42501'])
    }
    await c.query('RESET SESSION AUTHORIZATION')
    await c.query('RESET ROLE')
    await c.query('DISCARD ALL')
    const r = await c.query(
      "SELECT current_user AS c, session_user AS s, current_setting('is_superuser') AS su",
    )
    expect(r.rows).toEqual([{ c: 'app', s: 'app', su: 'off' }])
    // only superusers may create functions in untrusted languages
    const e = await c
      .query('CREATE FUNCTION app_f() RETURNS int LANGUAGE plpython3u AS $$return 1$$')
      .catch((x) => x)
    expect(e.code).toBe('42501')
    await c.end()
  })

  it('does not let one session switch change another session role (interleaved roles)', async () => {
    const sup = client(srv, 'postgres', 'sup3r secret')
    const app = client(srv, 'app', 'app-pw')
    await sup.connect()
    await app.connect()
    for (let i = 0; i < 5; i++) {
      const [a, b] = await Promise.all([
        app.query('SELECT current_user AS u, (SELECT count(*) FROM shared_t)::int AS n'),
        sup.query('SELECT current_user AS u, (SELECT v FROM secret_t) AS v'),
      ])
      expect(a.rows).toEqual([{ u: 'app', n: 1 }])
      expect(b.rows).toEqual([{ u: 'postgres', v: 42 }])
    }
    // a superuser's SET ROLE stays in its own session
    await sup.query('SET ROLE app')
    expect((await app.query('SELECT current_user AS u')).rows[0].u).toBe('app')
    expect((await sup.query('SELECT current_user AS u')).rows[0].u).toBe('app')
    await sup.query('RESET ROLE')
    expect((await sup.query('SELECT current_user AS u')).rows[0].u).toBe('postgres')
    await sup.end()
    await app.end()
  })

  it('works with postgres.js (SCRAM) and a password changed while the server runs', async () => {
    await psql(srv, 'postgres', 'sup3r secret', "ALTER ROLE app PASSWORD 'new-pw'")
    const sql = postgres({
      host: srv.host,
      port: srv.port,
      user: 'app',
      password: 'new-pw',
      database: 'postgres',
    })
    expect((await sql`SELECT current_user AS u`)[0]!.u).toBe('app')
    await sql.end()
    await expect(psql(srv, 'app', 'app-pw', 'SELECT 1')).rejects.toThrow(
      'password authentication failed for user "app"',
    )
  })
})

describe('md5 and password methods', () => {
  let srv: TestServer
  beforeAll(async () => {
    srv = await startServer({ args: ['--auth', 'md5', '--password', 'pw'] })
    await psql(srv, 'postgres', 'pw', "SET password_encryption = 'md5'; CREATE ROLE m LOGIN PASSWORD 'mpw'")
  })
  afterAll(async () => {
    await srv?.stop()
  })

  it('md5: logs in with an md5 secret, and with a SCRAM secret (PostgreSQL switches to SCRAM)', async () => {
    expect(await psql(srv, 'm', 'mpw', 'SELECT current_user')).toBe('m')
    expect(await psql(srv, 'postgres', 'pw', 'SELECT current_user')).toBe('postgres')
    await expect(psql(srv, 'm', 'bad', 'SELECT 1')).rejects.toThrow(
      'password authentication failed for user "m"',
    )
  })

  it('password: cleartext checked against SCRAM and md5 secrets', async () => {
    await srv.stop()
    srv = await startServer({ dataDir: srv.dataDir, args: ['--auth', 'password'] })
    expect(await psql(srv, 'm', 'mpw', 'SELECT 1')).toBe('1')
    expect(await psql(srv, 'postgres', 'pw', 'SELECT 2')).toBe('2')
    await expect(psql(srv, 'postgres', 'nope', 'SELECT 1')).rejects.toThrow(
      'password authentication failed for user "postgres"',
    )
  })
})
