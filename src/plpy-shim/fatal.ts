// plpy.fatal() and an uncaught plpy.Fatal end the client's session, as FATAL does in PostgreSQL. The
// engine is one PostgreSQL backend shared by every session, so a real FATAL (proc_exit) must never be
// raised in it. Instead:
//  1. the request is recorded here; the call is aborted with an ERROR carrying the FATAL's fields, and
//     until the exec ends every PL/Python entry and plpy operation fails, and the transaction cannot
//     commit (a pre-commit callback raises), so nothing after the FATAL is kept;
//  2. the engine worker filters the backend output of that exec through FatalOutput: what came before
//     stays, the first ErrorResponse after the request is sent with severity FATAL, the rest (including
//     ReadyForQuery) is dropped; it rolls back and answers the exec with { terminate: true };
//  3. the session layer sends the output and closes that client's connection (the "terminate hook":
//     `terminate` of the worker's 'out' message in src/engine/channel/protocol.ts).
import { PgError } from '../engine/pg/elog.js'
import { XACT_EVENT } from '../engine/pg/layout.js'
import type { PlRuntime } from '../python/language.js'
import { type FatalRequest, shim } from './state.js'

const guarded = new WeakSet<PlRuntime>()

/** Record plpy.fatal(message, fields) for the running exec. */
export function requestFatal(rt: PlRuntime, message: string, fields: Record<string, string>): void {
  const st = shim(rt)
  if (!st.fatal) st.fatal = { message, fields }
  installCommitGuard(rt)
}

/** The pending FATAL as a PgError (raised wherever PL/Python would have been gone already). */
export function fatalError(rt: PlRuntime): PgError | null {
  const f = shim(rt).fatal
  if (!f) return null
  const k = f.fields
  return new PgError(f.message, {
    sqlstate: k.sqlstate ?? 'XX000',
    detail: k.detail ?? null,
    hint: k.hint ?? null,
    schema: k.schema ?? null,
    table: k.table ?? null,
    column: k.column ?? null,
    datatype: k.datatype ?? null,
    constraint: k.constraint ?? null,
  })
}

/** Whether plpy.fatal was requested during the running exec (cheap: for the output path). */
export function fatalPending(rt: PlRuntime): boolean {
  return shim(rt).fatal !== null
}

/** The exec is over: forget the request (returns it, if there was one). */
export function takeFatal(rt: PlRuntime): FatalRequest | null {
  const st = shim(rt)
  const f = st.fatal
  st.fatal = null
  return f
}

/** XACT_EVENT_PRE_COMMIT with a FATAL pending raises, so the transaction aborts instead of committing. */
function installCommitGuard(rt: PlRuntime): void {
  if (guarded.has(rt)) return
  guarded.add(rt)
  const M = rt.heap.M
  const slot = M.addFunction((event: number) => {
    if (event !== XACT_EVENT.PRE_COMMIT) return undefined
    const e = fatalError(rt)
    if (e) rt.elog.raiseJs(e) // an ERROR (longjmp) out of CommitTransaction: it aborts instead
    return undefined
  }, 'vii')
  M._RegisterXactCallback(slot, 0)
}

const SEVERITY = new Set([0x53, 0x56]) // 'S' (localized) and 'V' severity fields

/** ErrorResponse fields rewritten to severity FATAL. */
function asFatal(msg: Uint8Array): Uint8Array {
  const parts: Buffer[] = []
  let i = 5
  while (i < msg.length && msg[i] !== 0) {
    const code = msg[i]!
    const end = msg.indexOf(0, i + 1)
    const value = SEVERITY.has(code) ? Buffer.from('FATAL') : Buffer.from(msg.subarray(i + 1, end))
    parts.push(Buffer.from([code]), value, Buffer.from([0]))
    i = end + 1
  }
  parts.push(Buffer.from([0]))
  const body = Buffer.concat(parts)
  const out = Buffer.alloc(5 + body.length)
  out[0] = 0x45 // 'E'
  out.writeInt32BE(4 + body.length, 1)
  body.copy(out, 5)
  return out
}

/** The backend output of one exec, cut at the FATAL (see the file comment). */
export class FatalOutput {
  /** bytes of a message already being forwarded that are still to come */
  private rest = 0
  /** the start of a message held back (an incomplete header, or an ErrorResponse after the request) */
  private head: Buffer = Buffer.alloc(0)
  /** the FATAL ErrorResponse went out: nothing more is sent */
  terminated = false

  /**
   * `start`: where the output stands when filtering begins, if not at a message boundary (the engine
   * only filters from the first chunk after a FATAL was requested): `rest` bytes of a message already
   * forwarded are still to come, or `head` holds the first bytes of an incomplete header.
   */
  constructor(
    private readonly rt: PlRuntime,
    start?: { rest: number; head: Uint8Array },
  ) {
    if (start) {
      this.rest = start.rest
      this.head = Buffer.from(start.head)
    }
  }

  /**
   * What to send of the next output chunk: message boundaries are tracked from the first byte. Returns
   * `chunk` itself when it passes whole (the caller copies it out of wasm memory), else a new array.
   */
  filter(chunk: Uint8Array): Uint8Array {
    if (this.terminated) return new Uint8Array(0)
    const out: Uint8Array[] = []
    let data = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
    if (this.rest > 0) {
      const n = Math.min(this.rest, data.length)
      out.push(data.subarray(0, n))
      this.rest -= n
      data = data.subarray(n)
    }
    const whole = out.length === 0 && this.head.length === 0 // chunk starts at a message boundary
    const buf = this.head.length ? Buffer.concat([this.head, data]) : data
    this.head = Buffer.alloc(0)
    const fatal = shim(this.rt).fatal !== null
    let p = 0
    while (p < buf.length) {
      if (p + 5 > buf.length) {
        this.head = Buffer.from(buf.subarray(p))
        break
      }
      const total = 1 + buf.readInt32BE(p + 1)
      if (fatal && buf[p] === 0x45) {
        if (p + total > buf.length) {
          this.head = Buffer.from(buf.subarray(p))
          break
        }
        out.push(asFatal(buf.subarray(p, p + total)))
        this.terminated = true
        break
      }
      if (p + total > buf.length) {
        out.push(buf.subarray(p))
        this.rest = p + total - buf.length
        break
      }
      out.push(buf.subarray(p, p + total))
      p += total
    }
    if (whole && !this.terminated && out.length === 1 && out[0]!.byteLength === chunk.byteLength) return chunk
    const r = new Uint8Array(out.reduce((n, o) => n + o.byteLength, 0))
    let at = 0
    for (const o of out) {
      r.set(o, at)
      at += o.byteLength
    }
    return r
  }
}
