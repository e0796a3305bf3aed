// A client that sends anything but CopyData/CopyDone/CopyFail/Flush/Sync during COPY FROM STDIN. PostgreSQL
// (copyfromparse.c CopyGetData) raises ERROR 08P01 "unexpected message type 0x%02X during COPY from stdin"
// while it is reading that message, and PostgresMain's error block then ends the connection with FATAL
// 08P01 "terminating connection because protocol synchronization was lost" (postgres.c: pq_is_reading_msg).
// Here that FATAL would be proc_exit of the backend every session of the database shares, so the backend
// never sees the message: the engine hands it a CopyFail instead (the COPY ends with an ERROR and rolls back
// as PostgreSQL's does), and the client gets PostgreSQL's two errors in place of the CopyFail's one, then
// the session ends. A cancel while the COPY waits for data also ends it with a CopyFail; the client sees
// the error PostgreSQL raises for the cancel.
import { concatBytes, u32be } from '../../util/bytes.js'
import { B, errorFields } from './backend-stream.js'
import { errorResponse, USER_CANCEL } from './timeouts.js'

/**
 * COPY data from the client, scanned as PostgreSQL's CopyGetData reads it: the first message it would
 * refuse (offset and type), or where the COPY's input ends (just after CopyDone or CopyFail; what follows
 * is ordinary input again, or the data of the same Query's next COPY).
 */
export function copyScan(data: Uint8Array): { bad: { at: number; type: number } | null; end: number } {
  for (let o = 0; o + 5 <= data.length; ) {
    const t = data[o]!
    const next = o + 1 + u32be(data, o + 1)
    if (t === 0x63 || t === 0x66) return { bad: null, end: next } // CopyDone, CopyFail
    if (t !== 0x64 && t !== 0x48 && t !== 0x53) return { bad: { at: o, type: t }, end: o } // not CopyData, Flush, Sync
    o = next
  }
  return { bad: null, end: data.length }
}

/** "stdin" in any case (ASCII letters: `| 0x20` folds them). */
export function mentionsStdin(b: Uint8Array): boolean {
  for (let i = 0; i + 5 <= b.length; i++)
    if (
      (b[i]! | 0x20) === 0x73 &&
      (b[i + 1]! | 0x20) === 0x74 &&
      (b[i + 2]! | 0x20) === 0x64 &&
      (b[i + 3]! | 0x20) === 0x69 &&
      (b[i + 4]! | 0x20) === 0x6e
    )
      return true
  return false
}

/**
 * Where to cut a batch so that a COPY FROM STDIN it starts reads the messages after it through the engine
 * (and its check) rather than from the bytes the backend was given: the end of the first Query or Execute
 * that has messages after it, in a batch that mentions stdin or of a session that did (`copied`: its named
 * statements may be COPYs); else the whole batch.
 */
export function copyStartEnd(data: Uint8Array, copied = false): number {
  if (!copied && !mentionsStdin(data)) return data.length
  const len = (o: number) => 1 + u32be(data, o + 1)
  // the last message a COPY would refuse: only a Query or Execute before it needs a cut (Sync and Flush
  // after an Execute are fine either way: a COPY ignores them)
  let lastRefused = -1
  for (let o = 0; o + 5 <= data.length; o += len(o)) if (!COPY_INPUT.has(data[o]!)) lastRefused = o
  for (let o = 0; o + 5 <= data.length && o < lastRefused; ) {
    const t = data[o]!
    o += len(o)
    if ((t === 0x51 || t === 0x45) && o <= lastRefused) return o
  }
  return data.length
}

/** CopyData, CopyDone, CopyFail, Flush, Sync: what CopyGetData accepts. */
const COPY_INPUT = new Set([0x64, 0x63, 0x66, 0x48, 0x53])

/**
 * The output after a CopyFail the engine gave in the client's place. Messages before the COPY's
 * ErrorResponse pass. For a refused message (`type`) that one becomes PostgreSQL's ERROR and FATAL and
 * nothing after it is sent; for a cancel (`type` null) it becomes the error PostgreSQL raises when it
 * notices the cancel in the COPY (57014 "canceling statement due to user request", the same CONTEXT), and
 * the rest passes.
 */
export class CopyFailOutput {
  private held: Uint8Array = new Uint8Array(0)
  /** the ErrorResponse was replaced: the rest passes (cancel) or is dropped (refused message) */
  private done = false
  terminated = false

  constructor(private readonly type: number | null) {}

  filter(chunk: Uint8Array): Uint8Array {
    if (this.terminated) return new Uint8Array(0)
    if (this.done) return chunk
    const buf = this.held.length ? concatBytes([this.held, chunk]) : chunk.slice()
    const out: Uint8Array[] = []
    let p = 0
    while (p + 5 <= buf.length) {
      const total = 1 + u32be(buf, p + 1)
      if (p + total > buf.length) break
      const msg = buf.subarray(p, p + total)
      p += total
      if (msg[0] !== B.ErrorResponse) {
        out.push(msg)
        continue
      }
      // keep the COPY's CONTEXT line ("COPY t, line N"): PostgreSQL's error is raised at the same point
      const where = errorFields(msg.subarray(5)).W
      const context: Record<string, string> = where === undefined ? {} : { W: where }
      if (this.type === null) {
        // postgres.c ProcessInterrupts, raised at the COPY's next CHECK_FOR_INTERRUPTS
        out.push(errorResponse({ S: 'ERROR', V: 'ERROR', ...USER_CANCEL, ...context }), buf.subarray(p))
        this.done = true
        this.held = new Uint8Array(0)
        return concatBytes(out)
      }
      const hex = this.type.toString(16).toUpperCase().padStart(2, '0')
      out.push(
        errorResponse({
          S: 'ERROR',
          V: 'ERROR',
          C: '08P01',
          M: `unexpected message type 0x${hex} during COPY from stdin`,
          ...context,
        }),
        errorResponse({
          S: 'FATAL',
          V: 'FATAL',
          C: '08P01',
          M: 'terminating connection because protocol synchronization was lost',
        }),
      )
      this.terminated = true
      this.held = new Uint8Array(0)
      return concatBytes(out)
    }
    this.held = buf.subarray(p)
    return concatBytes(out)
  }
}
