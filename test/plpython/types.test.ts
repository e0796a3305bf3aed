// PL/Python's type mapping both ways (PostgreSQL 18 plpy_typeio.c), through node-postgres against a real
// server: what Python sees for each SQL type, and what each returned Python object becomes, including
// the errors PostgreSQL raises (SQLSTATE, message, CONTEXT).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServer, type TestServer } from '../helpers/server.js'
import { type Client, connect, failure, fn, value } from './util.js'

let srv: TestServer
let c: Client
beforeAll(async () => {
  srv = await startServer()
  c = await connect(srv)
  await c.query(`SET DateStyle = 'ISO, MDY'`)
  await c.query(`CREATE TYPE pair AS (a int, b text)`)
  await c.query(`CREATE TYPE nest AS (p pair, tags text[], n numeric)`)
  await c.query(`CREATE TYPE short AS (v varchar(3))`)
  await c.query(`CREATE DOMAIN posint AS int CHECK (VALUE > 0)`)
  await c.query(`CREATE DOMAIN nnint AS int NOT NULL`)
  await c.query(`CREATE DOMAIN ordered AS int[] CHECK (VALUE[1] < VALUE[2])`)
  await c.query(`CREATE DOMAIN pos_pair AS pair CHECK ((VALUE).a > 0)`)
})
afterAll(async () => {
  await c?.end()
  await srv?.stop()
})

/** repr((type name, value)) of what Python received for `literal::type`. */
async function seen(type: string, literal: string): Promise<unknown> {
  const name = `seen_${type.replace(/\W/g, '_')}`
  await fn(c, `${name}(x ${type}) RETURNS text`, 'return repr((type(x).__name__, x))')
  return value(c, `SELECT ${name}(${literal}::${type})`)
}

describe('SQL values as Python objects', () => {
  it.each([
    ['int2', '32767', "('int', 32767)"],
    ['int4', "'-2147483648'", "('int', -2147483648)"],
    ['int8', '9223372036854775807', "('int', 9223372036854775807)"],
    ['oid', '4294967295', "('int', 4294967295)"],
    ['float4', '3.14', "('float', 3.140000104904175)"],
    ['float8', '0.1', "('float', 0.1)"],
    ['float8', "'NaN'", "('float', nan)"],
    ['float8', "'-Infinity'", "('float', -inf)"],
    [
      'numeric',
      '123456789012345678901234567890.125',
      "('Decimal', Decimal('123456789012345678901234567890.125'))",
    ],
    ['numeric', "'NaN'", "('Decimal', Decimal('NaN'))"],
    ['bool', 'true', "('bool', True)"],
    ['bytea', "'\\x00ff41'", "('bytes', b'\\x00\\xffA')"],
    ['text', "'héllo ☃'", "('str', 'héllo ☃')"],
    ['varchar(5)', "'ab'", "('str', 'ab')"],
    ['char(4)', "'ab'", "('str', 'ab  ')"],
    ['name', "'pg_class'", "('str', 'pg_class')"],
    ['date', "'2024-02-29'", "('str', '2024-02-29')"],
    ['timestamp', "'2024-02-29 13:14:15.5'", "('str', '2024-02-29 13:14:15.5')"],
    ['interval', "'1 day 2 hours'", "('str', '1 day 02:00:00')"],
    ['json', `'{"a": [1, 2]}'`, `('str', '{"a": [1, 2]}')`],
    ['jsonb', `'{"b":1,  "a": [1, 2]}'`, `('str', '{"a": [1, 2], "b": 1}')`],
    ['uuid', "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'", "('str', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11')"],
    ['int[]', "'{{1,NULL},{3,4}}'", "('list', [[1, None], [3, 4]])"],
    ['int[]', "'[2:3]={7,8}'", "('list', [7, 8])"],
    ['int[]', "'{}'", "('list', [])"],
    ['text[]', `'{"a,b","c\\"d",NULL}'`, `('list', ['a,b', 'c"d', None])`],
    ['int8[]', "'{{{1}},{{2}}}'", "('list', [[[1]], [[2]]])"],
    ['numeric[]', "'{1.5,NULL}'", "('list', [Decimal('1.5'), None])"],
    ['bool[]', "'{t,f}'", "('list', [True, False])"],
    ['pair', "'(1,x)'", "('dict', {'a': 1, 'b': 'x'})"],
    [
      'nest',
      `'("(2,y)","{u,v}",2.50)'`,
      "('dict', {'p': {'a': 2, 'b': 'y'}, 'tags': ['u', 'v'], 'n': Decimal('2.50')})",
    ],
    ['pair[]', `'{"(1,x)","(2,)"}'`, "('list', [{'a': 1, 'b': 'x'}, {'a': 2, 'b': None}])"],
    ['posint', '5', "('int', 5)"],
    ['ordered', "'{1,2}'", "('list', [1, 2])"],
    ['pos_pair', "'(3,z)'", "('dict', {'a': 3, 'b': 'z'})"],
  ])('%s %s', async (type, literal, expected) => {
    expect(await seen(type, literal)).toBe(expected)
  })

  it('NULL arrives as None (non-strict functions)', async () => {
    expect(await seen('int', 'NULL')).toBe("('NoneType', None)")
    expect(await seen('pair', 'NULL')).toBe("('NoneType', None)")
  })

  it('a composite with a dropped column shows only live columns', async () => {
    await c.query('CREATE TABLE wide (a int, gone text, b text)')
    await c.query('ALTER TABLE wide DROP COLUMN gone')
    await c.query(`INSERT INTO wide VALUES (1, 'one')`)
    await fn(c, 'show_wide(w wide) RETURNS text', 'return repr(w)')
    expect(await value(c, 'SELECT show_wide(wide) FROM wide')).toBe("{'a': 1, 'b': 'one'}")
  })

  it('large text and bytea arguments (TOASTed) arrive whole', async () => {
    await c.query('CREATE TABLE big (t text, b bytea)')
    await c.query(`INSERT INTO big SELECT repeat('abc', 100000), decode(repeat('00ff', 50000), 'hex')`)
    await fn(c, 'sizes(t text, b bytea) RETURNS text', 'return "%d %d %r" % (len(t), len(b), b[:2])')
    expect(await value(c, 'SELECT sizes(t, b) FROM big')).toBe("300000 100000 b'\\x00\\xff'")
  })
})

/** What a function returning `type` makes of the Python expression `expr`. */
async function made(type: string, expr: string): Promise<unknown> {
  const name = `made_${type.replace(/\W/g, '_')}`
  await fn(c, `${name}() RETURNS ${type}`, `return ${expr}`)
  return value(c, `SELECT ${name}()::text`)
}

describe('Python objects as SQL values', () => {
  it.each([
    ['int4', '42', '42'],
    ['int4', "'42'", '42'],
    ['int8', '2**63 - 1', '9223372036854775807'],
    ['int2', '-32768', '-32768'],
    ['float8', '1/3', '0.3333333333333333'],
    ['float4', '0.1', '0.1'],
    ['float8', "float('inf')", 'Infinity'],
    ['numeric', "__import__('decimal').Decimal('1.10')", '1.10'],
    ['numeric', '1/3', '0.3333333333333333'],
    ['numeric', '2**70', '1180591620717411303424'],
    ['bool', '[]', 'false'],
    ['bool', "'f'", 'true'],
    ['bool', '0', 'false'],
    ['bool', "{'k': 1}", 'true'],
    ['bool', 'None', null],
    ['bytea', "b'\\x00\\x01A'", '\\x000141'],
    ['bytea', "bytearray(b'hi')", '\\x6869'],
    ['bytea', '[1, 2, 255]', '\\x0102ff'],
    ['text', '123', '123'],
    ['text', '[1, "a"]', "[1, 'a']"],
    ['text', '1.5e300', '1.5e+300'],
    ['varchar', "'x' * 3", 'xxx'],
    ['text', "'a\\x00b'", 'a'], // PLyUnicode_Bytes ends the string at its first NUL
    ['int4', "'1\\x002'", '1'],
    ['date', "'2024-02-29'", '2024-02-29'],
    ['json', '\'{"a": 1}\'', '{"a": 1}'],
    ['int[]', '[[1, 2], [3, 4]]', '{{1,2},{3,4}}'],
    ['int[]', '[]', '{}'],
    ['int[]', '[None, 1]', '{NULL,1}'],
    ['int[]', '(1, 2)', '{1,2}'],
    ['int[]', '[[]]', '{}'],
    ['text[]', "'ab'", '{a,b}'],
    ['text[]', "[['a', None], ['b', 'c']]", '{{a,NULL},{b,c}}'],
    ['pair', "{'a': 1, 'b': 'x'}", '(1,x)'],
    ['pair', "(2, 'y')", '(2,y)'],
    ['pair', '[3, None]', '(3,)'],
    ['pair', "'(4,z)'", '(4,z)'],
    ['pair', "type('O', (), {'a': 5, 'b': 'o'})()", '(5,o)'],
    ['nest', "{'p': (1, 'q'), 'tags': ['t'], 'n': 1.25}", '("(1,q)",{t},1.25)'],
    ['pair[]', "[(1, 'x'), {'a': 2, 'b': 'y'}]", '{"(1,x)","(2,y)"}'],
    ['posint', '7', '7'],
    ['ordered', '[1, 9]', '{1,9}'],
    ['pos_pair', "(1, 'ok')", '(1,ok)'],
  ])('%s from %s', async (type, expr, expected) => {
    expect(await made(type, expr)).toBe(expected)
  })

  it.each([
    ['int4', '2**31', '22003', 'value "2147483648" is out of range for type integer'],
    ['int4', '5.5', '22P02', 'invalid input syntax for type integer: "5.5"'],
    ['int4', 'True', '22P02', 'invalid input syntax for type integer: "True"'],
    ['int2', '40000', '22003', 'value "40000" is out of range for type smallint'],
    ['json', "{'a': 1}", '22P02', 'invalid input syntax for type json'],
    ['bytea', "'abc'", '38000', 'could not create bytes representation of Python object'],
    ['int[]', '5', '42804', 'return value of function with array return type is not a Python sequence'],
    [
      'int[]',
      '[[1, 2], [3]]',
      '22P02',
      'multidimensional arrays must have array expressions with matching dimensions',
    ],
    [
      'int[]',
      '[1, [2]]',
      '22P02',
      'multidimensional arrays must have array expressions with matching dimensions',
    ],
    ['int[]', '[[[[[[[1]]]]]]]', '54000', 'number of array dimensions exceeds the maximum allowed (6)'],
    ['pair', "{'a': 1}", '42703', 'key "b" not found in mapping'],
    ['pair', '(1, 2, 3)', '42804', 'length of returned sequence did not match number of columns in row'],
    ['pair', 'object()', '42703', 'attribute "a" does not exist in Python object'],
    ['pair[]', "[['x', 1]]", '22P02', 'malformed record literal: "x"'],
    ['short', "{'v': 'abcd'}", '22001', 'value too long for type character varying(3)'],
    ['posint', '-1', '23514', 'value for domain posint violates check constraint "posint_check"'],
    ['nnint', 'None', '23502', 'domain nnint does not allow null values'],
    ['ordered', '[2, 1]', '23514', 'value for domain ordered violates check constraint "ordered_check"'],
    [
      'pos_pair',
      "(0, 'no')",
      '23514',
      'value for domain pos_pair violates check constraint "pos_pair_check"',
    ],
  ])('%s from %s fails like PostgreSQL', async (type, expr, code, message) => {
    const name = `bad_${type.replace(/\W/g, '_')}`
    await fn(c, `${name}() RETURNS ${type}`, `return ${expr}`)
    const e = await failure(c, `SELECT ${name}()`)
    expect(e.code).toBe(code)
    expect(e.message).toBe(message)
    expect(e.where).toContain('while creating return value')
    expect(e.where).toContain(`PL/Python function "${name}"`)
  })

  it('hints and details of composite and bytea errors', async () => {
    await fn(c, 'hint_key() RETURNS pair', "return {'a': 1}")
    expect((await failure(c, 'SELECT hint_key()')).hint).toBe(
      'To return null in a column, add the value None to the mapping with the key named after the column.',
    )
    await fn(c, 'hint_arr() RETURNS pair[]', "return [['x', 1]]")
    const e = await failure(c, 'SELECT hint_arr()')
    expect(e.detail).toBe('Missing left parenthesis.')
    expect(e.hint).toBe(
      `To return a composite type in an array, return the composite type as a Python tuple, e.g., "[('foo',)]".`,
    )
    await fn(c, 'str_bytes() RETURNS bytea', "return 'abc'")
    expect((await failure(c, 'SELECT str_bytes()')).detail).toBe(
      "TypeError: cannot convert 'str' object to bytes",
    )
  })

  it('a composite type altered between calls is converted by its new shape', async () => {
    await c.query('CREATE TYPE shape AS (x int)')
    await fn(c, 'shaped() RETURNS shape', "return {'x': 1, 'y': 2}")
    expect(await value(c, 'SELECT shaped()::text')).toBe('(1)')
    await c.query('ALTER TYPE shape ADD ATTRIBUTE y int')
    expect(await value(c, 'SELECT shaped()::text')).toBe('(1,2)')
  })

  it('the session stays usable after every conversion error', async () => {
    expect(await value(c, 'SELECT 1')).toBe(1)
  })
})
