// What a trigger function returns (plpy_exec.c PLy_exec_trigger, PLy_modify_tuple): None/"OK" keep the
// row, "SKIP" skips it, "MODIFY" uses TD["new"] with the columns' typmods, domains and the table's
// constraints; PostgreSQL's errors (SQLSTATE, message, CONTEXT) for every misuse; return values of AFTER
// and statement-level triggers are checked but otherwise ignored. Expected values were checked against
// PostgreSQL 15 + plpython3u.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServer, type TestServer } from '../helpers/server.js'
import { type Client, connect, failure, fn } from '../plpython/util.js'

describe('trigger return values', () => {
  let srv: TestServer
  let c: Client
  beforeAll(async () => {
    srv = await startServer()
    c = await connect(srv)
    await c.query(`CREATE TABLE t (a int, b text, c numeric(6,2), d varchar(5), e float8, f bool, g int8,
      h date, i int[], j bytea, k float4)`)
    await c.query(
      `INSERT INTO t VALUES (1, 'one', 1.5, 'abc', 2.5, true, 10, '2020-01-02', '{1,2}', '\\x01', 1.25)`,
    )
    // sets TD["new"][arg0] = eval(arg1) and returns "MODIFY"
    await fn(
      c,
      'setcol() RETURNS trigger',
      `TD['new'][TD['args'][0]] = eval(TD['args'][1])
return 'MODIFY'`,
    )
    // returns eval(arg0)
    await fn(c, 'ret() RETURNS trigger', `return eval(TD['args'][0])`)
  })
  afterAll(async () => {
    await c?.end()
    await srv?.stop()
  })

  /** Run `sql` with `trigger` (a CREATE TRIGGER … ON t tail) in place, then drop it. */
  async function withTrigger<T>(name: string, trigger: string, run: () => Promise<T>): Promise<T> {
    await c.query(`CREATE TRIGGER ${name} ${trigger}`)
    try {
      return await run()
    } finally {
      await c.query(`DROP TRIGGER ${name} ON t`)
    }
  }
  const set = (col: string, expr: string, sql = 'UPDATE t SET a = a') =>
    withTrigger('t_set', `BEFORE UPDATE ON t FOR EACH ROW EXECUTE FUNCTION setcol('${col}', '${expr}')`, () =>
      c.query(sql),
    )
  const row = async () => (await c.query('SELECT * FROM t')).rows[0]

  it('MODIFY converts values with the column types, typmods included', async () => {
    await set('c', '1.005')
    expect((await row()).c).toBe('1.01') // numeric(6,2) rounds
    await set('a', '"12"')
    expect((await row()).a).toBe(12)
    await set('e', '7')
    expect((await row()).e).toBe(7)
    await set('k', '0.1')
    expect((await row()).k).toBe(0.1)
    await set('g', '-2**63')
    expect((await row()).g).toBe('-9223372036854775808')
    await set('f', '[]')
    expect((await row()).f).toBe(false)
    await set('i', '[[1,2],[3,4]]')
    expect((await row()).i).toEqual([
      [1, 2],
      [3, 4],
    ])
    await set('j', 'b"\\x00abc"')
    expect((await row()).j).toEqual(Buffer.from('\0abc'))
    await set('b', 'None')
    expect((await row()).b).toBe(null)
    await set('b', '"tëxt"')
    expect((await row()).b).toBe('tëxt')
    await set('b', '"a\\x00b"') // as PL/Python makes a C string of it: it ends at the NUL
    expect((await row()).b).toBe('a')
    const r = await withTrigger(
      't_sub',
      `BEFORE UPDATE ON t FOR EACH ROW EXECUTE FUNCTION ret('(TD.__setitem__("new", {"e": 1.5, "a": 42}), "modify")[1]')`,
      () => c.query(`UPDATE t SET b = 'changed' RETURNING a, b, e`),
    )
    // only the keys given are replaced; "modify" in any case
    expect(r.rows).toEqual([{ a: 42, b: 'changed', e: 1.5 }])
  })

  it('MODIFY reports the input functions’ errors under "while modifying trigger row"', async () => {
    const cases: Array<[string, string, string, string]> = [
      ['d', '"toolong"', '22001', 'value too long for type character varying(5)'],
      ['a', '2**40', '22003', 'value "1099511627776" is out of range for type integer'],
      ['a', '3.7', '22P02', 'invalid input syntax for type integer: "3.7"'],
      ['a', 'True', '22P02', 'invalid input syntax for type integer: "True"'],
      ['g', '2**63', '22003', 'value "9223372036854775808" is out of range for type bigint'],
      ['h', '"not a date"', '22007', 'invalid input syntax for type date: "not a date"'],
    ]
    for (const [col, expr, code, message] of cases) {
      const e = await set(col, expr).catch((x) => x)
      expect([e.code, e.message]).toEqual([code, message])
      expect(e.where).toBe('while modifying trigger row\nPL/Python function "setcol"')
    }
    expect((await row()).a).toBe(42) // nothing changed
  })

  it('MODIFY refuses bad TD["new"] contents with PL/Python’s errors, in key order', async () => {
    const cases: Array<[string, string, string]> = [
      ['del TD["new"]', '42704', 'TD["new"] deleted, cannot modify row'],
      ['TD["new"] = ["foo"]', '42804', 'TD["new"] is not a dictionary'],
      ['TD["new"] = {1: "foo"}', '42804', 'TD["new"] dictionary key at ordinal position 0 is not a string'],
      [
        'TD["new"] = {"b": "x", "zz": 1}',
        '42703',
        'key "zz" found in TD["new"] does not exist as a column in the triggering row',
      ],
      ['TD["new"]["ctid"] = 1', '0A000', 'cannot set system attribute "ctid"'],
      // the earlier key's conversion fails before the later key is looked at
      ['TD["new"] = {"a": "x", "zz": 1}', '22P02', 'invalid input syntax for type integer: "x"'],
    ]
    await fn(c, 'bad_new() RETURNS trigger', `exec(TD['args'][0])\nreturn 'MODIFY'`)
    for (const [code, sqlstate, message] of cases) {
      await c.query(
        `CREATE TRIGGER t_bad BEFORE UPDATE ON t FOR EACH ROW EXECUTE FUNCTION bad_new('${code.replace(/'/g, "''")}')`,
      )
      try {
        const e = await failure(c, 'UPDATE t SET a = 5')
        expect([e.code, e.message, e.where]).toEqual([
          sqlstate,
          message,
          'while modifying trigger row\nPL/Python function "bad_new"',
        ])
      } finally {
        await c.query('DROP TRIGGER t_bad ON t')
      }
    }
    await c.query('CREATE TABLE gen (a int, b int GENERATED ALWAYS AS (a * 2) STORED)')
    await c.query(`CREATE TRIGGER gen_t AFTER INSERT ON gen FOR EACH ROW EXECUTE FUNCTION ret('"MODIFY"')`)
    const e = await failure(c, 'INSERT INTO gen VALUES (1)')
    expect([e.code, e.message]).toEqual(['39P01', 'cannot set generated column "b"'])
    expect((await c.query('SELECT count(*)::int AS n FROM gen')).rows).toEqual([{ n: 0 }])
  })

  it('MODIFY respects NOT NULL, CHECK and domain constraints', async () => {
    await c.query('CREATE DOMAIN posint AS int CHECK (VALUE > 0)')
    await c.query('CREATE TABLE cons (a int NOT NULL, b int CHECK (b < 10), p posint)')
    const ins = async (col: string, expr: string) => {
      await c.query(
        `CREATE TRIGGER cons_t BEFORE INSERT ON cons FOR EACH ROW EXECUTE FUNCTION setcol('${col}', '${expr}')`,
      )
      try {
        return await failure(c, 'INSERT INTO cons VALUES (1, 1, 1)')
      } finally {
        await c.query('DROP TRIGGER cons_t ON cons')
      }
    }
    let e = await ins('a', 'None')
    expect([e.code, e.message, e.detail]).toEqual([
      '23502',
      'null value in column "a" of relation "cons" violates not-null constraint',
      'Failing row contains (null, 1, 1).',
    ])
    e = await ins('b', '20')
    expect([e.code, e.message]).toEqual([
      '23514',
      'new row for relation "cons" violates check constraint "cons_b_check"',
    ])
    e = await ins('p', '0')
    expect([e.code, e.message, e.where]).toEqual([
      '23514',
      'value for domain posint violates check constraint "posint_check"',
      'while modifying trigger row\nPL/Python function "setcol"',
    ])
    expect((await c.query('SELECT count(*)::int AS n FROM cons')).rows).toEqual([{ n: 0 }])
  })

  it('SKIP skips the row, OK and None keep it, in BEFORE ROW triggers of every event', async () => {
    await c.query('CREATE TABLE sk (a int)')
    await fn(
      c,
      'skip_odd() RETURNS trigger',
      `row = TD['new'] if TD['event'] != 'DELETE' else TD['old']
if row['a'] % 2:
    return 'SKIP'
return 'OK' if row['a'] % 4 else None`,
    )
    await c.query(
      'CREATE TRIGGER sk_t BEFORE INSERT OR UPDATE OR DELETE ON sk FOR EACH ROW EXECUTE FUNCTION skip_odd()',
    )
    expect((await c.query('INSERT INTO sk SELECT generate_series(1, 8)')).rowCount).toBe(4)
    expect((await c.query('SELECT array_agg(a ORDER BY a) AS a FROM sk')).rows[0].a).toEqual([2, 4, 6, 8])
    expect((await c.query('UPDATE sk SET a = a + 1')).rowCount).toBe(0) // every NEW is odd
    expect((await c.query('DELETE FROM sk WHERE a > 4')).rowCount).toBe(2)
    expect((await c.query('SELECT array_agg(a ORDER BY a) AS a FROM sk')).rows[0].a).toEqual([2, 4])
  })

  it('checks the return value, and ignores it for AFTER and statement-level triggers', async () => {
    const run = async (trigger: string, sql: string) =>
      withTrigger('t_r', trigger, () =>
        c.query(sql).then(
          () => null,
          (e) => [e.code, e.message, e.detail, e.where],
        ),
      )
    const notString = [
      '22000',
      'unexpected return value from trigger procedure',
      'Expected None or a string.',
    ]
    const badString = [
      '22000',
      'unexpected return value from trigger procedure',
      'Expected None, "OK", "SKIP", or "MODIFY".',
    ]
    const where = 'PL/Python function "ret"'
    expect(
      await run(`BEFORE UPDATE ON t FOR EACH ROW EXECUTE FUNCTION ret('37')`, 'UPDATE t SET a = 1'),
    ).toEqual([...notString, where])
    expect(
      await run(`BEFORE UPDATE ON t FOR EACH ROW EXECUTE FUNCTION ret('b"SKIP"')`, 'UPDATE t SET a = 1'),
    ).toEqual([...notString, where])
    expect(
      await run(`BEFORE UPDATE ON t FOR EACH ROW EXECUTE FUNCTION ret('"foo"')`, 'UPDATE t SET a = 1'),
    ).toEqual([...badString, where])
    // AFTER: checked all the same (PL/Python checks before the trigger manager ignores it)
    expect(
      await run(`AFTER UPDATE ON t FOR EACH ROW EXECUTE FUNCTION ret('37')`, 'UPDATE t SET a = 1'),
    ).toEqual([...notString, where])
    expect(
      await run(`AFTER UPDATE ON t FOR EACH ROW EXECUTE FUNCTION ret('"SKIP"')`, 'UPDATE t SET a = 6'),
    ).toBe(null)
    expect((await row()).a).toBe(6)
    expect(
      await run(
        `BEFORE INSERT ON t FOR EACH STATEMENT EXECUTE FUNCTION ret('"SKIP"')`,
        'INSERT INTO t (a) VALUES (100)',
      ),
    ).toBe(null)
    expect((await c.query('SELECT count(*)::int AS n FROM t')).rows[0].n).toBe(2)
    // "MODIFY" of a statement-level INSERT/UPDATE trigger: TD["new"] is None
    expect(
      await run(
        `BEFORE UPDATE ON t FOR EACH STATEMENT EXECUTE FUNCTION ret('"MODIFY"')`,
        'UPDATE t SET a = 7',
      ),
    ).toEqual(['42804', 'TD["new"] is not a dictionary', undefined, `while modifying trigger row\n${where}`])
    await c.query('DELETE FROM t WHERE a = 100')
  })

  it('warns about MODIFY in DELETE and TRUNCATE triggers and goes on', async () => {
    await c.query('CREATE TABLE del (a int)')
    await c.query('INSERT INTO del VALUES (1), (2)')
    await c.query(`CREATE TRIGGER del_r BEFORE DELETE ON del FOR EACH ROW EXECUTE FUNCTION ret('"MODIFY"')`)
    await c.query(
      `CREATE TRIGGER del_s BEFORE TRUNCATE ON del FOR EACH STATEMENT EXECUTE FUNCTION ret('"modify"')`,
    )
    c.notices.length = 0
    expect((await c.query('DELETE FROM del WHERE a = 1')).rowCount).toBe(1)
    await c.query('TRUNCATE del')
    expect(c.notices.map((n) => [n.severity, n.message, n.where])).toEqual([
      [
        'WARNING',
        'PL/Python trigger function returned "MODIFY" in a DELETE trigger -- ignored',
        'PL/Python function "ret"',
      ],
      [
        'WARNING',
        'PL/Python trigger function returned "MODIFY" in a DELETE trigger -- ignored',
        'PL/Python function "ret"',
      ],
    ])
    expect((await c.query('SELECT count(*)::int AS n FROM del')).rows[0].n).toBe(0)
  })

  it('keeps unchanged values exactly, large and TOASTed ones included', async () => {
    await c.query('CREATE TABLE big (id int, t text, b bytea, f4 float4, n numeric)')
    await fn(
      c,
      'big_f() RETURNS trigger',
      `plpy.notice('%s %d %d %s' % (TD['event'], len(TD['new']['t']), len(TD['new']['b']), TD['old'] and len(TD['old']['t'])))
TD['new']['id'] = TD['new']['id'] + 1
return 'MODIFY'`,
    )
    await c.query('CREATE TRIGGER big_t BEFORE INSERT OR UPDATE ON big FOR EACH ROW EXECUTE FUNCTION big_f()')
    c.notices.length = 0
    await c.query(
      `INSERT INTO big VALUES (1, repeat('abc', 100000), decode(repeat('ab', 50000), 'hex'), 0.1, 1.50)`,
    )
    await c.query(
      `INSERT INTO big SELECT 10, string_agg(md5(i::text), ''), '\\x', 3.4028235e38, 0.000000010 FROM generate_series(1, 2000) i`,
    )
    await c.query('UPDATE big SET id = id * 2')
    expect(c.notices.map((n) => n.message)).toEqual([
      'INSERT 300000 50000 None',
      'INSERT 64000 0 None',
      'UPDATE 300000 50000 300000',
      'UPDATE 64000 0 64000',
    ])
    const r = await c.query(`SELECT id, md5(t) AS t, md5(b) AS b, f4::text, n::text FROM big ORDER BY id`)
    const expected =
      await c.query(`SELECT md5(repeat('abc', 100000)) AS t1, md5(decode(repeat('ab', 50000), 'hex')) AS b1,
      (SELECT md5(string_agg(md5(i::text), '')) FROM generate_series(1, 2000) i) AS t2, md5('\\x'::bytea) AS b2`)
    const x = expected.rows[0]
    expect(r.rows).toEqual([
      { id: 5, t: x.t1, b: x.b1, f4: '0.1', n: '1.50' },
      { id: 23, t: x.t2, b: x.b2, f4: '3.4028235e+38', n: '0.000000010' },
    ])
  })
})
