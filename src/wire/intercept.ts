// The wire layer's side of database commands: find a CREATE/DROP DATABASE Query message in a batch of
// frontend messages, and encode the answer the main thread gives in place of PostgreSQL.

import type { CommandReply } from '../databases/manager.js'
import { type DatabaseCommand, parseDatabaseCommand } from '../databases/statements.js'
import { concatBytes } from '../util/bytes.js'
import { errorResponse, noticeResponse, readyForQuery } from './serialize.js'

const QUERY = 0x51 // 'Q'
const dec = new TextDecoder()

export interface FoundCommand {
  /** offset of the Query (or Parse) message in the batch */
  start: number
  /** offset just after it (extended protocol: after the Sync that ends its batch, or the data's end) */
  end: number
  command: DatabaseCommand
  /** sent with Parse/Bind/Execute (pgJDBC does): the reply follows the extended protocol */
  extended: boolean
}

const msgLen = (d: Uint8Array, o: number) =>
  ((d[o + 1]! << 24) | (d[o + 2]! << 16) | (d[o + 3]! << 8) | d[o + 4]!) >>> 0

/**
 * The first Query message in `data` (complete messages) that is a database command, or a Parse of one
 * without parameters (then the range runs to the batch's Sync: Bind, Describe, Execute are answered here).
 */
export function findDatabaseCommand(data: Uint8Array): FoundCommand | null {
  let o = 0
  while (o + 5 <= data.length) {
    const end = o + 1 + msgLen(data, o)
    const type = data[o]
    // 'D','A','T','A','B','A','S','E' must be in there; a cheap byte scan before decoding
    if ((type === QUERY || type === PARSE) && end <= data.length && hasWordDatabase(data, o + 5, end)) {
      if (type === QUERY) {
        const command = parseDatabaseCommand(dec.decode(data.subarray(o + 5, end - 1)))
        if (command) return { start: o, end, command, extended: false }
      } else {
        // Parse: statement name, query text (both NUL-terminated inside the message), parameter types.
        // Declared parameter types do not matter: a database command has no $n (the lexer gives up on '$').
        const name = data.indexOf(0, o + 5)
        const text = name < 0 ? -1 : data.indexOf(0, name + 1)
        if (text > 0 && text < end) {
          const command = parseDatabaseCommand(dec.decode(data.subarray(name + 1, text)))
          if (command) return { start: o, end: extendedEnd(data, end), command, extended: true }
        }
      }
    }
    o = end
  }
  return null
}

/** Where the extended-protocol batch started by a Parse ends: after its Sync, before anything else. */
function extendedEnd(data: Uint8Array, from: number): number {
  let o = from
  while (o + 5 <= data.length) {
    const t = data[o]!
    if (!EXTENDED.has(t)) return o
    o += 1 + msgLen(data, o)
    if (t === SYNC) return o
  }
  return o
}

/**
 * The extended-protocol answer for Parse … Sync holding a database command: ParseComplete, BindComplete,
 * NoData for Describe, the command's result at Execute (after an error, messages are skipped until Sync,
 * as PostgreSQL does), CloseComplete, ReadyForQuery at Sync.
 */
export async function answerExtended(
  data: Uint8Array,
  execute: () => Promise<CommandReply>,
): Promise<Uint8Array> {
  const out: Uint8Array[] = []
  let failed = false
  let o = 0
  while (o + 5 <= data.length) {
    const t = data[o]!
    const body = o + 5
    o += 1 + msgLen(data, o)
    if (t === SYNC) {
      out.push(readyForQuery('I'))
      failed = false
      continue
    }
    if (failed) continue
    if (t === PARSE) out.push(tiny(0x31))
    else if (t === BIND) out.push(tiny(0x32))
    else if (t === CLOSE) out.push(tiny(0x33))
    else if (t === DESCRIBE) {
      if (data[body] === 0x53) out.push(new Uint8Array([0x74, 0, 0, 0, 6, 0, 0])) // ParameterDescription: none
      out.push(tiny(0x6e)) // NoData
    } else if (t === EXECUTE) {
      const r = await execute()
      if (r.ok) out.push(...r.notices.map(noticeResponse), commandComplete(r.tag))
      else {
        out.push(errorResponse(r.error))
        failed = true
      }
    }
  }
  return concatBytes(out)
}

const PARSE = 0x50
const BIND = 0x42
const DESCRIBE = 0x44
const EXECUTE = 0x45
const CLOSE = 0x43
const FLUSH = 0x48
const SYNC = 0x53
const EXTENDED = new Set([PARSE, BIND, DESCRIBE, EXECUTE, CLOSE, FLUSH, SYNC])
const tiny = (type: number) => new Uint8Array([type, 0, 0, 0, 4])

function hasWordDatabase(d: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i + 8 <= to; i++) {
    if ((d[i]! | 0x20) === 0x64 && (d[i + 1]! | 0x20) === 0x61 && (d[i + 2]! | 0x20) === 0x74) {
      const w = dec.decode(d.subarray(i, i + 8)).toLowerCase()
      if (w === 'database') return true
    }
  }
  return false
}

function commandComplete(tag: string): Uint8Array {
  const body = new TextEncoder().encode(`${tag}\0`)
  const out = new Uint8Array(5 + body.length)
  out[0] = 0x43 // 'C'
  new DataView(out.buffer).setInt32(1, 4 + body.length)
  out.set(body, 5)
  return out
}

/** What the client receives for the command: notices and CommandComplete, or ErrorResponse; then Idle. */
export function encodeReply(r: CommandReply): Uint8Array {
  const parts = r.ok ? [...r.notices.map(noticeResponse), commandComplete(r.tag)] : [errorResponse(r.error)]
  return concatBytes([...parts, readyForQuery('I')])
}

/** The transaction status of the ReadyForQuery a chunk of backend output ends with, if it ends with one. */
export function trailingReadyStatus(bytes: Uint8Array): number | null {
  const n = bytes.length
  if (n < 6 || bytes[n - 6] !== 0x5a || bytes[n - 5] !== 0 || bytes[n - 4] !== 0 || bytes[n - 3] !== 0)
    return null
  return bytes[n - 2] === 5 ? bytes[n - 1]! : null
}
