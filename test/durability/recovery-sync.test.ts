// Crash recovery's flush of the data directory: after a SIGKILL the restart calls syncfs(2) on the cluster
// once, before PostgreSQL writes anything, instead of PostgreSQL's fsync of every file (fd.c
// SyncDataDirectory; src/engine/storage/durable.ts), and still flushes every file recovery writes. Proven
// on the real server under strace: the order of syncfs, writes and fsyncs is what power loss would see.
import { type ChildProcess, spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ROOT, startServer } from '../helpers/server.js'
import { canStrace, controlState, DB_IN_PRODUCTION, lockContents, psql } from './util.js'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pyglite-recovery-sync-'))
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }))

/** Start the server on `dataDir` under strace from its first instruction; resolves its port once listening. */
async function tracedStart(dataDir: string, file: string): Promise<{ proc: ChildProcess; port: number }> {
  const proc = spawn(
    'strace',
    [
      ...['-f', '-yy', '-s', '512', '-e', 'trace=syncfs,fsync,fdatasync,pwrite64,write', '-o', file],
      ...[process.execPath, path.join(ROOT, 'bin/pyglite.js'), '--port', '0', '--data-dir', dataDir],
      ...['--auth', 'trust', '--log-level', 'debug'],
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let out = ''
  proc.stdout!.on('data', (d) => (out += d))
  proc.stderr!.on('data', (d) => (out += d))
  const port = await new Promise<number>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`server did not start:\n${out}`)), 90_000)
    proc.stdout!.on('data', () => {
      const m = /"port":(\d+),"msg":"listening"/.exec(out)
      if (m) {
        clearTimeout(t)
        resolve(Number(m[1]))
      }
    })
    proc.once('exit', (code) => reject(new Error(`server exited ${code}:\n${out}`)))
  })
  return { proc, port }
}

/**
 * strace -f splits a call that overlaps another traced thread's: "PID call(args <unfinished ...>", later
 * "PID <... call resumed>) = result". Joined here, where the call completed.
 */
function joinSplitCalls(lines: string[]): string[] {
  const pending = new Map<string, string>()
  const out: string[] = []
  for (const l of lines) {
    const pid = l.slice(0, l.indexOf(' '))
    if (l.endsWith(' <unfinished ...>')) pending.set(pid, l.slice(0, -' <unfinished ...>'.length))
    else {
      const resumed = /^\d+ +<\.\.\. \w+ resumed>(.*)$/.exec(l)
      const start = pending.get(pid)
      if (resumed && start !== undefined) {
        pending.delete(pid)
        out.push(start + resumed[1])
      } else out.push(l)
    }
  }
  return out
}

/** The files of a cluster whose writes PostgreSQL makes durable with an fsync of its own. */
const flushedByPostgres = (rel: string) =>
  /^(base\/\d+\/\d+(_fsm|_vm)?(\.\d+)?|global\/\d+(_fsm|_vm)?|global\/pg_control|pg_wal\/[0-9A-F]{24}|pg_xact\/[0-9A-F]+|pg_multixact\/(offsets|members)\/[0-9A-F]+)$/.test(
    rel,
  )

describe('crash recovery', () => {
  it.skipIf(!canStrace)(
    'flushes the cluster with one syncfs before recovery writes, then fsyncs every file recovery writes',
    async () => {
      const srv = await startServer()
      const cluster = path.join(srv.dataDir, 'postgres')
      psql(srv.url(), 'CREATE TABLE acked(id int)')
      for (let i = 1; i <= 20; i++) psql(srv.url(), `INSERT INTO acked VALUES (${i})`)
      expect(await srv.stop('SIGKILL')).toBe(null)
      expect(controlState(srv.dataDir)).toBe(DB_IN_PRODUCTION) // no shutdown checkpoint: recovery must run
      const files = fs.readdirSync(cluster, { recursive: true }).length

      const traceFile = path.join(tmp, 'restart.txt')
      const t0 = performance.now()
      const { proc, port } = await tracedStart(srv.dataDir, traceFile)
      const startMs = Math.round(performance.now() - t0)
      try {
        const url = `postgresql://postgres@127.0.0.1:${port}/postgres`
        // every acknowledged commit is there
        expect(psql(url, 'SELECT count(*), sum(id) FROM acked')).toBe('20|210')
      } finally {
        // strace blocks fatal signals when it runs the command (-o FILE PROG): stop the server itself
        process.kill((JSON.parse(lockContents(srv.dataDir)) as { pid: number }).pid, 'SIGINT')
        await new Promise((r) => proc.once('exit', r))
      }

      // strace -f: "PID call(args) = result"; with -yy a descriptor shows its path: 23</…/postgres/base/5/1259>
      const lines = joinSplitCalls(fs.readFileSync(traceFile, 'utf8').split('\n'))
      const inCluster = (l: string, call: string) => {
        const m = new RegExp(
          `^\\d+ +(?:${call})\\(\\d+<${cluster.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(/[^>]*)?>`,
        ).exec(l)
        return m ? (m[1] ?? '/').slice(1) : null
      }
      const syncfs = lines.flatMap((l, i) => (inCluster(l, 'syncfs') !== null ? [i] : []))
      expect(syncfs).toHaveLength(1)
      const at = syncfs[0]!
      expect(lines[at]).toMatch(/\) += 0$/)
      // the window: from the syncfs until PostgreSQL has started (logged right after, at debug level)
      const end = lines.findIndex((l, i) => i > at && l.includes('one syncfs of the data directory'))
      expect(end).toBeGreaterThan(at)
      // nothing of the cluster was written before the syncfs
      expect(lines.slice(0, at).filter((l) => inCluster(l, 'pwrite64|write') !== null)).toEqual([])

      const window = lines.slice(at + 1, end)
      const lastWrite = new Map<string, number>()
      const fsyncs: Array<[string, number]> = []
      window.forEach((l, i) => {
        const w = inCluster(l, 'pwrite64|write')
        if (w !== null && flushedByPostgres(w)) lastWrite.set(w, i)
        const f = inCluster(l, 'fsync|fdatasync')
        if (f !== null && / = 0$/.test(l)) fsyncs.push([f, i])
      })
      // recovery wrote pages, the WAL and pg_control, and each of those files was flushed after its last write
      expect([...lastWrite.keys()]).toContain('global/pg_control')
      expect([...lastWrite.keys()].some((f) => f.startsWith('base/'))).toBe(true)
      const unflushed = [...lastWrite].filter(([f, i]) => !fsyncs.some(([g, j]) => g === f && j > i))
      expect(unflushed).toEqual([])
      // ... while the files nothing wrote were not fsynced one by one (PostgreSQL's walk: two per file)
      expect(fsyncs.length).toBeLessThan(files / 4)
      console.log(
        `restart after SIGKILL under strace: ${startMs} ms to listening; ${files} files in the cluster, ` +
          `${fsyncs.length} fsyncs during recovery, ${lastWrite.size} files written; loadavg ${os.loadavg()[0]!.toFixed(1)}`,
      )
    },
    180_000,
  )
})
