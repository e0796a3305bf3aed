// The wire layer's side of database commands: find a CREATE/DROP DATABASE Query message in a batch of
// frontend messages, and encode the answer the main thread gives in place of PostgreSQL.
import { concatBytes, errorResponse, noticeResponse, readyForQuery } from '../wire/serialize.js'
import type { CommandReply } from './manager.js'
import { type DatabaseCommand, parseDatabaseCommand } from './statements.js'

const QUERY = 0x51 // 'Q'
const dec = new TextDecoder()

export interface FoundCommand {
  /** offset of the Query message in the batch */
  start: number
  /** offset just after it */
  end: number
  command: DatabaseCommand
}

/** The first Query message in `data` (complete messages) that is a database command. */
export function findDatabaseCommand(data: Uint8Array): FoundCommand | null {
  let o = 0
  while (o + 5 <= data.length) {
    const len = ((data[o + 1]! << 24) | (data[o + 2]! << 16) | (data[o + 3]! << 8) | data[o + 4]!) >>> 0
    const end = o + 1 + len
    // 'D','A','T','A','B','A','S','E' must be in there; a cheap byte scan before decoding
    if (data[o] === QUERY && end <= data.length && hasWordDatabase(data, o + 5, end)) {
      const command = parseDatabaseCommand(dec.decode(data.subarray(o + 5, end - 1)))
      if (command) return { start: o, end, command }
    }
    o = end
  }
  return null
}

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
