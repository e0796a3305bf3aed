// Tagged value encoding JS → Python (decoded in C by native/core/codec.c) and Python → JS (written by
// pyglite_host/convert.py). One byte string per call instead of one N-API call per value.

export const T = {
  NONE: 0,
  FALSE: 1,
  TRUE: 2,
  INT32: 3,
  INT64: 4,
  FLOAT64: 5,
  STR: 6,
  BYTES: 7,
  DECIMAL: 8,
  LIST: 9,
  DICT: 10,
  ROWS: 11,
  INTSTR: 12,
  TUPLE: 13,
  /** Python → JS results only: an array's elements, then ARRAY_END, u8 ndims, u32 dims[ndims] */
  ARRAY: 14,
  ARRAY_END: 15,
  /** Python → JS results only: u32 natts, then one value per attribute (dropped ones as NONE) */
  ROW: 16,
  /** Python → JS results only: a PostgreSQL error to raise at this point, then a LIST of its fields */
  ERROR: 17,
  /**
   * A numeric array in one piece (numpy_plpython3u, pyglite_host/ndarrays.py): JS → Python a u8 struct code,
   * then both ways u8 ndim, u32 dims[ndim], u32 + NULL bitmap (length 0: no NULLs), u32 + packed elements
   */
  NDARRAY: 18,
} as const

/** A growable encoder; `buf` may be replaced when it grows (re-register it with the native side). */
export class CodecWriter {
  buf: Buffer
  pos = 0
  /** Called with the new buffer whenever it is reallocated. */
  onGrow: ((buf: Buffer) => void) | undefined

  constructor(size = 64 * 1024) {
    this.buf = Buffer.alloc(size)
  }

  reset(): void {
    this.pos = 0
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return
    let size = this.buf.length * 2
    while (size < this.pos + n) size *= 2
    const nb = Buffer.alloc(size)
    this.buf.copy(nb, 0, 0, this.pos)
    this.buf = nb
    this.onGrow?.(nb)
  }

  tag(t: number): void {
    this.ensure(1)
    this.buf[this.pos++] = t
  }
  /** Bytes already in codec form (e.g. a header encoded once and reused). */
  raw(b: Uint8Array): void {
    this.ensure(b.length)
    this.buf.set(b, this.pos)
    this.pos += b.length
  }
  none(): void {
    this.tag(T.NONE)
  }
  bool(v: boolean): void {
    this.tag(v ? T.TRUE : T.FALSE)
  }
  int32(v: number): void {
    this.ensure(5)
    this.buf[this.pos++] = T.INT32
    this.buf.writeInt32LE(v, this.pos)
    this.pos += 4
  }
  int64(v: bigint): void {
    this.ensure(9)
    this.buf[this.pos++] = T.INT64
    this.buf.writeBigInt64LE(v, this.pos)
    this.pos += 8
  }
  float64(v: number): void {
    this.ensure(9)
    this.buf[this.pos++] = T.FLOAT64
    this.buf.writeDoubleLE(v, this.pos)
    this.pos += 8
  }
  /** STR, DECIMAL or INTSTR: a tag, a u32 length and UTF-8 bytes. */
  text(s: string, tag: number = T.STR): void {
    const max = s.length * 3
    this.ensure(5 + max)
    this.buf[this.pos] = tag
    const n = this.buf.write(s, this.pos + 5, 'utf8')
    this.buf.writeUInt32LE(n, this.pos + 1)
    this.pos += 5 + n
  }
  /** UTF-8 bytes already encoded (e.g. straight from wasm memory). */
  utf8Bytes(b: Uint8Array, tag: number = T.STR): void {
    this.ensure(5 + b.length)
    this.buf[this.pos] = tag
    this.buf.writeUInt32LE(b.length, this.pos + 1)
    this.buf.set(b, this.pos + 5)
    this.pos += 5 + b.length
  }
  bytes(b: Uint8Array): void {
    this.utf8Bytes(b, T.BYTES)
  }
  /** NDARRAY: a numeric array's packed elements and NULL bitmap, each copied in one piece. */
  ndarray(code: string, dims: number[], bitmap: Uint8Array | null, data: Uint8Array): void {
    const nb = bitmap ? bitmap.length : 0
    this.ensure(2 + 4 * dims.length + 8 + nb + data.length + 1)
    this.buf[this.pos++] = T.NDARRAY
    this.buf[this.pos++] = code.charCodeAt(0)
    this.buf[this.pos++] = dims.length
    for (const d of dims) this.u32(d)
    this.u32(nb)
    if (bitmap) this.buf.set(bitmap, this.pos)
    this.pos += nb
    this.u32(data.length)
    this.buf.set(data, this.pos)
    this.pos += data.length
  }
  /** LIST / DICT / TUPLE / ROWS header with a count. */
  header(tag: number, n: number): void {
    this.ensure(5)
    this.buf[this.pos] = tag
    this.buf.writeUInt32LE(n, this.pos + 1)
    this.pos += 5
  }
  u32(n: number): void {
    this.ensure(4)
    this.buf.writeUInt32LE(n, this.pos)
    this.pos += 4
  }
  /** A view of what was written (valid until the next write). */
  view(): Uint8Array {
    return this.buf.subarray(0, this.pos)
  }
}

/** Values decoded from a Python → JS result (generic decoding, e.g. for plpy arguments). */
export type Decoded = null | boolean | number | bigint | string | Uint8Array | { list: Decoded[] }

/** Reader for Python → JS results (same tags): a streaming cursor plus generic decoding. */
export class CodecReader {
  pos = 0
  end: number
  constructor(
    public buf: Buffer,
    end = buf.length,
  ) {
    this.end = end
  }

  /** Read another value from buf[pos, end) (a reader is reused per call: no allocation). */
  reset(buf: Buffer, end: number, pos = 0): this {
    this.buf = buf
    this.pos = pos
    this.end = end
    return this
  }

  get done(): boolean {
    return this.pos >= this.end
  }

  tag(): number {
    return this.buf[this.pos++]!
  }

  peek(): number {
    return this.buf[this.pos]!
  }

  u8(): number {
    return this.buf[this.pos++]!
  }

  u32(): number {
    const v = this.buf.readUInt32LE(this.pos)
    this.pos += 4
    return v
  }

  /** After an INT64 tag: the value as a number when it fits 32 bits, else null (the bytes stay unread). */
  int32OrNull(): number | null {
    const lo = this.buf.readInt32LE(this.pos)
    const hi = this.buf.readInt32LE(this.pos + 4)
    if (hi !== (lo < 0 ? -1 : 0)) return null
    this.pos += 8
    return lo
  }

  /** After an INT64 or FLOAT64 tag: the 8 raw bytes (little-endian, as wasm stores them). */
  raw8(): Buffer {
    const b = this.buf.subarray(this.pos, this.pos + 8)
    this.pos += 8
    return b
  }

  /** After a STR/BYTES/DECIMAL/INTSTR tag: the payload bytes (a view, valid while buf lives). */
  payload(): Buffer {
    const n = this.u32()
    const b = this.buf.subarray(this.pos, this.pos + n)
    this.pos += n
    return b
  }

  value(): Decoded {
    const tag = this.buf[this.pos++]
    switch (tag) {
      case T.NONE:
        return null
      case T.FALSE:
        return false
      case T.TRUE:
        return true
      case T.INT32: {
        const v = this.buf.readInt32LE(this.pos)
        this.pos += 4
        return v
      }
      case T.INT64: {
        const v = this.buf.readBigInt64LE(this.pos)
        this.pos += 8
        return v
      }
      case T.FLOAT64: {
        const v = this.buf.readDoubleLE(this.pos)
        this.pos += 8
        return v
      }
      case T.STR:
      case T.DECIMAL:
      case T.INTSTR:
        return this.payload().toString('utf8')
      case T.BYTES:
        return this.payload()
      case T.LIST:
      case T.TUPLE: {
        const n = this.u32()
        const list: Decoded[] = []
        for (let i = 0; i < n; i++) list.push(this.value())
        return { list }
      }
      default:
        throw new Error(`codec: unexpected tag ${tag} in a result`)
    }
  }
}
