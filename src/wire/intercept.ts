// The wire layer's side of the commands the main thread answers itself (CREATE/DROP DATABASE, package commands):
// find one in a batch of frontend messages, and encode the answer given in place of PostgreSQL's.

import type { CommandReply } from '../databases/manager.js'
import { type DatabaseCommand, parseDatabaseCommand } from '../databases/statements.js'
import { concatBytes, u32be } from '../util/bytes.js'
import { errorResponse, noticeResponse, readyForQuery } from './serialize.js'

const QUERY = 0x51 // 'Q'
const dec = new TextDecoder('utf-8', { ignoreBOM: true })

/** Where a command the main thread answers itself sits in a batch of frontend messages. */
export interface Found<C> {
  /** offset of the Query (or Parse) message in the batch */
  start: number
  /** offset just after it (extended protocol: after the Sync that ends its batch, or the data's end) */
  end: number
  command: C
  /** sent with Parse/Bind/Execute (pgJDBC does): the reply follows the extended protocol */
  extended: boolean
}

export type FoundCommand = Found<DatabaseCommand>

const msgLen = (d: Uint8Array, o: number) => u32be(d, o + 1)

/**
 * The first Query message in `data` (complete messages) whose text `parse` recognises, or a Parse of one
 * without parameters (then the range runs to the batch's Sync: Bind, Describe, Execute are answered here).
 * Every batch of every client passes through here, so only a message holding one of `words` (lower-case
 * ASCII, matched in any case) is decoded and parsed.
 */
export function findCommand<C>(
  data: Uint8Array,
  words: readonly string[],
  parse: (sql: string) => C | null,
): Found<C> | null {
  let o = 0
  while (o + 5 <= data.length) {
    const end = o + 1 + msgLen(data, o)
    const type = data[o]
    if (
      (type === QUERY || type === PARSE) &&
      end <= data.length &&
      words.some((w) => hasWord(data, o + 5, end, w))
    ) {
      if (type === QUERY) {
        const command = parse(dec.decode(data.subarray(o + 5, end - 1)))
        if (command) return { start: o, end, command, extended: false }
      } else {
        // Parse: statement name, query text (both NUL-terminated inside the message), parameter types.
        // Declared parameter types do not matter: these commands have no $n (their lexers give up on '$').
        const name = data.indexOf(0, o + 5)
        const text = name < 0 ? -1 : data.indexOf(0, name + 1)
        if (text > 0 && text < end) {
          const command = parse(dec.decode(data.subarray(name + 1, text)))
          if (command) return { start: o, end: extendedEnd(data, end), command, extended: true }
        }
      }
    }
    o = end
  }
  return null
}

/** The first CREATE/DROP DATABASE in `data` (findCommand). */
export function findDatabaseCommand(data: Uint8Array): FoundCommand | null {
  return findCommand(data, ['database'], parseDatabaseCommand)
}

/**
 * Where the extended-protocol messages of a command started by a Parse end: after its Sync, or after its
 * Execute (and a Sync right after it), before anything else. Statements after the Execute in the same
 * batch are PostgreSQL's again.
 */
function extendedEnd(data: Uint8Array, from: number): number {
  let o = from
  while (o + 5 <= data.length) {
    const t = data[o]!
    if (!EXTENDED.has(t)) return o
    o += 1 + msgLen(data, o)
    if (t === SYNC) return o
    if (t === EXECUTE) return o + 5 <= data.length && data[o] === SYNC ? o + 1 + msgLen(data, o) : o
  }
  return o
}

/** Where a client's extended-protocol batch stands: no batch open, messages since the last Sync, or an
 * Execute among them (PostgreSQL 18's postgres.c XACT_FLAGS_PIPELINING: what follows runs in an implicit
 * transaction block until Sync, so CREATE/DROP DATABASE there fail with 25001). */
export const Batch = { CLOSED: 0, OPEN: 1, PIPELINED: 2 } as const
export type BatchState = (typeof Batch)[keyof typeof Batch]

/** The batch state once `data` (complete frontend messages) has run, starting from `state`. */
export function batchState(data: Uint8Array, state: BatchState): BatchState {
  let o = 0
  while (o + 5 <= data.length) {
    const t = data[o]!
    if (t === SYNC) state = Batch.CLOSED
    else if (t === EXECUTE) state = Batch.PIPELINED
    else if (t === QUERY) state = state === Batch.PIPELINED ? state : Batch.CLOSED
    else if (EXTENDED.has(t) && state === Batch.CLOSED) state = Batch.OPEN
    o += 1 + msgLen(data, o)
  }
  return state
}

/** The offset of the first Sync among complete frontend messages, or -1. */
export function syncAt(data: Uint8Array): number {
  for (let o = 0; o + 5 <= data.length; o += 1 + msgLen(data, o)) if (data[o] === SYNC) return o
  return -1
}

/**
 * Follows a session's backend output message by message (chunks may end inside one): whether an
 * ErrorResponse came since the last ReadyForQuery, i.e. PostgreSQL skips the batch's messages until Sync.
 */
export class ErrorWatch {
  failed = false
  /** bytes of the current message still to come */
  private remain = 0
  /** the first bytes of a header cut by the chunk's end */
  private readonly head = new Uint8Array(5)
  private headLen = 0

  feed(bytes: Uint8Array): void {
    let o = 0
    while (o < bytes.length) {
      if (this.remain > 0) {
        const n = Math.min(this.remain, bytes.length - o)
        this.remain -= n
        o += n
        continue
      }
      while (this.headLen < 5 && o < bytes.length) this.head[this.headLen++] = bytes[o++]!
      if (this.headLen < 5) return
      this.headLen = 0
      const t = this.head[0]
      if (t === 0x45) this.failed = true
      else if (t === 0x5a) this.failed = false
      this.remain = u32be(this.head, 1) - 4
    }
  }
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
export const SYNC_MESSAGE = tiny(SYNC)

/** Whether `word` (lower-case ASCII) stands in d[from, to), in any case: a byte scan, nothing decoded. */
function hasWord(d: Uint8Array, from: number, to: number, word: string): boolean {
  const n = word.length
  const first = word.charCodeAt(0)
  outer: for (let i = from; i + n <= to; i++) {
    if ((d[i]! | 0x20) !== first) continue
    for (let k = 1; k < n; k++) if ((d[i + k]! | 0x20) !== word.charCodeAt(k)) continue outer
    return true
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
