// What pg_stat_activity says about one client session (PostgreSQL keeps it in the backend's PgBackendStatus:
// backend_status.c pgstat_report_activity / pgstat_report_xact_timestamp). Kept cheap on the hot path: a
// turn stores a reference to its input and two timestamps; the statement text is decoded only when someone
// looks (sysfuncs.ts).
import { u32be } from '../../util/bytes.js'
import type { ClientInfo } from '../channel/protocol.js'

/** PostgreSQL's track_activity_query_size default: st_activity_raw holds at most this many bytes minus 1. */
const QUERY_SIZE = 1024

const utf8 = new TextDecoder('utf-8', { ignoreBOM: true })

function cstringEnd(b: Uint8Array, o: number, end: number): number {
  let i = o
  while (i < end && b[i] !== 0) i++
  return i
}

/** pgstat_clip_activity: at most QUERY_SIZE - 1 bytes, not cutting a UTF-8 character. */
function clip(b: Uint8Array, from: number, to: number): string {
  let end = Math.min(to, from + QUERY_SIZE - 1)
  if (end < to) while (end > from && (b[end]! & 0xc0) === 0x80) end--
  return utf8.decode(b.subarray(from, end))
}

export class Activity {
  /** backend_start (ms since the epoch) */
  readonly started = Date.now()
  client: ClientInfo = {}
  /** xact_start, query_start, state_change (ms; 0 = none) */
  xactStart = 0
  queryStart = 0
  stateChange = this.started
  /** the input whose last statement is the session's "query" (decoded on demand) */
  private last: Uint8Array | null = null
  private lastText = ''
  /** named prepared statements' texts, for a Bind that names one (extended protocol; one Parse each) */
  private readonly named = new Map<string, string>()

  /** A turn starts with `data` (status: the transaction status before it). */
  begin(data: Uint8Array, status: 'I' | 'T' | 'E', now: number): void {
    this.queryStart = now
    this.stateChange = now
    if (status === 'I') this.xactStart = now
    this.last = data
    for (let o = 0; o + 5 <= data.length; ) {
      const end = o + 1 + u32be(data, o + 1)
      if (data[o] === 0x50 && data[o + 5] !== 0) {
        // Parse with a statement name: remember its text (a later Bind may name it)
        const nameEnd = cstringEnd(data, o + 5, end)
        const q = nameEnd + 1
        this.named.set(utf8.decode(data.subarray(o + 5, nameEnd)), clip(data, q, cstringEnd(data, q, end)))
      }
      o = end
    }
  }

  /** The turn's input ran; `status` is where it left the session. */
  end(status: 'I' | 'T' | 'E', now: number): void {
    this.stateChange = now
    if (status === 'I') this.xactStart = 0
  }

  /** The text of the last statement it ran or runs (pg_stat_activity.query). */
  query(): string {
    if (this.last) {
      const t = this.statementOf(this.last, false)
      if (t !== null) this.lastText = t
      this.last = null
    }
    return this.lastText
  }

  /**
   * The statement text of the last (or, `first`, the first) Query, Parse or Bind in `data`: a Bind names a
   * statement parsed in the same input or earlier. Null when the input holds none (COPY data, Sync alone).
   */
  statementOf(data: Uint8Array, first: boolean): string | null {
    let found: string | null = null
    let unnamed: string | null = null
    for (let o = 0; o + 5 <= data.length; ) {
      const end = o + 1 + u32be(data, o + 1)
      if (end > data.length) break
      const t = data[o]
      let text: string | null = null
      if (t === 0x51) text = clip(data, o + 5, cstringEnd(data, o + 5, end))
      else if (t === 0x50) {
        const q = cstringEnd(data, o + 5, end) + 1
        text = clip(data, q, cstringEnd(data, q, end))
        if (data[o + 5] === 0) unnamed = text
      } else if (t === 0x42) {
        const s = cstringEnd(data, o + 5, end) + 1
        const nameEnd = cstringEnd(data, s, end)
        if (nameEnd === s) text = unnamed ?? this.lastText
        else {
          text = this.named.get(utf8.decode(data.subarray(s, nameEnd))) ?? null
        }
      }
      if (text !== null) {
        found = text
        if (first) return found
      }
      o = end
    }
    return found
  }
}
