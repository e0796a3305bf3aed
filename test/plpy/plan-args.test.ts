// Prepared plans with several arguments of the common types through plpy.execute's C path (native/plpy/spiop.c
// encode_args: the plan's compiled converters encode the list in C, the engine builds the Datums): the same
// Python runs on pyglite and on PostgreSQL 15 + plpython3u, and every result, NULL, conversion error and
// SPI error must be the same — for plpy.execute(plan, args), plan.execute(args), plan.cursor(args) and
// plpy.cursor(plan, args), on simple expressions, a table read, and DML. On pyglite the test also counts the
// calls that left the C path for the Python one (the hook set_spi_hooks registers): only the forms C cannot
// take (a wrong length, a non-list sequence, a domain argument) may.
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Reference, startReference } from '../helpers/reference.js'
import { startServer, type TestServer } from '../helpers/server.js'

let srv: TestServer
let ref: Reference
let mine: pg.Client
let theirs: pg.Client

const SETUP = `
CREATE TABLE pa (id int PRIMARY KEY, i2 int2, i8 int8, f4 float4, f8 float8, n numeric, t text,
                 vc varchar(4), b bool, d date, u uuid, j jsonb, by bytea);
INSERT INTO pa SELECT g, g, g * 10000000000, g / 4.0, g / 3.0, g * 1.5, 't' || g, 'v' || g, g % 2 = 0,
                      date '2024-01-01' + g, ('00000000-0000-0000-0000-' || lpad(g::text, 12, '0'))::uuid,
                      jsonb_build_object('g', g), int4send(g)
  FROM generate_series(1, 300) g;
CREATE DOMAIN small_pos AS int CHECK (VALUE BETWEEN 1 AND 10);
`

/** The Python both servers run: each case's rows or error, one line each; on pyglite also the fallbacks. */
const BODY = `
import decimal
try:
    import _pyglite, _plpy.spi as S
except ImportError:
    _pyglite = None
calls = []
if _pyglite:
    def counting(*a):
        calls.append(repr(a[1]) if len(a) > 1 else "-")
        return S._execute(*a)
    _pyglite.set_spi_hooks(S.PLyPlan, S.PLyResult, counting, S.spi_error, S._pending_release)
out = []
def show(rows):
    return [sorted((k, type(v).__name__, v) for k, v in r.items()) for r in rows]
def case(name, f):
    try:
        r = f()
        out.append("%s: %r" % (name, show(r) if r is not None else None))
    except plpy.SPIError as e:
        out.append("%s: %s %s %s" % (name, type(e).__name__, e.sqlstate, e))
    except Exception as e:
        out.append("%s: %s %s" % (name, type(e).__name__, e))
try:
    expr = plpy.prepare("SELECT $1 AS i2, $2 AS i4, $3 AS i8, $4 AS f4, $5 AS f8, $6 AS n, $7 AS t, $8 AS vc, "
                        "$9 AS b, $10 AS d, $11 AS u, $12 AS j, $13 AS by",
                        ["int2", "int4", "int8", "float4", "float8", "numeric", "text", "varchar(4)",
                         "bool", "date", "uuid", "jsonb", "bytea"])
    good = [7, -2147483648, 1 << 40, 1.25, 0.1, decimal.Decimal("12.345"), "héllo ☃", "abcd", True,
            "2024-02-29", "00000000-0000-0000-0000-000000000007", '{"a": [1, 2]}', b"\\x00\\xff"]
    case("expr values", lambda: plpy.execute(expr, good))
    case("expr tuple", lambda: expr.execute(tuple(good)))
    case("expr nulls", lambda: expr.execute([None] * 13))
    def with_(i, v):
        a = list(good)
        a[i] = v
        return a
    for i, v in [(0, 32767), (0, 32768), (0, "12"), (0, 1.5), (0, True), (1, 2147483648), (1, "ten"),
                 (1, decimal.Decimal("3")), (2, -(1 << 63)), (2, 1 << 63), (2, 1 << 70), (2, 2.0),
                 (3, 3), (3, "1e39"), (3, "NaN"), (4, 7), (4, decimal.Decimal("0.5")), (4, "-Infinity"),
                 (4, float("nan")), (5, 3), (5, 0.1), (5, "abc"), (5, "1e-3"), (6, 42), (6, 1.5), (6, ""),
                 (6, "a\\x00b"), (6, True), (7, "abcde"), (7, "ab  "), (7, 12345), (8, 0), (8, 2), (8, ""),
                 (8, "f"), (8, []), (9, "2024-02-30"), (9, "infinity"), (10, "nope"), (11, "{bad"),
                 (11, 5), (12, "text"), (12, bytearray(b"ab"))]:
        case("expr arg %d %r" % (i, v), lambda: expr.execute(with_(i, v)))
    case("expr limit", lambda: plpy.execute(expr, good, 1))
    case("expr short", lambda: expr.execute(good[:3]))
    case("expr not a sequence", lambda: expr.execute(5))
    case("expr range", lambda: expr.execute(range(13)))
    table = plpy.prepare("SELECT id, i8, t, b FROM pa WHERE id = $1 AND t = $2 AND b = $3 AND n >= $4",
                         ["int4", "text", "bool", "numeric"])
    case("table hit", lambda: table.execute([4, "t4", True, 6]))
    case("table miss", lambda: plpy.execute(table, [5, "t5", True, 0]))
    case("table null", lambda: plpy.execute(table, [None, "t4", True, 0]))
    rng = plpy.prepare("SELECT id, f8, d, u, j, by FROM pa WHERE id BETWEEN $1 AND $2 AND f4 > $3 ORDER BY id",
                       ["int8", "int2", "float8"])
    case("table range", lambda: rng.execute([10, 14, 2.6]))
    case("table range limit", lambda: rng.execute([10, 14, 0.0], 2))
    case("table range cursor", lambda: list(rng.cursor([10, 12, 0])))
    case("table range plpy.cursor", lambda: plpy.cursor(rng, (13, 14, 0.5)).fetch(5))
    ins = plpy.prepare("INSERT INTO pa (id, i2, t, vc, b, n) VALUES ($1, $2, $3, $4, $5, $6) RETURNING *",
                       ["int4", "int2", "text", "varchar", "bool", "numeric"])
    case("insert", lambda: ins.execute([1001, 5, "new", "long varchar", False, 2.5]))
    case("insert duplicate", lambda: ins.execute([1001, 5, "new", "x", False, 2.5]))
    case("insert overflow", lambda: ins.execute([1002, 40000, "x", "x", True, 1]))
    upd = plpy.prepare("UPDATE pa SET t = $2, f8 = $3 WHERE id = $1", ["int4", "text", "float8"])
    case("update", lambda: (upd.execute([1001, "changed", 1e300]), plpy.execute("SELECT t, f8 FROM pa WHERE id = 1001"))[1])
    dom = plpy.prepare("SELECT $1 + $2 AS s", ["small_pos", "int4"])
    case("domain ok", lambda: dom.execute([3, 4]))
    case("domain check", lambda: dom.execute([11, 4]))
finally:
    if _pyglite:
        _pyglite.set_spi_hooks(S.PLyPlan, S.PLyResult, S._execute, S.spi_error, S._pending_release)
return "\\n".join(out) + ("\\nFALLBACKS " + " | ".join(calls) if _pyglite else "")
`

async function run(c: pg.Client): Promise<string> {
  await c.query(`CREATE OR REPLACE FUNCTION plan_args() RETURNS text LANGUAGE plpython3u AS $py$${BODY}$py$`)
  await c.query('BEGIN')
  try {
    return (await c.query('SELECT plan_args() AS v')).rows[0].v
  } finally {
    await c.query('ROLLBACK') // the DML cases run again on the next call
  }
}

beforeAll(async () => {
  const [s, r] = await Promise.all([startServer(), startReference()])
  srv = s
  ref = r
  mine = new pg.Client({ connectionString: srv.url() })
  theirs = new pg.Client({ connectionString: ref.url })
  await Promise.all([mine.connect(), theirs.connect()])
  await Promise.all([mine.query(SETUP), theirs.query(SETUP)])
}, 180_000)
afterAll(async () => {
  await mine?.end()
  await theirs?.end()
  await srv?.stop()
  ref?.stop()
})

describe('plans with several arguments', () => {
  it('give PostgreSQL 15 results, NULLs and errors through the C path', async () => {
    const [a, b] = await Promise.all([run(mine), run(theirs)])
    const [cases, fallbacks] = a.split('\nFALLBACKS ')
    expect(cases).toBe(b)
    // spot checks that the comparison compares something
    expect(b).toContain(
      `expr arg 0 32768: NumericValueOutOfRange 22003 value "32768" is out of range for type smallint`,
    )
    expect(b).toContain(
      `table hit: [[('b', 'bool', True), ('i8', 'int', 40000000000), ('id', 'int', 4), ('t', 'str', 't4')]]`,
    )
    expect(b).toMatch(
      /domain check: CheckViolation 23514 value for domain small_pos violates check constraint/,
    )
    // what left the C path: the short list, the non-sequences, and the plan with a domain argument (twice)
    expect(fallbacks).toBe('[7, -2147483648, 1099511627776] | 5 | range(0, 13) | [3, 4] | [11, 4]')
  }, 120_000)
})
