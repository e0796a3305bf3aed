// Python foreign tables (docs/foreign-tables.md) on the real server with node-postgres: CREATE EXTENSION
// multicorn, servers and tables with options as multicorn2 passes them, scans with qual/column/sort/LIMIT
// push-down (checked in what the wrapper received and in EXPLAIN), joins with local tables, errors with
// SQLSTATE/message/detail/traceback, a LIMIT closing an endless generator, plpy inside a wrapper, the validator's rules (wrapper only on servers, class must import, superusers only).
import path from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ROOT, startServer, type TestServer } from '../helpers/server.js'

let srv: TestServer
let c: pg.Client

async function q(sql: string, params: unknown[] = []): Promise<Record<string, unknown>[]> {
  return (await c.query(sql, params)).rows
}

async function err(sql: string): Promise<pg.DatabaseError> {
  try {
    await c.query(sql)
  } catch (e) {
    return e as pg.DatabaseError
  }
  throw new Error(`expected ${sql} to fail`)
}

/** What the wrappers recorded since the last call (fdwtests.LOG), as JSON. */
async function log(): Promise<unknown[]> {
  return JSON.parse((await q('SELECT fdwlog() AS l'))[0]!.l as string)
}

beforeAll(async () => {
  srv = await startServer({ args: ['--python-path', path.join(ROOT, 'test', 'fdw', 'python')] })
  c = new pg.Client(srv.url())
  await c.connect()
  await c.query(`
    CREATE EXTENSION multicorn;
    CREATE FUNCTION fdwlog() RETURNS text LANGUAGE plpython3u AS $$
      import fdwtests, json
      r = json.dumps(fdwtests.LOG, default=str)
      fdwtests.LOG.clear()
      return r $$;
    CREATE FUNCTION fdwstate() RETURNS text LANGUAGE plpython3u AS $$
      import fdwtests, json
      return json.dumps(fdwtests.STATE) $$;
    CREATE SERVER nums FOREIGN DATA WRAPPER multicorn OPTIONS (wrapper 'fdwtests.Numbers', count '5');
    CREATE FOREIGN TABLE ft (n int, sq bigint, label text OPTIONS (col 'c')) SERVER nums OPTIONS (t 'x');
    CREATE FOREIGN TABLE ft_tuple (n int, sq bigint, label text) SERVER nums OPTIONS (shape 'tuple');
    CREATE FOREIGN TABLE ft_limit (n int, sq bigint, label text) SERVER nums OPTIONS (limit 'yes', count '100');
    CREATE TABLE loc (n int, name text);
    INSERT INTO loc VALUES (2, 'two'), (4, 'four'), (9, 'nine');`)
  await log()
}, 120_000)

afterAll(async () => {
  await c?.end()
  await srv?.stop()
})

describe('scans', () => {
  it('returns dict and sequence rows converted to the column types', async () => {
    expect(await q('SELECT * FROM ft ORDER BY n')).toEqual([
      { n: 1, sq: '1', label: 'n1' },
      { n: 2, sq: '4', label: 'n2' },
      { n: 3, sq: '9', label: 'n3' },
      { n: 4, sq: '16', label: 'n4' },
      { n: 5, sq: '25', label: 'n5' },
    ])
    expect(await q('SELECT n, label FROM ft_tuple WHERE n = 3')).toEqual([{ n: 3, label: 'n3' }])
    expect(await q('SELECT count(*)::int AS c FROM ft')).toEqual([{ c: 5 }])
  })

  it('passes options, columns and quals as multicorn2 does', async () => {
    await c.query('SELECT 1') // settle
    await log()
    await q("SELECT n FROM ft WHERE n > 2 AND label = 'n3' AND sq IS NOT NULL")
    const l = (await log()) as unknown[][]
    const init = l.find((e) => e[0] === 'init')
    if (init)
      expect(init).toEqual([
        'init',
        [
          ['count', '5'],
          ['t', 'x'],
        ],
        ['n', 'sq', 'label'],
      ])
    const exec = l.find((e) => e[0] === 'execute')!
    expect(exec[1]).toEqual(['label = n3', 'n > 2', 'sq <> None'])
    expect(exec[2]).toEqual(['label', 'n', 'sq'])
    await q('SELECT n FROM ft WHERE n = ANY(ARRAY[1, 2]) AND 3 < n')
    const e2 = ((await log()) as unknown[][]).find((e) => e[0] === 'execute')!
    expect(e2[1]).toEqual(['n = ANY([1, 2])', 'n > 3'])
    expect(e2[2]).toEqual(['n'])
  })

  it('shows explain() lines in EXPLAIN', async () => {
    const plan = (await q("EXPLAIN (VERBOSE) SELECT n FROM ft WHERE label = 'n2'")).map(
      (r) => r['QUERY PLAN'],
    )
    expect(plan).toContain("  Multicorn: quals: ['label = n2']")
    expect(plan).toContain("  Multicorn: columns: ['label', 'n']")
    expect(plan).toContain('  Multicorn: verbose: True')
  })

  it('pushes down a sort the wrapper accepts, and LIMIT when it can_limit', async () => {
    await log()
    const plan = (await q('EXPLAIN SELECT * FROM ft ORDER BY n DESC')).map((r) => r['QUERY PLAN'] as string)
    expect(plan[0]).toMatch(/^Foreign Scan on ft/)
    expect(plan.join('\n')).not.toMatch(/Sort/)
    expect((await q('SELECT n FROM ft ORDER BY n DESC LIMIT 2')).map((r) => r.n)).toEqual([5, 4])
    const l = (await log()) as unknown[][]
    expect(l).toContainEqual(['can_sort', [['n', true, true]]])
    expect(l.find((e) => e[0] === 'execute')![3]).toEqual([['n', 1, true, true]])
    // ORDER BY a column the wrapper cannot sort by: PostgreSQL sorts
    const p2 = (await q('EXPLAIN SELECT * FROM ft ORDER BY label')).map((r) => r['QUERY PLAN'] as string)
    expect(p2[0]).toMatch(/^Sort/)
    await log()
    expect((await q('SELECT n FROM ft_limit LIMIT 3 OFFSET 1')).map((r) => r.n)).toEqual([2, 3, 4])
    const l2 = (await log()) as unknown[][]
    expect(l2).toContainEqual(['can_limit', 3, 1])
    expect(l2.find((e) => e[0] === 'execute')!.slice(4)).toEqual([3, 1])
  })

  it("pushes down parameters: a generic plan's $1 and a nested loop's outer values (get_path_keys)", async () => {
    await c.query(
      'SET plan_cache_mode = force_generic_plan; PREPARE p(int) AS SELECT sq FROM ft WHERE n = $1',
    )
    await log()
    expect(await q('EXECUTE p(3)')).toEqual([{ sq: '9' }])
    expect(((await log()) as unknown[][]).find((e) => e[0] === 'execute')![1]).toEqual(['n = 3'])
    await c.query('DEALLOCATE p; RESET plan_cache_mode')
    await c.query(`CREATE SERVER nums_pk FOREIGN DATA WRAPPER multicorn OPTIONS (wrapper 'fdwtests.Numbers');
      CREATE FOREIGN TABLE ft_pk (n int, sq bigint, label text) SERVER nums_pk
        OPTIONS (pathkeys 'yes', count '100000')`)
    const plan = (await q('EXPLAIN SELECT l.name, f.sq FROM loc l JOIN ft_pk f ON f.n = l.n')).map(
      (r) => r['QUERY PLAN'] as string,
    )
    expect(plan[0]).toMatch(/^Nested Loop/)
    await log()
    expect(await q('SELECT l.name, f.sq FROM loc l JOIN ft_pk f ON f.n = l.n ORDER BY l.n')).toEqual([
      { name: 'two', sq: '4' },
      { name: 'four', sq: '16' },
      { name: 'nine', sq: '81' },
    ])
    const execs = ((await log()) as unknown[][]).filter((e) => e[0] === 'execute').map((e) => e[1])
    expect(execs).toEqual([['n = 2'], ['n = 4'], ['n = 9']])
  })

  it('joins with local tables', async () => {
    expect(await q('SELECT l.name, f.sq FROM loc l JOIN ft f USING (n) ORDER BY l.name')).toEqual([
      { name: 'four', sq: '16' },
      { name: 'two', sq: '4' },
    ])
  })

  it('stops an endless generator after the rows a LIMIT needs and closes it', async () => {
    await c.query(`CREATE SERVER endless FOREIGN DATA WRAPPER multicorn OPTIONS (wrapper 'fdwtests.Endless');
      CREATE FOREIGN TABLE fe (n int) SERVER endless`)
    const before = JSON.parse((await q('SELECT fdwstate() AS s'))[0]!.s as string)
    expect((await q('SELECT n FROM fe LIMIT 3')).map((r) => r.n)).toEqual([1, 2, 3])
    const after = JSON.parse((await q('SELECT fdwstate() AS s'))[0]!.s as string)
    expect(after.produced).toBe(3)
    expect(after.closed).toBe(before.closed + 1)
    // a LIMIT above a join cannot bound the scan, but the generator is still closed at the end
    expect((await q('SELECT f.n FROM fe f JOIN loc l USING (n) LIMIT 2')).map((r) => r.n)).toEqual([2, 4])
    const after2 = JSON.parse((await q('SELECT fdwstate() AS s'))[0]!.s as string)
    expect(after2.closed).toBe(before.closed + 2)
  })

  it('lets a wrapper query through plpy in the current transaction', async () => {
    await c.query(`CREATE TABLE fdw_local (id int, v text);
      CREATE SERVER pl FOREIGN DATA WRAPPER multicorn OPTIONS (wrapper 'fdwtests.Plpy');
      CREATE FOREIGN TABLE fpl (n int, label text) SERVER pl`)
    await c.query('BEGIN')
    try {
      await c.query("INSERT INTO fdw_local VALUES (1, 'uncommitted')")
      expect(await q('SELECT * FROM fpl')).toEqual([{ n: 1, label: 'uncommitted' }])
    } finally {
      await c.query('ROLLBACK')
    }
    expect(await q('SELECT * FROM fpl')).toEqual([])
  })
})

describe('errors', () => {
  beforeAll(async () => {
    await c.query(`CREATE SERVER failing FOREIGN DATA WRAPPER multicorn OPTIONS (wrapper 'fdwtests.Failing');
      CREATE FOREIGN TABLE ff_init (n int) SERVER failing OPTIONS (where 'init');
      CREATE FOREIGN TABLE ff_exec (n int) SERVER failing OPTIONS (where 'execute');
      CREATE FOREIGN TABLE ff_iter (n int) SERVER failing OPTIONS (where 'iterate');
      CREATE FOREIGN TABLE ff_log (n int) SERVER failing OPTIONS (where 'log_error');
      CREATE FOREIGN TABLE ff_type (n int) SERVER nums;
      CREATE FOREIGN TABLE ff_relsize (n int) SERVER failing OPTIONS (where 'get_rel_size');
      CREATE FOREIGN TABLE ff_explain (n int) SERVER failing OPTIONS (where 'explain');
      CREATE FOREIGN TABLE ff_endscan (n int) SERVER failing OPTIONS (where 'end_scan')`)
  })

  it('reports a Python exception with its type, text and traceback', async () => {
    const e = await err('SELECT * FROM ff_exec')
    expect([e.code, e.message, e.detail]).toEqual(['XX000', 'Error in python: KeyError', "'missing'"])
    expect(e.where).toMatch(
      /^Traceback \(most recent call last\):\n {2}File ".*fdwtests\.py", line \d+, in execute\n {4}raise KeyError\("missing"\)/,
    )
    const e2 = await err('SELECT * FROM ff_iter')
    expect([e2.message, e2.detail]).toEqual(['Error in python: ZeroDivisionError', 'division by zero'])
    const e3 = await err('SELECT * FROM ff_init')
    expect([e3.message, e3.detail]).toEqual(['Error in python: ValueError', 'bad options'])
    // the session goes on
    expect(await q('SELECT count(*)::int AS c FROM ft')).toEqual([{ c: 5 }])
  })

  it('reports errors of the planning, EXPLAIN and end_scan callbacks', async () => {
    const e1 = await err('SELECT * FROM ff_relsize')
    expect([e1.code, e1.message, e1.detail]).toEqual([
      'XX000',
      'Error in python: RuntimeError',
      'no estimate',
    ])
    const e2 = await err('EXPLAIN SELECT * FROM ff_explain')
    expect([e2.message, e2.detail]).toEqual(['Error in python: RuntimeError', 'no explanation'])
    expect((await q('SELECT * FROM ff_explain')).map((r) => r.n)).toEqual([1])
    const e3 = await err('SELECT * FROM ff_endscan')
    expect([e3.message, e3.detail]).toEqual(['Error in python: RuntimeError', 'cleanup failed'])
    expect(await q('SELECT 1 AS one')).toEqual([{ one: 1 }])
  })

  it('reports log_to_postgres(ERROR) with its hint and detail', async () => {
    const e = await err('SELECT * FROM ff_log')
    expect([e.code, e.message, e.detail, e.hint]).toEqual(['XX000', 'it failed', 'the details', 'try again'])
  })

  it('raises the column type input error for a value that does not convert', async () => {
    await c.query('CREATE FOREIGN TABLE ft_bad (n int, sq int8, label int) SERVER nums')
    const e2 = await err('SELECT label FROM ft_bad')
    expect([e2.code, e2.message]).toEqual(['22P02', 'invalid input syntax for type integer: "n1"'])
  })

  it('keeps the wrapper option on servers and requires an importable class', async () => {
    const e = await err("CREATE FOREIGN TABLE bad (n int) SERVER nums OPTIONS (wrapper 'x.Y')")
    expect([e.code, e.message, e.hint]).toEqual([
      'HV00D',
      'Cannot set the wrapper class on the table',
      'Set it on the server',
    ])
    const e2 = await err('CREATE SERVER nowrapper FOREIGN DATA WRAPPER multicorn')
    expect(e2.message).toBe('The wrapper parameter is mandatory, specify a valid class name')
    const e3 = await err(
      "CREATE SERVER nomodule FOREIGN DATA WRAPPER multicorn OPTIONS (wrapper 'nope.Nope')",
    )
    expect([e3.message, e3.detail]).toEqual([
      'Error in python: ModuleNotFoundError',
      "No module named 'nope'",
    ])
  })

  it('lets only superusers name a class', async () => {
    await c.query(`CREATE ROLE fdwuser LOGIN; GRANT USAGE ON FOREIGN DATA WRAPPER multicorn TO fdwuser`)
    const u = new pg.Client(srv.url().replace('postgres@', 'fdwuser@'))
    await u.connect()
    try {
      const e = await u
        .query("CREATE SERVER mine FOREIGN DATA WRAPPER multicorn OPTIONS (wrapper 'fdwtests.Numbers')")
        .catch((x) => x)
      expect([e.code, e.message]).toEqual([
        '42501',
        'permission denied to name a Python class as a multicorn wrapper',
      ])
    } finally {
      await u.end()
    }
  })
})
