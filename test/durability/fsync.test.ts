// Commits reach stable storage: PostgreSQL's WAL flush at COMMIT becomes a real fsync(2) of the WAL
// segment (NODEFS had none: src/engine/storage/durable.ts), and it happens before the client hears "COMMIT".
// Proven with strace on the real server: every CommandComplete written to the client's socket follows
// an fsync of a pg_wal file. With --fsync off there is none (the documented trade-off).
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import { startServer, type TestServer } from '../helpers/server.js'
import { canStrace, psql, strace } from './util.js'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pyglite-fsync-'))
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }))

/** Run `statements` one by one over one connection while strace watches fsyncs and socket writes. */
async function traced(srv: TestServer, statements: string[], name: string): Promise<string[]> {
  const c = new pg.Client({ connectionString: srv.url() })
  await c.connect()
  try {
    const t = await strace(srv.proc.pid!, ['fsync', 'fdatasync', 'write', 'writev'], path.join(tmp, name))
    for (const s of statements) await c.query(s)
    await new Promise((r) => setTimeout(r, 100))
    return await t.stop()
  } finally {
    await c.end()
  }
}

const walFsync = (l: string) => /\b(fsync|fdatasync)\(\d+<[^>]*\/pg_wal\/[0-9A-F]{24}>\) = 0/.test(l)
// strace -f splits a call that overlaps another thread's traced call: "PID fsync(N<…/pg_wal/…> <unfinished
// ...>", later "PID <... fsync resumed>) = 0"; the flush counts where it completed
const walFsyncStarts = (l: string) =>
  /\b(fsync|fdatasync)\(\d+<[^>]*\/pg_wal\/[0-9A-F]{24}> <unfinished \.\.\.>/.test(l)
const fsyncResumedOk = (l: string) => /<\.\.\. (fsync|fdatasync) resumed>\) += 0\b/.test(l)
const tid = (l: string) => l.slice(0, l.indexOf(' '))
const reply = (l: string, tag: string) =>
  /\bwritev?\(\d+<TCP:/.test(l) && l.includes(`C\\0\\0\\0`) && l.includes(tag)

describe('fsync', () => {
  it('is on by default, through wal_sync_method=fsync, with synchronous_commit and full_page_writes on', async () => {
    const srv = await startServer()
    try {
      expect(
        psql(
          srv.url(),
          "SELECT string_agg(name || '=' || setting, ' ' ORDER BY name) FROM pg_settings WHERE name IN ('fsync', 'wal_sync_method', 'synchronous_commit', 'full_page_writes')",
        ),
      ).toBe('fsync=on full_page_writes=on synchronous_commit=on wal_sync_method=fsync')
    } finally {
      await srv.stop()
    }
  }, 60_000)

  it.skipIf(!canStrace)(
    'flushes the WAL with fsync(2) before each COMMIT is acknowledged',
    async () => {
      const srv = await startServer()
      try {
        psql(srv.url(), 'CREATE TABLE f(id int)')
        const stmts = ['INSERT INTO f VALUES (1)', 'INSERT INTO f VALUES (2)', 'INSERT INTO f VALUES (3)']
        const lines = await traced(srv, [...stmts, 'BEGIN', 'INSERT INTO f VALUES (4)', 'COMMIT'], 'on.txt')
        // walk the trace in order: each acknowledgement needs a WAL fsync since the previous one
        const acks: Array<{ tag: string; synced: boolean }> = []
        let synced = false
        const flushing = new Set<string>() // threads inside an unfinished WAL fsync
        for (const l of lines) {
          if (walFsync(l)) synced = true
          else if (walFsyncStarts(l)) flushing.add(tid(l))
          else if (flushing.delete(tid(l)) && fsyncResumedOk(l)) synced = true
          for (const tag of ['INSERT 0 1', 'COMMIT'])
            if (reply(l, tag)) {
              acks.push({ tag, synced })
              synced = false
            }
        }
        expect(acks).toEqual([
          { tag: 'INSERT 0 1', synced: true },
          { tag: 'INSERT 0 1', synced: true },
          { tag: 'INSERT 0 1', synced: true },
          { tag: 'INSERT 0 1', synced: false }, // inside BEGIN: nothing to flush yet
          { tag: 'COMMIT', synced: true },
        ])
        expect(psql(srv.url(), 'SELECT count(*) FROM f')).toBe('4')
      } finally {
        await srv.stop()
      }
    },
    90_000,
  )

  it.skipIf(!canStrace)(
    'with --fsync off, commits are not flushed (and SHOW fsync says so)',
    async () => {
      const srv = await startServer({ args: ['--fsync', 'off'] })
      try {
        expect(psql(srv.url(), 'SHOW fsync')).toBe('off')
        psql(srv.url(), 'CREATE TABLE f(id int)')
        const lines = await traced(srv, ['INSERT INTO f VALUES (1)', 'INSERT INTO f VALUES (2)'], 'off.txt')
        expect(lines.filter((l) => reply(l, 'INSERT 0 1'))).toHaveLength(2)
        expect(lines.filter((l) => walFsync(l) || walFsyncStarts(l))).toEqual([])
      } finally {
        await srv.stop()
      }
    },
    90_000,
  )
})
