// plpy.execute / prepare / cursor through node-postgres against the real server: nested SQL runs through
// SPI inside the calling statement, results and errors are PL/Python's.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServer, type TestServer } from '../helpers/server.js'
import { type Client, connect, failure, pyValue } from './clients.js'

let srv: TestServer
let c: Client

beforeAll(async () => {
  srv = await startServer()
  c = await connect(srv)
  await c.query(`CREATE TABLE items (id int PRIMARY KEY, name text, price numeric, weight float8,
    ok bool, data bytea, code varchar(5), big int8)`)
  await c.query(`INSERT INTO items VALUES (1, 'one', 1.50, 2.5, true, '\\x0102', 'a', 9007199254740993),
    (2, 'two', NULL, NULL, false, NULL, NULL, NULL), (3, 'three', 3, 0.1, NULL, '', 'ccc', -1)`)
})
afterAll(async () => {
  await c?.end()
  await srv?.stop()
})

/** Run a Python body in a function (returning text unless said) and give back its result. */
const py = (body: string, returns = 'text') => pyValue(c, body, returns)

describe('plpy.execute and its result object', () => {
  it('gives rows by index and column, len, slices, str and the metadata methods', async () => {
    const v = await py(`
r = plpy.execute("SELECT id, name FROM items ORDER BY id")
return repr((len(r), r.nrows(), r.status(), r[0]['name'], r[-1]['id'], [x['id'] for x in r[1:]],
             r.colnames(), r.coltypes(), r.coltypmods(), [x['name'] for x in r]))`)
    expect(v).toBe("(3, 3, 5, 'one', 3, [2, 3], ['id', 'name'], [23, 25], [-1, -1], ['one', 'two', 'three'])")
    const s = await py(`return str(plpy.execute("SELECT 1 AS a UNION ALL SELECT 2"))`)
    expect(s).toBe("<PLyResult status=5 nrows=2 rows=[{'a': 1}, {'a': 2}]>")
  })

  it('converts values with the function argument mapping, not through text', async () => {
    const v = await py(`
r = plpy.execute("SELECT * FROM items ORDER BY id")
return repr([tuple((k, type(v).__name__, v) for k, v in sorted(row.items())) for row in r[:1]]) + repr(r[1]['price'])`)
    expect(v).toBe(
      "[(('big', 'int', 9007199254740993), ('code', 'str', 'a'), ('data', 'bytes', b'\\x01\\x02'), " +
        "('id', 'int', 1), ('name', 'str', 'one'), ('ok', 'bool', True), ('price', 'Decimal', Decimal('1.50')), " +
        "('weight', 'float', 2.5))]None",
    )
    expect(await py(`return repr(plpy.execute("SELECT 'x'::varchar(5) AS v")[0]['v'] + '!')`)).toBe("'x!'")
  })

  it('honours the row limit and reports commands without a result set', async () => {
    expect(await py(`r = plpy.execute("SELECT * FROM items", 2)\nreturn repr((len(r), r.nrows()))`)).toBe(
      '(2, 2)',
    )
    const v = await py(`
r = plpy.execute("UPDATE items SET name = name WHERE id > 1")
try:
    r.colnames()
except plpy.Error as e:
    return repr((r.status(), r.nrows(), len(r), str(e)))`)
    expect(v).toBe("(9, 2, 0, 'command did not produce a result set')")
    expect(await py(`return str(plpy.execute("CREATE TEMP TABLE tt (a int)"))`)).toBe(
      '<PLyResult status=4 nrows=0 rows=[]>',
    )
  })

  it('runs nested SQL inside the calling statement and transaction', async () => {
    await c.query(`CREATE TABLE log (msg text)`)
    await c.query(`CREATE FUNCTION add_log(m text) RETURNS int LANGUAGE plpython3u AS $$
plpy.execute("INSERT INTO log VALUES ('%s')" % m)
return plpy.execute("SELECT count(*) AS n FROM log")[0]['n']
$$`)
    await c.query('BEGIN')
    expect((await c.query(`SELECT add_log('a') AS n`)).rows[0].n).toBe(1)
    await c.query('ROLLBACK')
    expect((await c.query('SELECT count(*)::int AS n FROM log')).rows[0].n).toBe(0)
    // recursion: SQL → Python → SQL → Python
    await c.query(`CREATE FUNCTION rsum(a int) RETURNS int LANGUAGE plpython3u AS $$
return a + (plpy.execute("SELECT rsum(%d) AS s" % (a - 1))[0]['s'] if a > 1 else 0)
$$`)
    expect((await c.query('SELECT rsum(20) AS s')).rows[0].s).toBe(210)
  })

  it('runs a repeated query text as of now: DDL, search_path and multi-statement texts', async () => {
    // plpy.execute keeps a plan per single-statement text; PostgreSQL's plan cache must re-plan it
    await c.query(`CREATE FUNCTION run(q text) RETURNS text LANGUAGE plpython3u AS $$
return repr(list(plpy.execute(q)))
$$`)
    await c.query('CREATE SCHEMA s1; CREATE SCHEMA s2')
    await c.query(`CREATE TABLE s1.t (a int); INSERT INTO s1.t VALUES (1)`)
    await c.query(`CREATE TABLE s2.t (b text); INSERT INTO s2.t VALUES ('two')`)
    const q = 'SELECT * FROM t'
    await c.query('SET search_path = s1')
    expect((await c.query('SELECT public.run($1) AS v', [q])).rows[0].v).toBe("[{'a': 1}]")
    await c.query('SET search_path = s2')
    expect((await c.query('SELECT public.run($1) AS v', [q])).rows[0].v).toBe("[{'b': 'two'}]")
    await c.query('ALTER TABLE s2.t ADD COLUMN c int DEFAULT 3')
    expect((await c.query('SELECT public.run($1) AS v', [q])).rows[0].v).toBe("[{'b': 'two', 'c': 3}]")
    await c.query('DROP TABLE s2.t')
    const gone = await failure(c, 'SELECT public.run($1)', [q])
    expect([gone.code, gone.message]).toEqual([
      '42P01',
      'spiexceptions.UndefinedTable: relation "t" does not exist',
    ])
    expect(gone.internalQuery).toBe(q)
    await c.query(`CREATE TABLE s2.t (d bool); INSERT INTO s2.t VALUES (true)`)
    expect((await c.query('SELECT public.run($1) AS v', [q])).rows[0].v).toBe("[{'d': True}]")
    await c.query('RESET search_path')
    // a later statement of one text may depend on an earlier one (analysed just before it runs)
    const multi = 'CREATE TEMP TABLE tt2 (x int); INSERT INTO tt2 VALUES (5); SELECT x FROM tt2'
    expect((await c.query('SELECT run($1) AS v', [multi])).rows[0].v).toBe("[{'x': 5}]")
  })

  it('uses read-only SPI in STABLE and IMMUTABLE functions', async () => {
    await c.query(`CREATE FUNCTION ro_write() RETURNS int STABLE LANGUAGE plpython3u AS $$
plpy.execute("INSERT INTO log VALUES ('x')")
return 1
$$`)
    const e = await failure(c, 'SELECT ro_write()')
    expect(e.code).toBe('0A000')
    expect(e.message).toBe(
      'spiexceptions.FeatureNotSupported: INSERT is not allowed in a non-volatile function',
    )
    await c.query(`CREATE FUNCTION ro_read() RETURNS bigint IMMUTABLE LANGUAGE plpython3u AS $$
return plpy.execute("SELECT count(*) AS n FROM items")[0]['n']
$$`)
    expect((await c.query('SELECT ro_read() AS n')).rows[0].n).toBe('3')
  })
})

describe('plpy.prepare and plans', () => {
  it('executes plans with arguments converted by PL/Python rules, None as NULL', async () => {
    const v = await py(`
p = plpy.prepare("SELECT $1::int + $2 AS s, $3 AS t, $3 IS NULL AS n", ["int4", "int8", "text"])
return repr((p.status(), p.execute([1, 2**40, 'x'])[0], plpy.execute(p, (1, 2, None))[0],
             plpy.execute(p, [1, 2, 3.5], 1).nrows()))`)
    expect(v).toBe("(True, {'s': 1099511627777, 't': 'x', 'n': False}, {'s': 3, 't': None, 'n': True}, 1)")
  })

  it('applies the declared typmod and reports bad values as SPI errors', async () => {
    const v = await py(`
p = plpy.prepare("SELECT $1 AS v", ["varchar(3)"])
q = plpy.prepare("SELECT $1 AS v", ["int4"])
out = []
for plan, arg in ((p, 'abcdef'), (q, 'nope'), (q, True)):
    try:
        plan.execute([arg])
    except plpy.SPIError as e:
        out.append((type(e).__name__, e.sqlstate, str(e)))
return repr(out)`)
    expect(v).toBe(
      "[('StringDataRightTruncation', '22001', 'value too long for type character varying(3)'), " +
        "('InvalidTextRepresentation', '22P02', 'invalid input syntax for type integer: \"nope\"'), " +
        "('InvalidTextRepresentation', '22P02', 'invalid input syntax for type integer: \"True\"')]",
    )
  })

  it('keeps plans across calls in SD and GD', async () => {
    await c.query(`CREATE FUNCTION by_id(i int) RETURNS text LANGUAGE plpython3u AS $$
if 'p' not in SD:
    SD['p'] = plpy.prepare("SELECT name FROM items WHERE id = $1", ["int"])
    GD['prepared'] = GD.get('prepared', 0) + 1
return SD['p'].execute([i])[0]['name']
$$`)
    await c.query(
      `CREATE FUNCTION prepared_count() RETURNS int LANGUAGE plpython3u AS $$ return GD['prepared'] $$`,
    )
    const r = await c.query('SELECT by_id(1) AS a, by_id(2) AS b, by_id(3) AS c')
    expect(r.rows[0]).toEqual({ a: 'one', b: 'two', c: 'three' })
    await c.query('BEGIN')
    expect((await c.query('SELECT by_id(2) AS v')).rows[0].v).toBe('two')
    await c.query('ROLLBACK')
    expect((await c.query('SELECT by_id(3) AS v')).rows[0].v).toBe('three')
    expect((await c.query('SELECT prepared_count() AS n')).rows[0].n).toBe(1)
  })

  it('rejects wrong argument lists as PL/Python does', async () => {
    const v = await py(`
p = plpy.prepare("SELECT $1 AS a", ["text"])
out = []
for f in (lambda: p.execute(['a', 'b']), lambda: plpy.execute(p, 'ab'), lambda: p.execute(),
          lambda: plpy.prepare("SELECT $1", ["no_such_type"]), lambda: plpy.execute(42)):
    try:
        f()
    except Exception as e:
        out.append('%s: %s' % (type(e).__name__, e))
return '\\n'.join(out)`)
    expect(v).toBe(
      [
        "TypeError: Expected sequence of 1 argument, got 2: ['a', 'b']",
        'TypeError: plpy.execute takes a sequence as its second argument',
        'TypeError: Expected sequence of 1 argument, got 0: <NULL>',
        'UndefinedObject: type "no_such_type" does not exist',
        'Error: plpy.execute expected a query or a plan',
      ].join('\n'),
    )
  })
})

describe('plpy.cursor', () => {
  it('iterates, fetches, closes, and leaves no portal behind', async () => {
    const v = await py(`
cur = plpy.cursor("SELECT id FROM items ORDER BY id")
first = next(cur)['id']
batch = cur.fetch(5)
rest = cur.fetch(5)
cur.close()
cur.close()
try:
    cur.fetch(1)
except ValueError as e:
    closed = str(e)
p = plpy.prepare("SELECT name FROM items WHERE id > $1 ORDER BY id", ["int"])
names = [r['name'] for r in p.cursor([1])] + [r['name'] for r in plpy.cursor(p, [2])]
return repr((first, batch.status(), batch.nrows(), [r['id'] for r in batch], len(rest), closed, names))`)
    expect(v).toBe("(1, 3, 2, [2, 3], 0, 'fetch from a closed cursor', ['two', 'three', 'three'])")
    expect((await c.query('SELECT count(*)::int AS n FROM pg_cursors')).rows[0].n).toBe(0)
  })

  it('raises PostgreSQL errors for cursors that outlive their call', async () => {
    await c.query(`CREATE FUNCTION keep_cursor() RETURNS int LANGUAGE plpython3u AS $$
GD['cur'] = plpy.cursor("SELECT generate_series(1, 10) AS i")
return len(GD['cur'].fetch(2))
$$`)
    await c.query(`CREATE FUNCTION use_cursor() RETURNS int LANGUAGE plpython3u AS $$
return len(GD['cur'].fetch(2))
$$`)
    // PostgreSQL refuses to commit while PL/Python keeps the portal pinned
    const e1 = await failure(c, 'SELECT keep_cursor()')
    expect([e1.code, e1.message]).toEqual(['XX000', 'cannot commit while a portal is pinned'])
    const e2 = await failure(c, 'SELECT use_cursor()')
    expect([e2.code, e2.message]).toEqual([
      '38000',
      'ValueError: iterating a cursor in an aborted subtransaction',
    ])
    // inside one transaction block the cursor lives on until COMMIT
    await c.query('BEGIN')
    expect((await c.query('SELECT keep_cursor() AS n')).rows[0].n).toBe(2)
    expect((await c.query('SELECT use_cursor() AS n')).rows[0].n).toBe(2)
    const e3 = await failure(c, 'COMMIT')
    expect(e3.message).toBe('cannot commit while a portal is pinned')
    await c.query(`CREATE FUNCTION close_cursor() RETURNS int LANGUAGE plpython3u AS $$
GD['cur'].close()
$$`)
    const e4 = await failure(c, 'SELECT close_cursor()')
    expect(e4.message).toBe('ValueError: closing a cursor in an aborted subtransaction')
  })
})

describe('errors of nested SQL', () => {
  it('raises the spiexceptions class of the SQLSTATE with sqlstate and spidata', async () => {
    const v = await py(`
try:
    plpy.execute("INSERT INTO items (id) VALUES (1)")
except plpy.spiexceptions.UniqueViolation as e:
    return repr((type(e).__name__, type(e).__module__, isinstance(e, plpy.SPIError), e.sqlstate, e.args,
                 e.spidata[1:]))`)
    expect(v).toBe(
      "('UniqueViolation', 'spiexceptions', True, '23505', ('duplicate key value violates unique constraint \"items_pkey\"',), " +
        "('Key (id)=(1) already exists.', None, None, 0, 'public', 'items', None, None, 'items_pkey'))",
    )
  })

  it('passes the error fields of an uncaught SPI exception to the client', async () => {
    await c.query(`CREATE FUNCTION dup() RETURNS void LANGUAGE plpython3u AS $$
plpy.execute("INSERT INTO items (id) VALUES (2)")
$$`)
    const e = await failure(c, 'SELECT dup()')
    expect(e.code).toBe('23505')
    expect(e.message).toBe(
      'spiexceptions.UniqueViolation: duplicate key value violates unique constraint "items_pkey"',
    )
    expect(e.detail).toBe('Key (id)=(2) already exists.')
    expect([e.schema, e.table, e.constraint]).toEqual(['public', 'items', 'items_pkey'])
    expect(e.where).toBe(
      'Traceback (most recent call last):\n  PL/Python function "dup", line 2, in <module>\n' +
        '    plpy.execute("INSERT INTO items (id) VALUES (2)")\nPL/Python function "dup"',
    )
    const syntax = await failure(c, `DO $$ plpy.execute("SELEC 1") $$ LANGUAGE plpython3u`)
    expect([syntax.code, syntax.internalQuery, syntax.internalPosition]).toEqual(['42601', 'SELEC 1', '1'])
    // the session is still usable
    expect((await c.query('SELECT 1 AS one')).rows[0].one).toBe(1)
  })

  it('reports SPI failures without an SQLSTATE as plain plpy.SPIError', async () => {
    const e = await failure(c, `DO $$ plpy.execute("SAVEPOINT s") $$ LANGUAGE plpython3u`)
    expect([e.code, e.message]).toEqual(['38000', 'plpy.SPIError: SPI_execute failed: SPI_ERROR_TRANSACTION'])
    // a raised spiexception keeps its SQLSTATE; a custom one is honoured
    expect(
      (await failure(c, `DO $$ raise plpy.spiexceptions.DivisionByZero() $$ LANGUAGE plpython3u`)).code,
    ).toBe('22012')
    const custom = await failure(
      c,
      `DO $$
e = plpy.SPIError("custom")
e.sqlstate = "P0099"
raise e
$$ LANGUAGE plpython3u`,
    )
    expect([custom.code, custom.message]).toEqual(['P0099', 'plpy.SPIError: custom'])
  })
})

describe('plpy inside a trigger', () => {
  it('reads and writes through plpy.execute with a plan kept in SD; errors roll back with the row', async () => {
    await c.query(`CREATE TABLE prices (sku text PRIMARY KEY, price numeric)`)
    await c.query(`INSERT INTO prices VALUES ('a', 2.50), ('b', 10)`)
    await c.query(`CREATE TABLE orders (id serial, sku text, qty int, total numeric)`)
    await c.query(`CREATE TABLE audit (msg text PRIMARY KEY)`)
    await c.query(`CREATE FUNCTION price_order() RETURNS trigger LANGUAGE plpython3u AS $$
if 'p' not in SD:
    SD['p'] = plpy.prepare("SELECT price FROM prices WHERE sku = $1", ["text"])
r = SD['p'].execute([TD['new']['sku']])
if not r:
    plpy.error("unknown sku %s" % TD['new']['sku'], sqlstate='P0002', hint='add it to prices')
TD['new']['total'] = r[0]['price'] * TD['new']['qty']
try:
    plpy.execute("INSERT INTO audit VALUES (%s)" % plpy.quote_literal('order of ' + TD['new']['sku']))
except plpy.spiexceptions.UniqueViolation:
    plpy.notice("already audited: " + TD['new']['sku'])
return 'MODIFY'
$$`)
    await c.query('CREATE TRIGGER price BEFORE INSERT ON orders FOR EACH ROW EXECUTE FUNCTION price_order()')
    c.notices.length = 0
    await c.query(`INSERT INTO orders (sku, qty) VALUES ('a', 4), ('b', 1), ('a', 1)`)
    expect((await c.query('SELECT sku, qty, total::text FROM orders ORDER BY id')).rows).toEqual([
      { sku: 'a', qty: 4, total: '10.00' },
      { sku: 'b', qty: 1, total: '10' },
      { sku: 'a', qty: 1, total: '2.50' },
    ])
    expect(c.notices.map((n) => n.message)).toEqual(['already audited: a'])
    const e = await failure(c, `INSERT INTO orders (sku, qty) VALUES ('b', 2), ('zz', 1)`)
    expect([e.code, e.message, e.hint]).toEqual(['P0002', 'plpy.Error: unknown sku zz', 'add it to prices'])
    expect(e.where).toContain('PL/Python function "price_order"')
    // the failed statement's first row and its audit work are gone with it
    expect((await c.query('SELECT count(*)::int AS n FROM orders')).rows[0].n).toBe(3)
    expect((await c.query('SELECT msg FROM audit ORDER BY msg')).rows).toEqual([
      { msg: 'order of a' },
      { msg: 'order of b' },
    ])
  })
})
