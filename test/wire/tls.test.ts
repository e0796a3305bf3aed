// TLS: with --tls-cert/--tls-key the server answers SSLRequest with S and speaks TLS (SCRAM inside it);
// clients that do not ask for TLS still connect in the clear. Direct TLS (PostgreSQL 17+, libpq's
// sslnegotiation=direct) needs ALPN "postgresql", and a server without TLS closes such a connection quietly.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import tls from 'node:tls'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { pg18Bin } from '../helpers/reference.js'
import { startServer, type TestServer } from '../helpers/server.js'

let srv: TestServer
let dir: string
beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pyglite-tls-'))
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-subj',
      '/CN=localhost',
      '-keyout',
      path.join(dir, 'key.pem'),
      '-out',
      path.join(dir, 'cert.pem'),
    ],
    { stdio: 'ignore' },
  )
  srv = await startServer({
    args: [
      '--tls-cert',
      path.join(dir, 'cert.pem'),
      '--tls-key',
      path.join(dir, 'key.pem'),
      '--auth',
      'scram-sha-256',
      '--password',
      'tls-pw',
    ],
  })
})
afterAll(async () => {
  await srv?.stop()
  fs.rmSync(dir, { recursive: true, force: true })
})

const psql = (sslmode: string, sql: string) =>
  execFileSync(
    'psql',
    [
      '-X',
      '-At',
      '-d',
      `host=${srv.host} port=${srv.port} user=postgres dbname=postgres sslmode=${sslmode}`,
      '-c',
      sql,
    ],
    { encoding: 'utf8', env: { ...process.env, PGPASSWORD: 'tls-pw' } },
  ).trim()

describe('TLS', () => {
  it('serves psql over TLS when asked (sslmode=require), in the clear otherwise', () => {
    const secure = execFileSync(
      'psql',
      [
        '-X',
        '-d',
        `host=${srv.host} port=${srv.port} user=postgres dbname=postgres sslmode=require`,
        '-c',
        '\\conninfo',
      ],
      { encoding: 'utf8', env: { ...process.env, PGPASSWORD: 'tls-pw' } },
    )
    expect(secure).toMatch(/SSL connection \(protocol: TLSv1\.[23]/)
    expect(psql('require', 'SELECT 6 * 7')).toBe('42')
    const clear = execFileSync(
      'psql',
      [
        '-X',
        '-d',
        `host=${srv.host} port=${srv.port} user=postgres dbname=postgres sslmode=disable`,
        '-c',
        '\\conninfo',
      ],
      { encoding: 'utf8', env: { ...process.env, PGPASSWORD: 'tls-pw' } },
    )
    expect(clear).not.toContain('SSL connection')
    expect(psql('disable', 'SELECT 1')).toBe('1')
  })

  it('serves node-postgres over TLS, large results included', async () => {
    const c = new pg.Client({
      host: srv.host,
      port: srv.port,
      user: 'postgres',
      password: 'tls-pw',
      database: 'postgres',
      ssl: { rejectUnauthorized: false },
    })
    await c.connect()
    const r = await c.query(
      "SELECT count(*)::int AS n, sum(length(repeat('z', i)))::int AS len FROM generate_series(1, 2000) i",
    )
    expect(r.rows).toEqual([{ n: 2000, len: 2001000 }])
    const big = await c.query("SELECT repeat('q', 5000000) AS s")
    expect(big.rows[0].s.length).toBe(5_000_000)
    await c.end()
  })

  it('direct TLS: node-postgres with sslNegotiation direct (ALPN postgresql), SCRAM inside', async () => {
    const c = new pg.Client({
      host: srv.host,
      port: srv.port,
      user: 'postgres',
      password: 'tls-pw',
      database: 'postgres',
      ssl: { rejectUnauthorized: false },
      sslNegotiation: 'direct',
    } as pg.ClientConfig)
    await c.connect()
    const r = await c.query('SELECT ssl, version FROM pg_catalog.pg_stat_ssl WHERE pid = pg_backend_pid()')
    expect((await c.query('SELECT 6 * 7 AS x')).rows).toEqual([{ x: 42 }])
    await c.end()
    expect(r.rows.length).toBeLessThanOrEqual(1)
  })

  it('direct TLS: libpq 18 (pg_dump) with sslnegotiation=direct', () => {
    const bin = pg18Bin()
    const out = execFileSync(
      path.join(bin, 'pg_dump'),
      [
        '--schema-only',
        '-d',
        `host=${srv.host} port=${srv.port} user=postgres dbname=postgres sslmode=require sslnegotiation=direct`,
      ],
      { encoding: 'utf8', env: { ...process.env, PGPASSWORD: 'tls-pw' } },
    )
    expect(out).toContain('PostgreSQL database dump complete')
  })

  it('direct TLS without ALPN: the handshake completes, then the server closes without a word', async () => {
    const mark = srv.output().length
    const sock = tls.connect({ host: srv.host, port: srv.port, rejectUnauthorized: false })
    const got: Buffer[] = []
    sock.on('data', (d) => got.push(d))
    await new Promise((r) => sock.once('secureConnect', r))
    const closed = await new Promise<boolean>((r) => {
      sock.once('close', () => r(true))
      setTimeout(() => r(false), 10_000)
    })
    expect(closed).toBe(true)
    expect(Buffer.concat(got).length).toBe(0)
    expect(srv.output().slice(mark)).not.toMatch(/"level":(40|50)/)
  })
})

describe('direct TLS on a server without TLS', () => {
  let plain: TestServer
  beforeAll(async () => {
    plain = await startServer()
  })
  afterAll(async () => {
    await plain?.stop()
  })

  it('is refused as PostgreSQL refuses it: the connection closes, nothing is sent', async () => {
    const c = new pg.Client({
      host: plain.host,
      port: plain.port,
      user: 'postgres',
      database: 'postgres',
      ssl: { rejectUnauthorized: false },
      sslNegotiation: 'direct',
    } as pg.ClientConfig)
    await expect(c.connect()).rejects.toThrow()
    const raw = net.connect(plain.port, plain.host)
    const got: Buffer[] = []
    raw.on('data', (d) => got.push(d))
    await new Promise((r) => raw.once('connect', r))
    raw.write(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5]))
    await new Promise((r) => raw.once('close', r))
    expect(Buffer.concat(got).length).toBe(0)
    const ok = new pg.Client(plain.url())
    await ok.connect()
    expect((await ok.query('SELECT 1 AS x')).rows).toEqual([{ x: 1 }])
    await ok.end()
  })
})
