// Security model: plpython3u is an untrusted language (only superusers create functions in it, as in
// PostgreSQL), a plain role reads only what it was granted and cannot become someone else, passwords
// never reach the server's log (at trace level, over SCRAM, md5 and cleartext logins, right and wrong),
// and TLS with sslmode=verify-full works given the CA (psql and node-postgres), and fails for a wrong CA
// or host name.
import { execFileSync, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fields, message, RawClient, startupPacket } from '../helpers/raw.js'
import { startServer, type TestServer } from '../helpers/server.js'

const SUPER_PW = 'Super-secret-0'
const SECRETS = [
  'Super-secret-0',
  'alice-secret-1',
  'bob-secret-2',
  'carol-secret-3',
  'wrong-secret-4',
  'failing-secret-5',
  'altered-secret-6',
]

/** psql as `user`; each element of `sql` is its own -c (one session, separate transactions). */
function psql(port: number, user: string, password: string, sql: string | string[], extra = '') {
  const cs = (Array.isArray(sql) ? sql : [sql]).flatMap((q) => ['-c', q])
  return spawnSync(
    'psql',
    [
      '-X',
      '-At',
      '-v',
      'ON_ERROR_STOP=1',
      '-d',
      `host=127.0.0.1 port=${port} user=${user} dbname=postgres ${extra}`,
      ...cs,
    ],
    { encoding: 'utf8', env: { ...process.env, PGPASSWORD: password, PGSSLMODE: 'disable' } },
  )
}

/** Run as `user`; returns stdout, or throws with psql's stderr. */
function ok(port: number, user: string, password: string, sql: string | string[]): string {
  const r = psql(port, user, password, sql)
  if (r.status !== 0) throw new Error(r.stderr)
  return r.stdout.trim()
}

/** The ERROR psql prints for `sql` as `user`. */
function denied(port: number, user: string, password: string, sql: string | string[]): string {
  const r = psql(port, user, password, sql)
  expect(r.status, r.stdout).not.toBe(0)
  return r.stderr.trim()
}

describe('roles and privileges', () => {
  let srv: TestServer
  const logs: string[] = []
  beforeAll(async () => {
    srv = await startServer({
      args: ['--auth', 'scram-sha-256', '--password', SUPER_PW, '--log-level', 'trace'],
    })
    ok(
      srv.port,
      'postgres',
      SUPER_PW,
      `CREATE ROLE alice LOGIN PASSWORD 'alice-secret-1';
       GRANT CREATE ON SCHEMA public TO alice;
       CREATE TABLE payroll(name text, salary int); INSERT INTO payroll VALUES ('boss', 100);
       CREATE TABLE menu(dish text); INSERT INTO menu VALUES ('soup'); GRANT SELECT ON menu TO alice;
       CREATE FUNCTION py_add(a int, b int) RETURNS int LANGUAGE plpython3u AS 'return a + b';`,
    )
  })
  afterAll(async () => {
    if (srv) logs.push(srv.output())
    await srv?.stop()
  })

  it('only superusers create plpython3u functions and DO blocks (untrusted language), others 42501', async () => {
    expect(
      ok(srv.port, 'postgres', SUPER_PW, "SELECT lanpltrusted FROM pg_language WHERE lanname = 'plpython3u'"),
    ).toBe('f')
    expect(
      denied(
        srv.port,
        'alice',
        'alice-secret-1',
        "CREATE FUNCTION mine() RETURNS int LANGUAGE plpython3u AS 'return 1'",
      ),
    ).toBe('ERROR:  permission denied for language plpython3u')
    expect(denied(srv.port, 'alice', 'alice-secret-1', "DO 'plpy.notice(1)' LANGUAGE plpython3u")).toBe(
      'ERROR:  permission denied for language plpython3u',
    )
    // with the SQLSTATE, through node-postgres
    {
      const c = new pg.Client({
        host: '127.0.0.1',
        port: srv.port,
        user: 'alice',
        password: 'alice-secret-1',
        database: 'postgres',
      })
      await c.connect()
      const e = await c.query("CREATE FUNCTION mine() RETURNS int LANGUAGE plpython3u AS 'return 1'").then(
        () => null,
        (x: pg.DatabaseError) => x,
      )
      expect([e?.code, e?.message]).toEqual(['42501', 'permission denied for language plpython3u'])
      // a plpgsql function is fine (a trusted language), and an existing Python function can be called
      await c.query("CREATE FUNCTION twice(x int) RETURNS int LANGUAGE sql AS 'SELECT x * 2'")
      expect((await c.query('SELECT twice(21) AS v, py_add(1, 2) AS w')).rows).toEqual([{ v: 42, w: 3 }])
      await c.end()
    }
  })

  it('a plain role reads only what it was granted and cannot become another role', () => {
    expect(ok(srv.port, 'alice', 'alice-secret-1', 'SELECT dish FROM menu')).toBe('soup')
    expect(denied(srv.port, 'alice', 'alice-secret-1', 'SELECT * FROM payroll')).toBe(
      'ERROR:  permission denied for table payroll',
    )
    for (const [sql, msg] of [
      ['SET ROLE postgres', 'ERROR:  permission denied to set role "postgres"'],
      [
        'SET SESSION AUTHORIZATION postgres',
        'ERROR:  permission denied to set session authorization "postgres"',
      ],
      ["SELECT set_config('role', 'postgres', false)", 'ERROR:  permission denied to set role "postgres"'],
      [
        "SELECT set_config('session_authorization', 'postgres', false)",
        'ERROR:  permission denied to set session authorization "postgres"',
      ],
      ['ALTER ROLE alice SUPERUSER', 'ERROR:  permission denied to alter role'],
      ['SET ROLE postgres; SELECT * FROM payroll', 'ERROR:  permission denied to set role "postgres"'],
    ] as const)
      expect(denied(srv.port, 'alice', 'alice-secret-1', sql).split('\n')[0]).toBe(msg)
    // RESET/DISCARD do not give the superuser back; the session stays alice all along
    expect(
      ok(srv.port, 'alice', 'alice-secret-1', [
        'RESET SESSION AUTHORIZATION',
        'RESET ROLE',
        'DISCARD ALL',
        'SELECT current_user, session_user',
      ])
        .split('\n')
        .pop(),
    ).toBe('alice|alice')
    expect(denied(srv.port, 'alice', 'alice-secret-1', ['RESET ROLE', 'SELECT * FROM payroll'])).toBe(
      'ERROR:  permission denied for table payroll',
    )
    // a superuser's session afterwards is unaffected by alice's attempts
    expect(ok(srv.port, 'postgres', SUPER_PW, 'SELECT current_user, salary FROM payroll')).toBe(
      'postgres|100',
    )
  })

  it('passwords never reach the log (SCRAM, right and wrong; CREATE/ALTER ROLE; a failing statement)', () => {
    ok(
      srv.port,
      'postgres',
      SUPER_PW,
      "SET password_encryption = 'md5'; CREATE ROLE bob LOGIN PASSWORD 'bob-secret-2'",
    )
    ok(srv.port, 'postgres', SUPER_PW, "CREATE ROLE carol LOGIN; ALTER ROLE carol PASSWORD 'carol-secret-3'")
    ok(srv.port, 'postgres', SUPER_PW, "ALTER ROLE alice WITH PASSWORD 'altered-secret-6'")
    ok(srv.port, 'postgres', SUPER_PW, "ALTER ROLE alice WITH PASSWORD 'alice-secret-1'")
    const failing = psql(srv.port, 'postgres', SUPER_PW, "ALTER ROLE nobody PASSWORD 'failing-secret-5'")
    expect(failing.stderr).toContain('role "nobody" does not exist')
    expect(ok(srv.port, 'carol', 'carol-secret-3', 'SELECT current_user')).toBe('carol')
    for (const u of ['alice', 'carol', 'postgres', 'nobody'])
      expect(psql(srv.port, u, 'wrong-secret-4', 'SELECT 1').stderr).toContain(
        `FATAL:  password authentication failed for user "${u}"`,
      )
    // bob's secret is MD5: under scram-sha-256 authentication it cannot log in (as PostgreSQL)
    expect(psql(srv.port, 'bob', 'bob-secret-2', 'SELECT 1').stderr).toContain(
      'password authentication failed for user "bob"',
    )
    const out = srv.output()
    expect(out).toContain('"msg":"connection authorized"') // the log is there, at trace level
    for (const s of SECRETS) expect(out, s).not.toContain(s)
  })

  it('malformed SCRAM exchanges never authenticate and end in FATAL; the server lives on', async () => {
    const i32 = (n: number) => {
      const b = Buffer.alloc(4)
      b.writeInt32BE(n)
      return b
    }
    const initial = (mech: string, data: Buffer | null) =>
      message(
        'p',
        Buffer.concat([Buffer.from(`${mech}\0`), data ? Buffer.concat([i32(data.length), data]) : i32(-1)]),
      )
    const first = (s: string | Buffer) => initial('SCRAM-SHA-256', Buffer.from(s))
    const cases: Array<[string, Buffer[]]> = [
      ['unknown mechanism', [initial('SCRAM-SHA-1', Buffer.from('n,,n=,r=abc'))]],
      ['no data', [initial('SCRAM-SHA-256', null)]],
      ['garbage', [first('garbage')]],
      [
        'length past the end',
        [message('p', Buffer.concat([Buffer.from('SCRAM-SHA-256\0'), i32(0x7fffffff), Buffer.from('x')]))],
      ],
      ['channel binding without TLS', [first('p=tls-server-end-point,,n=,r=abc')]],
      ['invalid UTF-8 nonce', [first(Buffer.from([...Buffer.from('n,,n=,r='), 0xff, 0xfe]))]],
      ['empty message', [message('p')]],
      [
        'wrong nonce in the final message',
        [first('n,,n=,r=abcdefgh'), message('p', 'c=biws,r=wrong,p=AAAA')],
      ],
      ['binary final message', [first('n,,n=,r=abcdefgh'), message('p', Buffer.from([0xff, 0, 1, 2]))]],
      [
        'a forged proof',
        [
          first('n,,n=,r=abcdefgh'),
          message('p', `c=biws,r=abcdefgh,p=${Buffer.alloc(32).toString('base64')}`),
        ],
      ],
      ['a query instead', [message('Q', 'SELECT 1\0')]],
    ]
    for (const [label, msgs] of cases) {
      const c = await RawClient.connect(srv.port)
      c.write(startupPacket({ user: 'alice', database: 'postgres' }))
      const seen: string[] = []
      let fatal: Record<string, string> | undefined
      for (let step = 0; ; step++) {
        const m = await c.next(10_000)
        if (!m) break
        if (m.type === 'R') {
          const code = m.body.readInt32BE(0)
          seen.push(`R${code}`)
          expect(code, label).not.toBe(0) // never AuthenticationOk
          // answer each challenge with the case's next message; when they run out, a wrong final message
          c.write(msgs[step] ?? message('p', 'c=biws,r=x,p=AAAA'))
        } else if (m.type === 'E') fatal = fields(m.body)
      }
      expect(fatal?.S, label).toBe('FATAL')
      expect(['08P01', '28P01'], `${label}: ${JSON.stringify(fatal)}`).toContain(fatal?.C)
      expect(seen[0], label).toBe('R10')
    }
    expect(ok(srv.port, 'alice', 'alice-secret-1', 'SELECT current_user')).toBe('alice')
  })

  it('md5 and cleartext password logins (right and wrong) log no password either', async () => {
    const dataDir = srv.dataDir
    await srv.stop()
    logs.push(srv.output())
    for (const auth of ['md5', 'password']) {
      const s = await startServer({ dataDir, args: ['--auth', auth, '--log-level', 'trace'] })
      try {
        expect(ok(s.port, 'bob', 'bob-secret-2', 'SELECT current_user')).toBe('bob')
        expect(ok(s.port, 'alice', 'alice-secret-1', 'SELECT current_user')).toBe('alice') // SCRAM secret
        for (const u of ['alice', 'bob'])
          expect(psql(s.port, u, 'wrong-secret-4', 'SELECT 1').stderr).toContain(
            `FATAL:  password authentication failed for user "${u}"`,
          )
        const c = new pg.Client({
          host: '127.0.0.1',
          port: s.port,
          user: 'bob',
          password: 'bob-secret-2',
          database: 'postgres',
        })
        await c.connect()
        expect((await c.query('SELECT session_user AS u')).rows).toEqual([{ u: 'bob' }])
        await c.end()
        const out = s.output()
        for (const x of SECRETS) expect(out, `${auth}: ${x}`).not.toContain(x)
        logs.push(out)
      } finally {
        await s.stop()
      }
    }
    srv = await startServer({ dataDir, args: ['--auth', 'scram-sha-256', '--log-level', 'trace'] })
  }, 120_000)
})

describe('TLS with sslmode=verify-full', () => {
  let dir: string
  let srv: TestServer
  const f = (n: string) => path.join(dir, n)
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' })
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pyglite-ca-'))
    // a CA, a server certificate for 127.0.0.1 and localhost signed by it, and a second, unrelated CA
    for (const ca of ['ca', 'other-ca'])
      openssl(
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '2',
        '-subj',
        `/CN=pyglite test ${ca}`,
        '-keyout',
        f(`${ca}.key`),
        '-out',
        f(`${ca}.pem`),
      )
    const cert = (name: string, cn: string, san: string) => {
      openssl(
        'req',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-subj',
        `/CN=${cn}`,
        '-keyout',
        f(`${name}.key`),
        '-out',
        f(`${name}.csr`),
      )
      fs.writeFileSync(f(`${name}.ext`), `subjectAltName=${san}\n`)
      openssl(
        'x509',
        '-req',
        '-in',
        f(`${name}.csr`),
        '-CA',
        f('ca.pem'),
        '-CAkey',
        f('ca.key'),
        '-CAcreateserial',
        '-days',
        '2',
        '-extfile',
        f(`${name}.ext`),
        '-out',
        f(`${name}.pem`),
      )
    }
    cert('server', 'localhost', 'IP:127.0.0.1,DNS:localhost')
    srv = await startServer({
      args: [
        '--tls-cert',
        f('server.pem'),
        '--tls-key',
        f('server.key'),
        '--auth',
        'scram-sha-256',
        '--password',
        SUPER_PW,
      ],
    })
  })
  afterAll(async () => {
    await srv?.stop()
    fs.rmSync(dir, { recursive: true, force: true })
  })

  const tlsPsql = (host: string, rootcert: string, mode = 'verify-full') =>
    spawnSync(
      'psql',
      [
        '-X',
        '-At',
        '-d',
        `host=${host} port=${srv.port} user=postgres dbname=postgres sslmode=${mode} sslrootcert=${rootcert}`,
        '-c',
        'SELECT 6 * 7',
      ],
      {
        encoding: 'utf8',
        env: { ...process.env, PGPASSWORD: SUPER_PW },
      },
    )

  it('psql: verify-full with the CA works for 127.0.0.1 and localhost; a wrong CA or host name fails', () => {
    for (const host of ['127.0.0.1', 'localhost']) {
      const r = tlsPsql(host, f('ca.pem'))
      expect(r.stderr).toBe('')
      expect(r.stdout.trim()).toBe('42')
    }
    const wrongCa = tlsPsql('127.0.0.1', f('other-ca.pem'))
    expect(wrongCa.status).not.toBe(0)
    expect(wrongCa.stderr).toMatch(/certificate verify failed/)
    // the same server reached under a name its certificate does not carry
    const s2 = spawnSync(
      'psql',
      [
        '-X',
        '-At',
        '-d',
        `host=db.example.com hostaddr=127.0.0.1 port=${srv.port} user=postgres dbname=postgres sslmode=verify-full sslrootcert=${f('ca.pem')}`,
        '-c',
        'SELECT 1',
      ],
      {
        encoding: 'utf8',
        env: { ...process.env, PGPASSWORD: SUPER_PW },
      },
    )
    expect(s2.status).not.toBe(0)
    expect(s2.stderr).toMatch(
      /server certificate for "(localhost|127\.0\.0\.1)" \(and \d+ other names?\) does not match host name "db\.example\.com"/,
    )
  })

  it('node-postgres: verify with the CA works; a wrong CA or server name is refused', async () => {
    const connect = async (ssl: object, host = '127.0.0.1') => {
      const c = new pg.Client({
        host,
        port: srv.port,
        user: 'postgres',
        password: SUPER_PW,
        database: 'postgres',
        ssl,
      })
      try {
        await c.connect()
        const r = await c.query('SELECT 6 * 7 AS v')
        return r.rows[0].v as number
      } finally {
        await c.end().catch(() => {})
      }
    }
    const ca = fs.readFileSync(f('ca.pem'), 'utf8')
    expect(await connect({ ca, rejectUnauthorized: true })).toBe(42)
    expect(await connect({ ca, rejectUnauthorized: true, servername: 'localhost' }, 'localhost')).toBe(42)
    await expect(
      connect({ ca: fs.readFileSync(f('other-ca.pem'), 'utf8'), rejectUnauthorized: true }),
    ).rejects.toThrow(
      /self[- ]signed certificate in certificate chain|unable to verify|unable to get local issuer/,
    )
    await expect(connect({ ca, rejectUnauthorized: true, servername: 'db.example.com' })).rejects.toThrow(
      /does not match|not in the cert's altnames|Hostname\/IP does not match/,
    )
  })
})
