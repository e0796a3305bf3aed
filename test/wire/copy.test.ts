// COPY FROM STDIN / TO STDOUT through psql \copy with large files, COPY errors, a client that vanishes
// mid-COPY, and backpressure: a slow reader of a 2 GB result keeps the server's memory bounded.
import { execFileSync } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cancelPacket } from '../helpers/clients.js'
import { fields, message, query, RawClient, rows, startupPacket } from '../helpers/raw.js'
import { startServer, type TestServer } from '../helpers/server.js'

let srv: TestServer
let dir: string
beforeAll(async () => {
  srv = await startServer()
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pyglite-copy-'))
})
afterAll(async () => {
  await srv?.stop()
  fs.rmSync(dir, { recursive: true, force: true })
})

const psql = (...cmds: string[]) =>
  execFileSync(
    'psql',
    ['-X', '-At', '-v', 'ON_ERROR_STOP=1', '-d', srv.url(), ...cmds.flatMap((c) => ['-c', c])],
    {
      encoding: 'utf8',
      stdio: 'pipe',
    },
  ).trim()

const md5 = (file: string) => crypto.createHash('md5').update(fs.readFileSync(file)).digest('hex')

/** RSS of the server process in MiB (its engine thread included). */
function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))
  return Number(m?.[1]) / 1024
}

describe('psql \\copy', () => {
  const N = 400_000

  it('copies a large file in and out unchanged', () => {
    const src = path.join(dir, 'in.tsv')
    const lines: string[] = []
    for (let i = 1; i <= N; i++)
      lines.push(`${i}\tname ${i} ünïcödé\t${(i * 0.25).toFixed(2)}\t${i % 7 === 0 ? '\\N' : 'x'}`)
    fs.writeFileSync(src, `${lines.join('\n')}\n`)
    psql('CREATE TABLE big(id int, name text, amount numeric, note text)')
    expect(psql(`\\copy big from '${src}'`)).toBe(`COPY ${N}`)
    expect(psql('SELECT count(*), sum(id), sum(amount), count(note) FROM big')).toBe(
      `${N}|${(N * (N + 1)) / 2}|${((N * (N + 1)) / 2) * 0.25}.00|${N - Math.floor(N / 7)}`,
    )
    const out = path.join(dir, 'out.tsv')
    expect(psql(`\\copy (SELECT * FROM big ORDER BY id) to '${out}'`)).toBe(`COPY ${N}`)
    expect(md5(out)).toBe(md5(src))
  }, 120_000)

  it('reports a bad row with its line and keeps nothing of that COPY', () => {
    const src = path.join(dir, 'bad.tsv')
    const lines: string[] = []
    for (let i = 1; i <= 50_000; i++) lines.push(i === 30_000 ? 'oops\tx\t1\tx' : `${i}\tn\t1\tx`)
    fs.writeFileSync(src, `${lines.join('\n')}\n`)
    let err = ''
    try {
      psql(`\\copy big from '${src}'`)
    } catch (e) {
      err = String((e as { stderr: string }).stderr)
    }
    expect(err).toContain('ERROR:  invalid input syntax for type integer: "oops"')
    expect(err).toContain('CONTEXT:  COPY big, line 30000, column id: "oops"')
    expect(psql('SELECT count(*) FROM big')).toBe(String(N))
  })
})

describe('COPY and vanishing clients', () => {
  it('ends a COPY FROM STDIN whose client disconnected with an error: nothing is kept, others go on', async () => {
    await (await RawClient.login(srv.port)).c.query('CREATE TABLE half(v int)')
    const { c } = await RawClient.login(srv.port)
    c.write(query('COPY half FROM STDIN'))
    expect((await c.next())!.type).toBe('G')
    for (let i = 0; i < 100; i++) c.write(message('d', `${i}\n`))
    await new Promise((r) => setTimeout(r, 200))
    c.sock.destroy()
    const { c: d } = await RawClient.login(srv.port)
    expect(rows(await d.query('SELECT count(*) FROM half'))).toEqual([['0']])
    d.end()
  })

  it('cancels a COPY FROM STDIN that waits for data (CancelRequest), keeping nothing', async () => {
    const { c, startup } = await RawClient.login(srv.port)
    const k = startup.find((m) => m.type === 'K')!.body
    c.write(query('COPY half FROM STDIN'))
    expect((await c.next())!.type).toBe('G')
    c.write(message('d', '1\n2\n3\n'))
    await new Promise((r) => setTimeout(r, 200))
    const cancel = cancelPacket(k.readInt32BE(0), k.readInt32BE(4))
    const t0 = Date.now()
    const x = await RawClient.connect(srv.port)
    x.write(cancel)
    const msgs = await c.until('Z')
    expect(Date.now() - t0).toBeLessThan(2000)
    expect(fields(msgs.find((m) => m.type === 'E')!.body)).toMatchObject({ C: '57014' })
    expect(rows(await c.query('SELECT count(*) FROM half'))).toEqual([['0']])
    c.end()
  })

  it('COPY FROM STDIN fed in many small pieces, with a CopyFail at the end, reports the failure', async () => {
    const { c } = await RawClient.login(srv.port)
    c.write(query('COPY half FROM STDIN'))
    expect((await c.next())!.type).toBe('G')
    c.write(message('d', '1\n2\n'))
    await new Promise((r) => setTimeout(r, 100))
    c.write(message('f', 'changed my mind\0'))
    const msgs = await c.until('Z')
    expect(fields(msgs.find((m) => m.type === 'E')!.body)).toMatchObject({
      C: '57014',
      M: 'COPY from stdin failed: changed my mind',
    })
    expect(rows(await c.query('SELECT count(*) FROM half'))).toEqual([['0']])
    c.end()
  })
})

describe('backpressure', () => {
  /** Connects, sends a query, and counts the result bytes without keeping them. */
  function slowReader(sql: string) {
    const sock = net.connect(srv.port, srv.host)
    let bytes = 0
    let tail = Buffer.alloc(0)
    let startupDone = false
    const done = new Promise<void>((resolve, reject) => {
      sock.on('data', (d: Buffer) => {
        if (!startupDone) {
          tail = Buffer.concat([tail, d])
          if (tail.includes(Buffer.from([0x5a, 0, 0, 0, 5, 0x49]))) {
            startupDone = true
            tail = Buffer.alloc(0)
            sock.write(query(sql))
          }
          return
        }
        bytes += d.length
        tail = Buffer.concat([tail, d]).subarray(-6)
        if (tail.equals(Buffer.from([0x5a, 0, 0, 0, 5, 0x49]))) resolve()
      })
      sock.on('error', reject)
    })
    sock.on('connect', () => sock.write(startupPacket({ user: 'postgres', database: 'postgres' })))
    return { sock, done, bytes: () => bytes }
  }

  it('keeps memory bounded while a client reads a 2 GB result slowly, then delivers all of it', async () => {
    const pid = srv.proc.pid!
    const before = rssMiB(pid)
    const r = slowReader("SELECT repeat('x', 1000000) FROM generate_series(1, 2000)")
    await new Promise((res) => setTimeout(res, 1000))
    r.sock.pause() // a slow reader: the kernel buffers fill, then the server must stop producing
    await new Promise((res) => setTimeout(res, 3000))
    const paused = r.bytes()
    const during = rssMiB(pid)
    await new Promise((res) => setTimeout(res, 1000))
    expect(r.bytes()).toBe(paused) // nothing arrives while we do not read
    expect(during - before).toBeLessThan(200) // far below the 2 GB result
    r.sock.resume()
    await r.done
    // 2000 DataRows of 1e6 bytes (+ 11 bytes of header each), RowDescription, CommandComplete, ReadyForQuery
    expect(r.bytes()).toBeGreaterThan(2000 * 1_000_011)
    expect(r.bytes()).toBeLessThan(2000 * 1_000_011 + 200)
    r.sock.end()
  }, 180_000)

  it('frees the engine when a slow reader disappears mid-result', async () => {
    const r = slowReader("SELECT repeat('y', 1000000) FROM generate_series(1, 2000)")
    await new Promise((res) => setTimeout(res, 800))
    r.sock.pause()
    await new Promise((res) => setTimeout(res, 1500))
    r.sock.destroy()
    const t0 = Date.now()
    const { c } = await RawClient.login(srv.port)
    expect(rows(await c.query('SELECT 99'))).toEqual([['99']])
    expect(Date.now() - t0).toBeLessThan(10_000)
    c.end()
  }, 60_000)
})
