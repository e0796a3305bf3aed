// Backend messages the wire layer writes itself (PostgreSQL docs "Message Formats").
import { BackendCode } from './codes.js'

const enc = new TextEncoder()

/** Builds one message: type byte, int32 length, body. */
class Writer {
  private parts: Uint8Array[] = []
  private size = 0

  int32(v: number): this {
    const b = new Uint8Array(4)
    new DataView(b.buffer).setInt32(0, v)
    return this.bytes(b)
  }
  int16(v: number): this {
    const b = new Uint8Array(2)
    new DataView(b.buffer).setInt16(0, v)
    return this.bytes(b)
  }
  byte(v: number): this {
    return this.bytes(new Uint8Array([v]))
  }
  cstring(s: string): this {
    this.bytes(enc.encode(s))
    return this.byte(0)
  }
  bytes(b: Uint8Array): this {
    this.parts.push(b)
    this.size += b.length
    return this
  }
  message(type: number): Uint8Array {
    const out = new Uint8Array(5 + this.size)
    out[0] = type
    new DataView(out.buffer).setInt32(1, 4 + this.size)
    let o = 5
    for (const p of this.parts) {
      out.set(p, o)
      o += p.length
    }
    return out
  }
}

/** Error and notice fields by their protocol letters: S V C M D H P W … (protocol-error-fields.html). */
export type ErrorFields = Record<string, string>

export function errorResponse(fields: ErrorFields): Uint8Array {
  return fieldsMessage(BackendCode.ErrorResponse, fields)
}

export function noticeResponse(fields: ErrorFields): Uint8Array {
  return fieldsMessage(BackendCode.NoticeResponse, fields)
}

function fieldsMessage(type: number, fields: ErrorFields): Uint8Array {
  const w = new Writer()
  for (const [k, v] of Object.entries(fields))
    if (k.length === 1 && v !== undefined) w.byte(k.charCodeAt(0)).cstring(v)
  return w.byte(0).message(type)
}

/** A FATAL error as PostgreSQL formats it (severity both localized and not). */
export function fatal(code: string, message: string, extra: ErrorFields = {}): Uint8Array {
  return errorResponse({ S: 'FATAL', V: 'FATAL', C: code, M: message, ...extra })
}

export function authentication(code: number, payload?: Uint8Array): Uint8Array {
  const w = new Writer().int32(code)
  if (payload) w.bytes(payload)
  return w.message(BackendCode.Authentication)
}

export function parameterStatus(name: string, value: string): Uint8Array {
  return new Writer().cstring(name).cstring(value).message(BackendCode.ParameterStatus)
}

export function backendKeyData(pid: number, secret: number): Uint8Array {
  return new Writer().int32(pid).int32(secret).message(BackendCode.BackendKeyData)
}

export function readyForQuery(status: 'I' | 'T' | 'E'): Uint8Array {
  return new Writer().byte(status.charCodeAt(0)).message(BackendCode.ReadyForQuery)
}

/** NegotiateProtocolVersion: the newest minor version served and the protocol options not recognized. */
export function negotiateProtocolVersion(minor: number, options: string[]): Uint8Array {
  const w = new Writer().int32((3 << 16) | minor).int32(options.length)
  for (const o of options) w.cstring(o)
  return w.message(BackendCode.NegotiateProtocolVersion)
}
