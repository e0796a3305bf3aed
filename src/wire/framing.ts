// Splits a client's byte stream into protocol messages with one growable buffer (as pg-protocol's parser
// does), checking each message's type and length as soon as its header arrives (postgres.c SocketBackend,
// pqcomm.c pq_getmessage): a bad header ends the connection with FATAL 08P01 before any body is buffered.
import { FrontendCode, MAX_STARTUP_PACKET, MESSAGE_LIMITS } from './codes.js'

/**
 * A protocol violation: reported to the client as FATAL 08P01, then the connection closes — or, `quiet`, as
 * PostgreSQL's COMMERROR during start-up (a bad length word, a TLS handshake it refuses): nothing is sent,
 * the server logs it, the connection closes.
 */
export class ProtocolViolation extends Error {
  readonly code = '08P01'
  constructor(
    message: string,
    readonly quiet = false,
  ) {
    super(message)
  }
}

/** Complete messages taken from the buffer in one piece, and what ended them. */
export interface Batch {
  /** consecutive complete messages, a view into the buffer valid until the next push (null when there are none) */
  data: Uint8Array | null
  /** a Terminate message came next: the client is done (it was consumed) */
  terminate: boolean
  /** the next message's header is invalid: after `data` has run, the connection must end */
  violation?: ProtocolViolation
}

export class MessageBuffer {
  private buf: Uint8Array
  private start = 0
  private end = 0

  constructor(initial = 16384) {
    this.buf = new Uint8Array(initial)
  }

  /** Bytes buffered and not yet taken. */
  get length(): number {
    return this.end - this.start
  }

  push(chunk: Uint8Array): void {
    const n = chunk.length
    if (this.end + n > this.buf.length) {
      const live = this.end - this.start
      if (live + n <= this.buf.length && this.start >= live) {
        // enough room once the live bytes move to the front (and they do not overlap their new place)
        this.buf.copyWithin(0, this.start, this.end)
      } else {
        let size = this.buf.length * 2
        while (size < live + n) size *= 2
        const next = new Uint8Array(size)
        next.set(this.buf.subarray(this.start, this.end))
        this.buf = next
      }
      this.start = 0
      this.end = live
    }
    this.buf.set(chunk, this.end)
    this.end += n
  }

  private int32(at: number): number {
    const b = this.buf
    return (b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!
  }

  /** The first buffered byte, or null when nothing is buffered. */
  peekByte(): number | null {
    return this.length > 0 ? (this.buf[this.start] ?? null) : null
  }

  /** Everything buffered, taken out of the buffer. */
  takeAll(): Uint8Array {
    const out = this.buf.slice(this.start, this.end)
    this.start = this.end
    return out
  }

  /**
   * The next packet of the start-up phase (StartupMessage, SSLRequest, GSSENCRequest, CancelRequest:
   * int32 length including itself, no type byte), or null while incomplete.
   */
  nextStartupPacket(): Uint8Array | null {
    if (this.length < 4) return null
    const len = this.int32(this.start)
    if (len < 8 || len - 4 > MAX_STARTUP_PACKET)
      throw new ProtocolViolation('invalid length of startup packet', true)
    if (this.length < len) return null
    const p = this.buf.slice(this.start, this.start + len)
    this.start += len
    return p
  }

  /** The next typed message during authentication (PasswordMessage and friends), or null. */
  nextAuthMessage(): Uint8Array | null {
    if (this.length < 5) return null
    const type = this.buf[this.start]!
    const len = this.int32(this.start + 1)
    if (type !== FrontendCode.Password)
      throw new ProtocolViolation(`expected password response, got message type ${type}`)
    if (len < 4 || len > MAX_STARTUP_PACKET) throw new ProtocolViolation('invalid message length')
    if (this.length < 1 + len) return null
    const m = this.buf.slice(this.start, this.start + 1 + len)
    this.start += 1 + len
    return m
  }

  /** Take all complete regular messages at the front of the buffer, up to a Terminate or a bad header. */
  takeMessages(): Batch {
    let o = this.start
    let terminate = false
    let violation: ProtocolViolation | undefined
    while (this.end - o >= 5) {
      const type = this.buf[o]!
      const limit = MESSAGE_LIMITS.get(type)
      const len = this.int32(o + 1)
      if (limit === undefined) violation = new ProtocolViolation(`invalid frontend message type ${type}`)
      else if (len < 4 || len > limit) violation = new ProtocolViolation('invalid message length')
      if (violation) break
      if (this.end - o < 1 + len) break
      if (type === FrontendCode.Terminate) {
        terminate = true
        break
      }
      o += 1 + len
    }
    // a view, not a copy: the engine's input batch copies it (Engine.input) before anything is pushed again
    const data = o > this.start ? this.buf.subarray(this.start, o) : null
    this.start = o
    if (terminate) this.start += 5
    if (this.start === this.end) this.start = this.end = 0
    return violation ? { data, terminate, violation } : { data, terminate }
  }
}
