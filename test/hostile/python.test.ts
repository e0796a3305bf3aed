// Misbehaving Python: runaway recursion, memory blow-up under PYGLITE_PYTHON_MEMORY_LIMIT, sys.exit,
// os._exit/os.abort, closing the standard descriptors and streams, threads left running (calling plpy
// from them, blocking shutdown), and a function that kills the process (restart: committed data is there).
// One process serves every session, so each case also checks that another session is unaffected.
import os from 'node:os'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServer, type TestServer } from '../helpers/server.js'
import { type Client, connect, failure, fn, value } from '../plpython/util.js'

let srv: TestServer
let c: Client
let other: Client
beforeAll(async () => {
  srv = await startServer({
    args: ['--log-level', 'debug'],
    env: { PYGLITE_PYTHON_MEMORY_LIMIT: '256MB' },
  })
  c = await connect(srv)
  other = await connect(srv)
  await other.query('CREATE TABLE witness(id int PRIMARY KEY, v text)')
})
afterAll(async () => {
  await c?.end().catch(() => {})
  await other?.end().catch(() => {})
  await srv?.stop()
})

let round = 0
/** The server is alive and another session reads and writes as before. */
async function othersUnaffected(): Promise<void> {
  round++
  await other.query('INSERT INTO witness VALUES ($1, $2)', [round, `round ${round}`])
  expect(await value(other, 'SELECT count(*)::int FROM witness')).toBe(round)
  expect(await value(c, 'SELECT 41 + 1')).toBe(42)
  expect(srv.proc.exitCode).toBe(null)
}

describe('misbehaving Python', () => {
  it('infinite recursion ends in RecursionError', async () => {
    await fn(c, 'forever(n int) RETURNS int', 'def f(n):\n    return f(n + 1)\nreturn f(n)')
    const e = await failure(c, 'SELECT forever(0)')
    expect([e.code, e.message]).toEqual(['38000', 'RecursionError: maximum recursion depth exceeded'])
    await othersUnaffected()
  })

  it('a raised recursion limit is clamped: recursion through C ends in RecursionError, not a crash', async () => {
    await fn(
      c,
      'c_deep(n int) RETURNS text',
      `import sys
sys.setrecursionlimit(10_000_000)
def f(k):
    return 0 if k == 0 else 1 + list(map(f, [k - 1]))[0]
limit = sys.getrecursionlimit()
try:
    return '%d %d' % (limit, f(n))
finally:
    sys.setrecursionlimit(1000)`,
    )
    expect(await value(c, 'SELECT c_deep(20000)')).toBe('50000 20000')
    // 900 000 levels through map() overflowed the engine's 256 MB stack (SIGSEGV) before the clamp
    const e = await failure(c, 'SELECT c_deep(900000)')
    expect([e.code, e.message]).toEqual(['38000', 'RecursionError: maximum recursion depth exceeded'])
    await othersUnaffected()
  })

  it('memory blow-up: MemoryError at the cap, memory given back, later calls work', async () => {
    await fn(
      c,
      'hog(mb int) RETURNS int',
      'chunks = []\nfor i in range(mb):\n    chunks.append(bytearray(1 << 20))\nreturn len(chunks)',
    )
    await fn(c, 'py_mem() RETURNS int8[]', 'import _pyglite\nreturn list(_pyglite.memory_stats())')
    const e = await failure(c, 'SELECT hog(100000)') // 100 GB: far over the 256 MB cap
    expect([e.code, e.message]).toEqual(['38000', 'MemoryError: '])
    expect(e.where).toMatch(/PL\/Python function "hog"$/)
    const [used, limit, refusals] = (await value(c, 'SELECT py_mem()')) as string[]
    expect(Number(limit)).toBe(256 * 1024 * 1024)
    expect(Number(used)).toBeLessThan(32 * 1024 * 1024) // the chunks were freed with the failed frame
    expect(Number(refusals)).toBeGreaterThanOrEqual(1)
    expect(await value(c, 'SELECT hog(100)')).toBe(100) // under the cap: fine
    await othersUnaffected()
  })

  it('sys.exit() is an ordinary error', async () => {
    await fn(c, 'leave() RETURNS int', 'import sys\nsys.exit()')
    const e = await failure(c, 'SELECT leave()')
    expect([e.code, e.message]).toEqual(['38000', 'SystemExit: '])
    await othersUnaffected()
  })

  it('os._exit(), posix._exit() and os.abort() raise SystemExit; the statement rolls back', async () => {
    await c.query('CREATE TABLE exits(v text)')
    for (const [name, call] of [
      ['os__exit', 'import os\nos._exit(1)'],
      ['posix__exit', 'import posix\nposix._exit(0)'],
      ['os_abort', 'import os\nos.abort()'],
    ] as const) {
      await fn(c, `${name}() RETURNS int`, `plpy.execute("INSERT INTO exits VALUES ('${name}')")\n${call}`)
      const e = await failure(c, `SELECT ${name}()`)
      expect(e.code).toBe('38000')
      expect(e.message).toMatch(
        /^SystemExit: os\.(_exit|abort)\((0|1)?\) refused: pyglite runs every session in one process, which must not exit$/,
      )
    }
    // an `except Exception` does not swallow it (SystemExit is a BaseException, as sys.exit's)
    await fn(
      c,
      'swallow() RETURNS text',
      "import os\ntry:\n    os._exit(3)\nexcept Exception:\n    return 'swallowed'",
    )
    expect((await failure(c, 'SELECT swallow()')).message).toMatch(/^SystemExit: os\._exit\(3\) refused/)
    expect(await value(c, 'SELECT count(*)::int FROM exits')).toBe(0)
    await othersUnaffected()
  })

  it('closing standard input/output/error: refused for the descriptors, harmless for the streams', async () => {
    for (const fd of [0, 1, 2]) {
      await fn(c, `close_fd${fd}() RETURNS int`, `import os\nos.close(${fd})\nreturn 1`)
      const e = await failure(c, `SELECT close_fd${fd}()`)
      expect(e.message).toBe(
        `PermissionError: [Errno 1] pyglite: file descriptor ${fd} is the server's standard ${['input', 'output', 'error'][fd]}, shared by every session; it cannot be closed`,
      )
    }
    await fn(c, 'close_range() RETURNS int', 'import os\nos.closerange(0, 64)\nreturn 1')
    expect((await failure(c, 'SELECT close_range()')).message).toMatch(
      /^PermissionError: \[Errno 1\] pyglite: os\.closerange\(0, 64\) would close/,
    )
    await fn(
      c,
      'close_streams() RETURNS text',
      "import sys\nsys.stdin.close()\nsys.stdout.close()\nsys.stderr.close()\nprint('printed-after-close')\nprint('stderr-after-close', file=sys.stderr)\nplpy.notice('notice-after-close')\nreturn 'closed'",
    )
    c.notices.length = 0
    expect(await value(c, 'SELECT close_streams()')).toBe('closed')
    expect(c.notices.map((n) => n.message)).toEqual(['notice-after-close'])
    // a later print from another session still works, and the server's own log still gets lines
    await fn(other, 'print_later() RETURNS int', "print('printed-by-other')\nreturn 7")
    expect(await value(other, 'SELECT print_later()')).toBe(7)
    const late = await connect(srv)
    await late.end()
    await new Promise((r) => setTimeout(r, 300))
    const out = srv.output()
    for (const s of ['printed-after-close', 'stderr-after-close', 'printed-by-other'])
      expect(out).toContain(s)
    const tail = out.slice(out.indexOf('printed-by-other'))
    expect(tail).toContain('"msg":"connection authorized"') // logged after all the closing
    await othersUnaffected()
  })

  it('os.fork() is refused (subprocess works); the signal handlers of the server cannot be replaced', async () => {
    await fn(c, 'forker() RETURNS int', 'import os\nreturn os.fork()')
    expect((await failure(c, 'SELECT forker()')).message).toBe(
      'PermissionError: [Errno 1] pyglite: os.fork() refused: the child would be a second copy of the whole server (use subprocess to run programs)',
    )
    await fn(
      c,
      'run_echo() RETURNS text',
      "import subprocess\nreturn subprocess.run(['echo', 'from a child'], capture_output=True, text=True).stdout.strip()",
    )
    expect(await value(c, 'SELECT run_echo()')).toBe('from a child')
    for (const sig of ['SIGTERM', 'SIGINT', 'SIGUSR2', 'SIGSEGV']) {
      await fn(
        c,
        `trap_${sig.toLowerCase()}() RETURNS int`,
        `import signal\nsignal.signal(signal.${sig}, signal.SIG_IGN)\nreturn 1`,
      )
      expect((await failure(c, `SELECT trap_${sig.toLowerCase()}()`)).message).toBe(
        `PermissionError: [Errno 1] pyglite: the handler of ${sig} belongs to the server, shared by every session`,
      )
    }
    // SIGALRM is the function's own (signal.alarm timeouts)
    await fn(
      c,
      'alarm_ok() RETURNS text',
      "import signal\nold = signal.signal(signal.SIGALRM, lambda *a: None)\nsignal.signal(signal.SIGALRM, old)\nreturn 'ok'",
    )
    expect(await value(c, 'SELECT alarm_ok()')).toBe('ok')
    await othersUnaffected()
  })

  it('threads left running cannot call plpy (clear error); the server keeps working', async () => {
    await fn(
      c,
      'spawn() RETURNS text',
      `import threading, time
GD['thread_results'] = results = []
def late():
    time.sleep(0.3)
    for op in (lambda: plpy.execute('SELECT 1'), lambda: plpy.notice('x')):
        try:
            op()
            results.append('ran')
        except BaseException as e:
            results.append('%s: %s' % (type(e).__name__, e))
threading.Thread(target=late, daemon=True).start()
# a thread calling plpy while the function still runs (it waits for it)
during = []
def now():
    try:
        plpy.execute('SELECT 1')
    except BaseException as e:
        during.append(str(e))
t = threading.Thread(target=now)
t.start()
t.join()
return during[0]`,
    )
    expect(await value(c, 'SELECT spawn()')).toBe(
      'plpy functions can only be used by the thread running the SQL statement',
    )
    await new Promise((r) => setTimeout(r, 800))
    await fn(c, 'thread_results() RETURNS text[]', "return GD['thread_results']")
    expect(await value(c, 'SELECT thread_results()')).toEqual([
      'RuntimeError: plpy functions can only be used by the thread running the SQL statement',
      'RuntimeError: plpy functions can only be used by the thread running the SQL statement',
    ])
    await othersUnaffected()
  })
})

describe('misbehaving Python: the process', () => {
  it('a thread blocked forever does not block shutdown', async () => {
    const s = await startServer()
    const k = await connect(s)
    await fn(
      k,
      'block_forever() RETURNS text',
      "import threading\nthreading.Thread(target=threading.Event().wait, name='stuck').start()\nreturn 'started'",
    )
    expect(await value(k, 'SELECT block_forever()')).toBe('started')
    // (this server has no PYGLITE_PYTHON_MEMORY_LIMIT: the default cap is half the physical memory)
    await fn(k, 'py_mem() RETURNS int8[]', 'import _pyglite\nreturn list(_pyglite.memory_stats())')
    const limit = Number(((await value(k, 'SELECT py_mem()')) as string[])[1])
    expect(Math.abs(limit - os.totalmem() / 2)).toBeLessThan(1 << 20)
    await k.end()
    const t0 = Date.now()
    const exited = await Promise.race([
      s.stop('SIGTERM'),
      new Promise((r) => setTimeout(() => r('hung'), 20_000)),
    ])
    expect(exited).toBe(0)
    expect(Date.now() - t0).toBeLessThan(15_000)
    expect(s.output()).toContain('"msg":"shut down"')
  }, 90_000)

  it('a function that kills the process (SIGKILL): restart, committed data is there', async () => {
    const s = await startServer()
    const k = await connect(s)
    k.on('error', () => {}) // the connection dies with the process
    await k.query('CREATE TABLE kept(id int PRIMARY KEY, v text)')
    await k.query("INSERT INTO kept SELECT i, 'row ' || i FROM generate_series(1, 500) i")
    await fn(k, 'suicide() RETURNS int', 'import os, signal\nos.kill(os.getpid(), signal.SIGKILL)')
    await k.query('BEGIN')
    await k.query("INSERT INTO kept VALUES (999, 'uncommitted')")
    const died = await k.query('SELECT suicide()').then(
      () => 'returned',
      (e: Error) => e.message,
    )
    expect(died).not.toBe('returned')
    await k.end().catch(() => {})
    await new Promise<void>((r) =>
      s.proc.exitCode !== null || s.proc.signalCode ? r() : s.proc.once('exit', () => r()),
    )
    expect(s.proc.signalCode).toBe('SIGKILL')
    const again = await startServer({ dataDir: s.dataDir })
    try {
      const k2 = await connect(again)
      expect(await value(k2, 'SELECT count(*)::int FROM kept')).toBe(500)
      expect(await value(k2, 'SELECT count(*)::int FROM kept WHERE id = 999')).toBe(0)
      expect(await value(k2, 'SELECT v FROM kept WHERE id = 500')).toBe('row 500')
      await k2.end()
    } finally {
      await again.stop()
    }
  }, 120_000)
})
