// The few frontend messages the engine writes itself (internal queries, session cleanup, startup).
// Formats: PostgreSQL docs, "Message Formats".
import { concatBytes } from '../../util/bytes.js'

const enc = new TextEncoder()

function message(type: number, body: Uint8Array): Uint8Array {
  const m = new Uint8Array(5 + body.length)
  m[0] = type
  new DataView(m.buffer).setInt32(1, 4 + body.length)
  m.set(body, 5)
  return m
}

function cstr(s: string): Uint8Array {
  const b = enc.encode(s)
  const out = new Uint8Array(b.length + 1)
  out.set(b)
  return out
}

/** Query (Q): one simple-protocol query string. */
export function query(sql: string): Uint8Array {
  return message(0x51, cstr(sql))
}

/** Parse (P) of an unnamed statement without parameter types. */
export function parseUnnamed(sql: string): Uint8Array {
  const q = enc.encode(sql)
  const m = new Uint8Array(5 + 1 + q.length + 1 + 2)
  m[0] = 0x50
  new DataView(m.buffer).setInt32(1, m.length - 1)
  m.set(q, 6)
  return m
}

/** Sync (S). */
export function sync(): Uint8Array {
  return message(0x53, new Uint8Array(0))
}

/** CopyFail (f): ends a COPY FROM STDIN with an error. */
export function copyFail(reason: string): Uint8Array {
  return message(0x66, cstr(reason))
}

/** StartupMessage, protocol 3.0 (no type byte). */
export function startup(params: Record<string, string>): Uint8Array {
  const parts: Uint8Array[] = [new Uint8Array([0, 3, 0, 0])]
  for (const [k, v] of Object.entries(params)) parts.push(cstr(k), cstr(v))
  parts.push(new Uint8Array([0]))
  const body = concatBytes(parts)
  const m = new Uint8Array(4 + body.length)
  new DataView(m.buffer).setInt32(0, m.length)
  m.set(body, 4)
  return m
}

/** A SQL string literal that is safe whatever the text and whatever standard_conforming_strings says. */
export function literal(s: string): string {
  return `E'${s.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`
}
