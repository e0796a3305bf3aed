// The two messages every statement sends between the threads, as bare byte arrays: a batch of client input
// (main → worker) and a session's output (worker → main). A Uint8Array is cloned for a fraction of what an
// object holding one costs (no property names to write and read back), and it is copied rather than
// transferred: detaching and re-creating a small backing store costs more than copying it.

/** Input record header: sid u32, length u32, arrival (ms since the epoch) f64; the bytes follow, padded to 8. */
const IN_HEAD = 16
/** Output frame header: sid u32, consumed input bytes u32, flags u32, unused u32; the output bytes follow. */
const OUT_HEAD = 16
const HAS_DATA = 1
const TERMINATE = 2

const pad8 = (n: number) => (n + 7) & ~7

/** Little-endian uint32 at `o` (no DataView made per frame). */
function u32(b: Uint8Array, o: number, v: number): void {
  b[o] = v
  b[o + 1] = v >>> 8
  b[o + 2] = v >>> 16
  b[o + 3] = v >>> 24
}

/** Collects the inputs of one event-loop turn into one message (main thread). */
export class InputBatch {
  private buf = new Uint8Array(4096)
  private view = new DataView(this.buf.buffer)
  private end = 0
  /** the last message taken: reused when the next one has the same size (postMessage copies it) */
  private spare = new Uint8Array(0)

  get empty(): boolean {
    return this.end === 0
  }

  /** Append session `sid`'s complete frontend messages (copied: the caller may reuse `data`). */
  add(sid: number, data: Uint8Array, at: number): void {
    const need = this.end + IN_HEAD + pad8(data.length)
    if (need > this.buf.length) {
      let size = this.buf.length * 2
      while (size < need) size *= 2
      const next = new Uint8Array(size)
      next.set(this.buf.subarray(0, this.end))
      this.buf = next
      this.view = new DataView(next.buffer)
    }
    this.view.setUint32(this.end, sid, true)
    this.view.setUint32(this.end + 4, data.length, true)
    this.view.setFloat64(this.end + 8, at, true)
    this.buf.set(data, this.end + IN_HEAD)
    this.end = need
  }

  /**
   * The message to post: exactly the records, in a buffer that is valid until the next take() (postMessage
   * copies it; a new backing store per message cost more than the copy). The batch is empty again.
   */
  take(): Uint8Array {
    let out = this.spare
    if (out.length === this.end) out.set(this.buf.subarray(0, this.end))
    else out = this.spare = this.buf.slice(0, this.end)
    this.end = 0
    if (this.buf.length > 1 << 20) {
      // a big COPY went through: do not keep its buffer
      this.buf = new Uint8Array(4096)
      this.view = new DataView(this.buf.buffer)
    }
    return out
  }
}

/** One input as a message of its own: a large one goes alone and is transferred (no batch, no second copy). */
export function inputFrame(sid: number, data: Uint8Array, at: number): Uint8Array {
  const f = new Uint8Array(IN_HEAD + pad8(data.length))
  const v = new DataView(f.buffer)
  v.setUint32(0, sid, true)
  v.setUint32(4, data.length, true)
  v.setFloat64(8, at, true)
  f.set(data, IN_HEAD)
  return f
}

/** The records of an input message (worker thread); each `data` is a view into `msg`. */
export function readInputs(msg: Uint8Array, each: (sid: number, data: Uint8Array, at: number) => void): void {
  const v = new DataView(msg.buffer, msg.byteOffset, msg.byteLength)
  for (let o = 0; o + IN_HEAD <= msg.length; ) {
    const sid = v.getUint32(o, true)
    const len = v.getUint32(o + 4, true)
    const at = v.getFloat64(o + 8, true)
    each(sid, msg.subarray(o + IN_HEAD, o + IN_HEAD + len), at)
    o += IN_HEAD + pad8(len)
  }
}

/**
 * Output for a session: `parts` (total `bytes`) in one frame, with the input bytes it consumed (worker).
 * Written into `into` when it has exactly the frame's size (a frame posted before: postMessage copied it).
 */
export function outputFrame(
  sid: number,
  parts: readonly Uint8Array[],
  bytes: number,
  consumed: number,
  terminate: boolean,
  into?: Uint8Array,
): Uint8Array {
  const f = into?.length === OUT_HEAD + bytes ? into : new Uint8Array(OUT_HEAD + bytes)
  u32(f, 0, sid)
  u32(f, 4, consumed)
  u32(f, 8, (parts.length > 0 && bytes > 0 ? HAS_DATA : 0) | (terminate ? TERMINATE : 0))
  let o = OUT_HEAD
  for (const p of parts) {
    f.set(p, o)
    o += p.length
  }
  return f
}

/** What an output frame says (main thread); `data` is a view into the frame. */
export function readOutput(f: Uint8Array): {
  sid: number
  data: Uint8Array | undefined
  consumed: number
  terminate: boolean
} {
  const v = new DataView(f.buffer, f.byteOffset, f.byteLength)
  const flags = v.getUint32(8, true)
  return {
    sid: v.getUint32(0, true),
    data: flags & HAS_DATA ? f.subarray(OUT_HEAD) : undefined,
    consumed: v.getUint32(4, true),
    terminate: (flags & TERMINATE) !== 0,
  }
}
