// describeError: whatever was thrown becomes words in an "internal error: ..." message, never
// "[object Object]" (a CREATE DATABASE once failed with FATAL XX000 "internal error: [object Object]").
import { describe, expect, it } from 'vitest'
import { describeError } from '../../src/util/errors.js'

describe('describeError', () => {
  it('takes an Error its message and a string itself', () => {
    expect(describeError(new TypeError('bad type'))).toBe('bad type')
    expect(describeError('plain words')).toBe('plain words')
  })

  it("takes a PostgreSQL error's fields their primary message", () => {
    expect(describeError({ S: 'ERROR', C: '42P01', M: 'relation "x" does not exist' })).toBe(
      'relation "x" does not exist',
    )
    expect(describeError({ message: 'from a worker', code: 'E1' })).toBe('from a worker')
  })

  it('shows any other value, cycles and BigInts included', () => {
    expect(describeError({ status: 3, why: ['a'] })).toBe('{"status":3,"why":["a"]}')
    const cyclic: Record<string, unknown> = { a: 1 }
    cyclic.self = cyclic
    expect(describeError(cyclic)).toBe('Object { a, self }')
    expect(describeError({ n: 1n })).toBe('Object { n }')
    expect(describeError({})).toBe('Object {}')
    expect(describeError(undefined)).toBe('undefined')
    expect(describeError(42)).toBe('42')
    for (const v of [{}, { a: 1 }, [], cyclic, { n: 1n }]) expect(describeError(v)).not.toContain('[object')
  })
})
