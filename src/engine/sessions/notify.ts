// LISTEN/NOTIFY for many sessions on one backend. The backend listens on the union of the sessions'
// channels; each session's own set is followed from the LISTEN/UNLISTEN/DISCARD ALL statements it sends.
// A NotificationResponse appears in the output of the notifying session's turn (PostgreSQL delivers at the
// listener's next ReadyForQuery, and the notifier is the only backend): it is taken out there and sent to
// every session listening on its channel, with the notifier's process id (its session id).

import { concatBytes, u32be } from '../../util/bytes.js'
import { B } from './backend-stream.js'

import type { EngineSession } from './session.js'

const utf8 = new TextDecoder('utf-8', { ignoreBOM: true })

/** Bytes that make a statement worth parsing: "listen" (LISTEN, UNLISTEN) or "discard", any case. */
function mayListen(b: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i + 6 < to; i++) {
    const c = b[i]! | 0x20
    if (
      c === 0x6c &&
      (b[i + 1]! | 0x20) === 0x69 &&
      (b[i + 2]! | 0x20) === 0x73 &&
      (b[i + 3]! | 0x20) === 0x74
    )
      return true // "list"
    if (
      c === 0x64 &&
      (b[i + 1]! | 0x20) === 0x69 &&
      (b[i + 2]! | 0x20) === 0x73 &&
      (b[i + 3]! | 0x20) === 0x63
    )
      return true // "disc"
  }
  return false
}

/** An identifier as the scanner reads it (scan.l): unquoted ones fold to lower case, "" is a quote. */
function identifier(s: string): string | null {
  const t = s.trim()
  if (t.startsWith('"')) {
    const m = /^"((?:[^"]|"")*)"/.exec(t)
    return m ? m[1]!.replace(/""/g, '"') : null
  }
  const m = /^[A-Za-z_\u0080-\uffff][A-Za-z0-9_$\u0080-\uffff]*/.exec(t)
  return m ? m[0].toLowerCase() : null
}

export type ListenOp = { op: 'listen' | 'unlisten'; channel: string } | { op: 'unlisten-all' }

/** The LISTEN, UNLISTEN and DISCARD ALL statements of an SQL text (split at semicolons outside quotes). */
export function listenOps(sql: string): ListenOp[] {
  const ops: ListenOp[] = []
  for (const stmt of sql.match(/(?:'(?:[^']|'')*'|"(?:[^"]|"")*"|--[^\n]*|[^;'"-]|-(?!-))+/g) ?? []) {
    const m = /^\s*(listen|unlisten|discard)\s+(.*)$/is.exec(stmt.replace(/--[^\n]*/g, ' '))
    if (!m) continue
    const verb = m[1]!.toLowerCase()
    const rest = m[2]!.trim()
    if (verb === 'discard') {
      if (/^all\s*$/i.test(rest)) ops.push({ op: 'unlisten-all' })
    } else if (verb === 'unlisten' && rest.startsWith('*')) ops.push({ op: 'unlisten-all' })
    else {
      const channel = identifier(rest)
      if (channel !== null) ops.push({ op: verb === 'listen' ? 'listen' : 'unlisten', channel })
    }
  }
  return ops
}

/**
 * The LISTEN/UNLISTEN/DISCARD ALL of a session's input (its Query and Parse messages), kept pending: as in
 * async.c they take effect when the transaction commits (applyListen) and are forgotten when it aborts.
 */
export function trackListen(s: EngineSession, data: Uint8Array): void {
  for (let o = 0; o + 5 <= data.length; ) {
    const t = data[o]!
    const end = o + 1 + u32be(data, o + 1)
    if ((t === 0x51 || t === 0x50) && end <= data.length && mayListen(data, o + 5, end)) {
      let from = o + 5
      if (t === 0x50) while (from < end && data[from] !== 0) from++ // Parse: statement name first
      if (t === 0x50) from++
      let to = from
      while (to < end && data[to] !== 0) to++
      s.pendingListen.push(...listenOps(utf8.decode(data.subarray(from, to))))
    }
    o = end
  }
}

/**
 * The session's transaction committed (async.c AtCommit_Notify): its pending LISTEN/UNLISTEN take effect.
 * True if it had any. (Those of a subtransaction rolled back meanwhile take effect too: the text does
 * not say which savepoint they belonged to.)
 */
export function applyListen(s: EngineSession): boolean {
  if (s.pendingListen.length === 0) return false
  for (const op of s.pendingListen.splice(0)) {
    if (op.op === 'listen') s.channels.add(op.channel)
    else if (op.op === 'unlisten') s.channels.delete(op.channel)
    else s.channels.clear()
  }
  return true
}

/** A notification to deliver to another session. */
export interface Delivery {
  sid: number
  data: Uint8Array
}

/**
 * Take the NotificationResponses out of one output chunk of session `current` (which must start at a
 * message boundary). Each goes to every session listening on its channel, with `current`'s session id as
 * the notifying process; `current` keeps its own in place. Returns the chunk to send on.
 */
export function routeNotifications(
  chunk: Uint8Array,
  current: EngineSession,
  sessions: Iterable<EngineSession>,
  deliver: (d: Delivery) => void,
): Uint8Array {
  let out: Uint8Array[] | null = null
  let last = 0
  // the caller passes an iterator (a Map's values()): read it once, it serves every notification of the chunk
  let listeners: EngineSession[] | null = null
  for (let o = 0; o + 5 <= chunk.length; ) {
    const end = o + 1 + u32be(chunk, o + 1)
    if (end > chunk.length) break
    if (chunk[o] === B.NotificationResponse) {
      const msg = chunk.slice(o, end)
      new DataView(msg.buffer).setInt32(5, current.sid)
      let c = 9
      while (c < msg.length && msg[c] !== 0) c++
      const channel = utf8.decode(msg.subarray(9, c))
      listeners ??= [...sessions]
      for (const s of listeners)
        if (s !== current && !s.closed && s.channels.has(channel)) deliver({ sid: s.sid, data: msg.slice() })
      out ??= []
      out.push(chunk.subarray(last, o))
      if (current.channels.has(channel)) out.push(msg)
      last = end
    }
    o = end
  }
  if (!out) return chunk
  out.push(chunk.subarray(last))
  return concatBytes(out)
}

/** The LISTEN/UNLISTEN statements that make the backend listen on exactly the union of the sessions' sets. */
export function reconcile(actual: Iterable<string>, sessions: Iterable<EngineSession>): string[] {
  const want = new Set<string>()
  for (const s of sessions) if (!s.closed) for (const c of s.channels) want.add(c)
  const have = new Set(actual)
  const q = (c: string) => `"${c.replace(/"/g, '""')}"`
  const sql: string[] = []
  for (const c of want) if (!have.has(c)) sql.push(`LISTEN ${q(c)}`)
  for (const c of have) if (!want.has(c)) sql.push(`UNLISTEN ${q(c)}`)
  return sql
}
