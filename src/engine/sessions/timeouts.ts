// Cancel and timeouts as a client of one shared backend sees them: the statement-timeout wording of a
// cancelled statement, the answer to a CancelRequest for a command still waiting for its turn, and the
// idle_in_transaction_session_timeout FATAL (postgres.c ProcessInterrupts, PostgresMain's ReadCommand wait).

import { concatBytes, u32be } from '../../util/bytes.js'
import type { WorkItem } from '../channel/protocol.js'
import type { Backend } from './backend.js'
import { B } from './backend-stream.js'
import type { EngineSession } from './session.js'

const enc = new TextEncoder()
const USER = enc.encode('Mcanceling statement due to user request\u0000')
const TIMEOUT = 'canceling statement due to statement timeout'

/** postgres.c ProcessInterrupts: FATAL 25P03 when a session stayed idle in a transaction too long. */
export const IDLE_IN_TRANSACTION_FATAL = {
  S: 'FATAL',
  V: 'FATAL',
  C: '25P03',
  M: 'terminating connection due to idle-in-transaction timeout',
}

function indexOf(hay: Uint8Array, needle: Uint8Array, from: number, to: number): number {
  outer: for (let i = from; i + needle.length <= to; i++) {
    for (let k = 0; k < needle.length; k++) if (hay[i + k] !== needle[k]) continue outer
    return i
  }
  return -1
}

/**
 * PostgreSQL says "canceling statement due to statement timeout" when its own timer fired
 * (get_timeout_indicator(STATEMENT_TIMEOUT)); our watchdog cancels like a user would, so the ErrorResponse
 * of the cancelled statement is reworded here. `chunk` must start at a message boundary; only whole
 * messages inside it are looked at (an ErrorResponse is written and flushed at once, so it always is).
 */
export function rewordTimeout(chunk: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = []
  let last = 0
  for (let o = 0; o + 5 <= chunk.length; ) {
    const end = o + 1 + u32be(chunk, o + 1)
    if (end > chunk.length) break
    if (chunk[o] === B.ErrorResponse) {
      const at = indexOf(chunk, USER, o + 5, end)
      if (at >= 0) {
        const body = concatBytes([
          chunk.subarray(o + 5, at),
          enc.encode(`M${TIMEOUT}\u0000`),
          chunk.subarray(at + USER.length, end),
        ])
        const head = new Uint8Array(5)
        head[0] = B.ErrorResponse
        new DataView(head.buffer).setInt32(1, body.length + 4)
        parts.push(chunk.subarray(last, o), head, body)
        last = end
      }
    }
    o = end
  }
  if (last === 0) return chunk
  parts.push(chunk.subarray(last))
  return concatBytes(parts)
}

/** An ErrorResponse message with these fields. */
export function errorResponse(fields: Record<string, string>): Uint8Array {
  const body: number[] = []
  for (const [k, v] of Object.entries(fields)) body.push(k.charCodeAt(0), ...enc.encode(v), 0)
  body.push(0)
  const m = new Uint8Array(5 + body.length)
  m[0] = B.ErrorResponse
  new DataView(m.buffer).setInt32(1, body.length + 4)
  m.set(body, 5)
  return m
}

export const USER_CANCEL = { C: '57014', M: 'canceling statement due to user request' }
export const STATEMENT_TIMEOUT = { C: '57014', M: 'canceling statement due to statement timeout' }

const TIME_UNITS: Record<string, number> = {
  us: 0.001,
  ms: 1,
  s: 1000,
  min: 60_000,
  h: 3_600_000,
  d: 86_400_000,
}

/**
 * A session's statement_timeout in ms while it is not the one installed in the backend: what it SET, else
 * its own reset value (start-up packet, role and database settings), else 0. The values are as
 * GetConfigOption shows them ("250ms", "1s") or as a client gave them ("250", "1 s"); ms without a unit.
 */
export function savedStatementTimeout(s: EngineSession): number {
  const text = s.settings.set.get('statement_timeout') ?? s.settings.reset.get('statement_timeout')?.value
  const m = text === undefined ? null : /^\s*(\d+(?:\.\d+)?)\s*(us|ms|s|min|h|d)?\s*$/.exec(text)
  if (!m) return 0
  return Math.round(Number(m[1]) * TIME_UNITS[m[2] ?? 'ms']!)
}

/**
 * A CancelRequest for a session whose next command waits for its turn: that command fails with 57014 as
 * a backend waiting for a lock would, without running. The command is the first simple Query, or the
 * extended-protocol messages up to and including the first Sync (PostgreSQL skips to Sync after an error).
 * Returns null when `data` does not start with a whole command (nothing is cancelled then).
 */
export function cancelFirstCommand(
  data: Uint8Array,
  status: 'I' | 'T' | 'E',
  fields: { C: string; M: string } = USER_CANCEL,
): { answer: Uint8Array; consumed: number } | null {
  const t = data[0]
  let end = 0
  if (t === 0x51)
    end = data.length >= 5 ? 1 + u32be(data, 1) : 0 // Query
  else if (t === 0x50 || t === 0x42 || t === 0x45 || t === 0x44 || t === 0x43 || t === 0x48) {
    for (let o = 0; o + 5 <= data.length; ) {
      const next = o + 1 + u32be(data, o + 1)
      if (data[o] === 0x53) {
        end = next
        break
      }
      o = next
    }
  }
  if (end === 0 || end > data.length) return null
  const err = errorResponse({ S: 'ERROR', V: 'ERROR', ...fields })
  const rfq = new Uint8Array([B.ReadyForQuery, 0, 0, 0, 5, status === 'I' ? 0x49 : 0x45])
  return { answer: concatBytes([err, rfq]), consumed: end }
}

/**
 * Take the first command of session `sid` out of the queue if it waits for its turn behind another
 * session's transaction; returns the answer to send it (57014), or null if it does not wait.
 */
export function takeWaitingCommand(
  queue: WorkItem[],
  sid: number,
  backendOf: (m: WorkItem) => Backend | undefined,
  fields: { C: string; M: string } = USER_CANCEL,
): { answer: Uint8Array; consumed: number } | null {
  const i = queue.findIndex((m) => m.t === 'input' && m.sid === sid)
  const m = queue[i]
  if (m?.t !== 'input') return null
  const backend = backendOf(m)
  const s = backend?.sessions.get(sid)
  if (!backend || !s || !backend.holder || backend.holder === s) return null // not waiting: it runs next
  const cut = cancelFirstCommand(m.data, s.status, fields)
  if (!cut) return null
  if (cut.consumed < m.data.length) queue[i] = { t: 'input', sid, data: m.data.slice(cut.consumed) }
  else queue.splice(i, 1)
  return cut
}
