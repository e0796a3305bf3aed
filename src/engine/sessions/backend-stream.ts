// Follows a backend's output message stream across arbitrary chunk boundaries: the transaction status of
// the last ReadyForQuery, COPY state, ParameterStatus changes, and (for internal queries) whole messages.
// Message formats: PostgreSQL docs, "Message Formats" (protocol-message-formats.html).

import { u32be } from '../../util/bytes.js'

/** Backend message type bytes this module looks at. */
export const B = {
  CommandComplete: 0x43, // C
  DataRow: 0x44, // D
  ErrorResponse: 0x45, // E
  CopyInResponse: 0x47, // G
  CopyOutResponse: 0x48, // H
  NoticeResponse: 0x4e, // N
  ParameterStatus: 0x53, // S
  RowDescription: 0x54, // T
  CopyBothResponse: 0x57, // W
  NotificationResponse: 0x41, // A
  ReadyForQuery: 0x5a, // Z
} as const

export type TxStatus = 'I' | 'T' | 'E'

export interface BackendMessage {
  type: number
  body: Uint8Array
}

/** The types whose bodies we need when not collecting everything. */
function wanted(type: number): boolean {
  return type === B.ReadyForQuery || type === B.ParameterStatus
}

/** The tag of a DISCARD ALL that ran (discard.c DiscardAll), NUL included. */
const DISCARD_ALL = new TextEncoder().encode('DISCARD ALL\u0000')

const latin1 = new TextDecoder('latin1')
const utf8 = new TextDecoder('utf-8', { ignoreBOM: true })

export class BackendStream {
  /** Status byte of the last ReadyForQuery seen. */
  status: TxStatus = 'I'
  /** Inside COPY FROM STDIN (CopyInResponse seen, no CommandComplete/ErrorResponse yet). */
  copyIn = false
  /** Number of ReadyForQuery messages seen since the last reset(). */
  readyCount = 0
  /** A CommandComplete "DISCARD ALL" was seen since the last reset() (its session's advisory locks go). */
  discardAll = false
  /** Collected whole messages when `collect` is on (internal queries). */
  messages: BackendMessage[] = []

  private header = new Uint8Array(5)
  private headerLen = 0
  private type = 0
  private remaining = 0
  private body: Uint8Array | null = null
  private bodyLen = 0

  constructor(
    private readonly onParameter: (name: string, value: string) => void,
    public collect = false,
  ) {}

  reset(collect: boolean): void {
    this.collect = collect
    this.messages = []
    this.readyCount = 0
    this.discardAll = false
  }

  /** Where the stream stands between chunks: body bytes of the current message still to come, or the
   * first bytes of an incomplete header. */
  position(): { rest: number; head: Uint8Array } {
    return { rest: this.remaining, head: this.header.slice(0, this.headerLen) }
  }

  /** Between two messages (the next chunk starts with a message's type byte). */
  atBoundary(): boolean {
    return this.remaining === 0 && this.headerLen === 0 && this.body === null
  }

  /** Feed the next chunk of output (read synchronously; the caller may reuse it afterwards). */
  feed(chunk: Uint8Array): void {
    let i = 0
    const n = chunk.length
    while (i < n) {
      if (this.remaining === 0 && this.body === null) {
        // reading a header (type byte + int32 length)
        if (this.headerLen === 0 && n - i >= 5) {
          this.type = chunk[i]!
          this.startBody(u32be(chunk, i + 1) - 4)
          i += 5
        } else {
          this.header[this.headerLen++] = chunk[i++]!
          if (this.headerLen === 5) {
            const h = this.header
            this.type = h[0]!
            this.headerLen = 0
            this.startBody(u32be(h, 1) - 4)
          }
        }
        if (this.remaining === 0 && this.body !== null) this.finish()
        continue
      }
      const take = Math.min(this.remaining, n - i)
      if (this.body) this.body.set(chunk.subarray(i, i + take), this.bodyLen)
      this.bodyLen += take
      this.remaining -= take
      i += take
      if (this.remaining === 0) this.finish()
    }
  }

  private startBody(len: number): void {
    this.remaining = Math.max(0, len)
    this.bodyLen = 0
    this.body =
      this.collect || wanted(this.type) || (this.type === B.CommandComplete && len === DISCARD_ALL.length)
        ? new Uint8Array(this.remaining)
        : null
    if (!this.body) this.track(this.type, null)
  }

  private finish(): void {
    const body = this.body
    this.body = null
    if (body) this.track(this.type, body)
  }

  private track(type: number, body: Uint8Array | null): void {
    switch (type) {
      case B.ReadyForQuery:
        this.status = (body && body.length > 0 ? String.fromCharCode(body[0]!) : 'I') as TxStatus
        this.copyIn = false
        this.readyCount++
        break
      case B.CopyInResponse:
      case B.CopyBothResponse:
        this.copyIn = true
        break
      case B.CommandComplete:
        this.copyIn = false
        if (body?.length === DISCARD_ALL.length && body.every((c, i) => c === DISCARD_ALL[i]))
          this.discardAll = true
        break
      case B.ErrorResponse:
        this.copyIn = false
        break
      case B.ParameterStatus:
        if (body) {
          const [name, value] = cstrings(body, 2)
          if (name !== undefined && value !== undefined) this.onParameter(name, value)
        }
        break
    }
    if (this.collect && body) this.messages.push({ type, body })
  }
}

/** Split a message body into its first `count` NUL-terminated strings. */
export function cstrings(body: Uint8Array, count: number): string[] {
  const out: string[] = []
  let s = 0
  for (let i = 0; i < body.length && out.length < count; i++) {
    if (body[i] === 0) {
      out.push(utf8.decode(body.subarray(s, i)))
      s = i + 1
    }
  }
  return out
}

/** Error/notice fields by their one-letter codes (protocol-error-fields.html). */
export function errorFields(body: Uint8Array): Record<string, string> {
  const f: Record<string, string> = {}
  let i = 0
  while (i < body.length && body[i] !== 0) {
    const code = latin1.decode(body.subarray(i, i + 1))
    let e = i + 1
    while (e < body.length && body[e] !== 0) e++
    f[code] = utf8.decode(body.subarray(i + 1, e))
    i = e + 1
  }
  return f
}

/** Rows of a collected simple-query result: DataRow values as text (null for SQL NULL). */
export function dataRows(messages: BackendMessage[]): Array<Array<string | null>> {
  const rows: Array<Array<string | null>> = []
  for (const m of messages) {
    if (m.type !== B.DataRow) continue
    const b = m.body
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength)
    const n = dv.getInt16(0)
    const row: Array<string | null> = []
    let o = 2
    for (let c = 0; c < n; c++) {
      const len = dv.getInt32(o)
      o += 4
      if (len < 0) row.push(null)
      else {
        row.push(utf8.decode(b.subarray(o, o + len)))
        o += len
      }
    }
    rows.push(row)
  }
  return rows
}

/** Column names of the last RowDescription among collected messages. */
export function columnNames(messages: BackendMessage[]): string[] {
  let names: string[] = []
  for (const m of messages) {
    if (m.type !== B.RowDescription) continue
    const b = m.body
    const n = (b[0]! << 8) | b[1]!
    names = []
    let o = 2
    for (let c = 0; c < n; c++) {
      let e = o
      while (b[e] !== 0) e++
      names.push(utf8.decode(b.subarray(o, e)))
      o = e + 1 + 18 // table oid 4, column 2, type oid 4, size 2, typmod 4, format 2
    }
  }
  return names
}

/** What a collecting stream saw: the last result's columns and rows, and the first error's fields. */
export function collected(stream: BackendStream): {
  result: { columns: string[]; rows: Array<Array<string | null>> }
  error?: Record<string, string>
} {
  let error: Record<string, string> | undefined
  for (const m of stream.messages) if (m.type === B.ErrorResponse && !error) error = errorFields(m.body)
  return { result: { columns: columnNames(stream.messages), rows: dataRows(stream.messages) }, error }
}

/** The transaction status of the ReadyForQuery a chunk of backend output ends with, if it ends with one. */
export function trailingReadyStatus(bytes: Uint8Array): number | null {
  const n = bytes.length
  if (n < 6 || bytes[n - 6] !== 0x5a || bytes[n - 5] !== 0 || bytes[n - 4] !== 0 || bytes[n - 3] !== 0)
    return null
  return bytes[n - 2] === 5 ? bytes[n - 1]! : null
}
