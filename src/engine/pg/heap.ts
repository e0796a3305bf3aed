// Typed access to one PGlite instance's wasm memory and its exported C functions.
// Views are rebuilt lazily after memory growth (a grown memory detaches old views: their length becomes 0).
import type { PGlite } from '@electric-sql/pglite'

/** The Emscripten module: exported C functions as `_name`, data symbols as addresses (numbers). */
// biome-ignore lint/suspicious/noExplicitAny: the Emscripten module is an untyped bag of ~2,000 exports
export type PgModule = Record<string, any> & {
  wasmMemory: WebAssembly.Memory
  UTF8ToString(ptr: number, maxBytes?: number): string
  addFunction(fn: (...args: number[]) => number | undefined, sig: string): number
  removeFunction(slot: number): void
  FS: {
    writeFile(path: string, data: Uint8Array | string): void
    mkdirTree(path: string): void
    analyzePath(path: string): { exists: boolean }
  }
}

const utf8 = new TextDecoder('utf-8', { ignoreBOM: true })

export class Heap {
  readonly M: PgModule
  private buf: ArrayBuffer
  u8: Uint8Array
  i16: Int16Array
  i32: Int32Array
  u32: Uint32Array
  f64: Float64Array
  dv: DataView

  constructor(db: PGlite) {
    this.M = db.Module as unknown as PgModule
    this.buf = this.M.wasmMemory.buffer
    this.u8 = new Uint8Array(this.buf)
    this.i16 = new Int16Array(this.buf)
    this.i32 = new Int32Array(this.buf)
    this.u32 = new Uint32Array(this.buf)
    this.f64 = new Float64Array(this.buf)
    this.dv = new DataView(this.buf)
  }

  /** Re-create the views if the memory grew (any call into wasm may grow it). */
  refresh(): void {
    const b = this.M.wasmMemory.buffer
    if (b === this.buf) return
    this.buf = b
    this.u8 = new Uint8Array(b)
    this.i16 = new Int16Array(b)
    this.i32 = new Int32Array(b)
    this.u32 = new Uint32Array(b)
    this.f64 = new Float64Array(b)
    this.dv = new DataView(b)
  }

  get buffer(): ArrayBuffer {
    this.refresh()
    return this.buf
  }

  u32at(a: number): number {
    if (this.u32.length === 0) this.refresh()
    return this.u32[a >>> 2]!
  }
  i32at(a: number): number {
    if (this.i32.length === 0) this.refresh()
    return this.i32[a >>> 2]!
  }
  i16at(a: number): number {
    if (this.i16.length === 0) this.refresh()
    return this.i16[a >>> 1]!
  }
  u8at(a: number): number {
    if (this.u8.length === 0) this.refresh()
    return this.u8[a]!
  }
  /** uint64 as a JS number (exact below 2^53; SPI_processed and friends). */
  u64at(a: number): number {
    return this.u32at(a) + this.u32at(a + 4) * 4294967296
  }
  i64at(a: number): bigint {
    if (this.u8.length === 0) this.refresh()
    return this.dv.getBigInt64(a, true)
  }
  f64at(a: number): number {
    if (this.u8.length === 0) this.refresh()
    return this.dv.getFloat64(a, true)
  }
  f32at(a: number): number {
    if (this.u8.length === 0) this.refresh()
    return this.dv.getFloat32(a, true)
  }
  setU32(a: number, v: number): void {
    if (this.u32.length === 0) this.refresh()
    this.u32[a >>> 2] = v
  }
  setU8(a: number, v: number): void {
    if (this.u8.length === 0) this.refresh()
    this.u8[a] = v
  }
  setI64(a: number, v: bigint): void {
    if (this.u8.length === 0) this.refresh()
    this.dv.setBigInt64(a, v, true)
  }
  setF64(a: number, v: number): void {
    if (this.u8.length === 0) this.refresh()
    this.dv.setFloat64(a, v, true)
  }
  setF32(a: number, v: number): void {
    if (this.u8.length === 0) this.refresh()
    this.dv.setFloat32(a, v, true)
  }

  /** NUL-terminated UTF-8 string at p (null for a NULL pointer). */
  str(p: number): string | null {
    if (!p) return null
    if (this.u8.length === 0) this.refresh()
    const u8 = this.u8
    let e = p
    while (u8[e] !== 0) e++
    return utf8.decode(u8.subarray(p, e))
  }

  /** Copy bytes into wasm memory at p. */
  write(p: number, bytes: Uint8Array): void {
    if (this.u8.length === 0) this.refresh()
    this.u8.set(bytes, p)
  }

  bytes(p: number, len: number): Uint8Array {
    if (this.u8.length === 0) this.refresh()
    return this.u8.subarray(p, p + len)
  }

  /** A NUL-terminated copy of s in palloc'd memory (CurrentMemoryContext: freed with it, also on error). */
  pstrdup(s: string): number {
    const b = Buffer.from(s, 'utf8')
    const p = this.M._palloc(b.length + 1) as number
    this.refresh()
    this.u8.set(b, p)
    this.u8[p + b.length] = 0
    return p
  }

  private readonly interned = new Map<string, number>()

  /** A permanent NUL-terminated C string for s, allocated once per distinct s (for constants). */
  cstr(s: string): number {
    let p = this.interned.get(s)
    if (p === undefined) {
      p = this.strdupPermanent(s)
      this.interned.set(s, p)
    }
    return p
  }

  /** A NUL-terminated copy of s in malloc'd memory (never freed unless the caller frees it). */
  strdupPermanent(s: string): number {
    const b = Buffer.from(s, 'utf8')
    const p = this.M._malloc(b.length + 1) as number
    this.refresh()
    this.u8.set(b, p)
    this.u8[p + b.length] = 0
    return p
  }

  /** The wasm shadow stack pointer (restored after a longjmp skipped wasm epilogues). */
  stackSave(): number {
    return this.M.stackSave()
  }
  stackRestore(sp: number): void {
    this.M.stackRestore(sp)
  }
}
