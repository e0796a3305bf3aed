// What went wrong, in words, whatever was thrown: an Error, a string, a PostgreSQL error's fields
// ({ M: ... }), an object with a message, or anything else (as JSON) — never "[object Object]".

export function describeError(e: unknown): string {
  if (e instanceof Error) return e.message
  if (typeof e === 'string') return e
  if (e !== null && typeof e === 'object') {
    const o = e as { M?: unknown; message?: unknown }
    if (typeof o.M === 'string') return o.M
    if (typeof o.message === 'string') return o.message
    try {
      const json = JSON.stringify(e)
      if (json !== undefined && json !== '{}') return json
    } catch {
      // a cycle or a BigInt: its kind and keys instead
    }
    const kind = (e as object).constructor?.name ?? 'Object'
    const keys = Object.keys(e)
    return keys.length ? `${kind} { ${keys.join(', ')} }` : `${kind} {}`
  }
  return String(e)
}
