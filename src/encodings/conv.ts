// The helpers PostgreSQL's conversion procedures call (src/backend/utils/mb/conv.c and the error reporters
// of mbutils.c), written in JS over wasm memory: PGlite's main module lacks them, so every conversion
// library in $libdir (utf8_and_iso8859_1.so, …) failed with "_ is not a function" and took the backend down.
// The libraries' own code and tables do the converting; these walk the tables the way conv.c does.
import type { Elog } from '../engine/pg/elog.js'
import type { Heap } from '../engine/pg/heap.js'
import {
  byteSequence,
  ENC,
  ENCODING_NAMES,
  muleMblen,
  utf8IsLegal,
  utfMblen,
  validEncoding,
  verifyChar,
} from './wchar.js'

/** The conversion function pointers (utf_local_conversion_func) are called through the function table. */
export type TableLookup = (index: number) => (code: number) => number

export class ConvHelpers {
  constructor(
    private readonly heap: Heap,
    private readonly elog: Elog,
    private readonly table: TableLookup,
  ) {}

  private get u8(): Uint8Array {
    const h = this.heap
    if (h.u8.length === 0) h.refresh()
    return h.u8
  }

  /** mbutils.c report_invalid_encoding: 22021. */
  reportInvalid(enc: number, p: number, len: number): never {
    const name = ENCODING_NAMES[enc] ?? ENCODING_NAMES[0]
    this.elog.raise(`invalid byte sequence for encoding "${name}": ${byteSequence(enc, this.u8, p, len)}`, {
      sqlstate: '22021',
    })
  }

  /** mbutils.c report_untranslatable_char: 22P05. */
  reportUntranslatable(src: number, dest: number, p: number, len: number): never {
    const seq = byteSequence(src, this.u8, p, len)
    this.elog.raise(
      `character with byte sequence ${seq} in encoding "${ENCODING_NAMES[src]}" has no equivalent in encoding "${ENCODING_NAMES[dest]}"`,
      { sqlstate: '22P05' },
    )
  }

  private checkEncoding(enc: number): void {
    if (!validEncoding(enc)) this.elog.raise(`invalid encoding number: ${enc}`, { sqlstate: '22023' })
  }

  /**
   * Single-byte to single-byte through a 128-entry table for the high half (0: no equivalent).
   * Returns the input bytes consumed; with noError it stops before the first bad one instead of raising.
   */
  local2local(
    l: number,
    p: number,
    len: number,
    src: number,
    dest: number,
    tab: number,
    noError: number,
  ): number {
    const start = l
    for (; len > 0; l++, len--) {
      const u8 = this.u8
      const c = u8[l]!
      if (c === 0) {
        if (noError) break
        this.reportInvalid(src, l, len)
      }
      const to = c < 0x80 ? c : u8[tab + c - 0x80]!
      if (to === 0) {
        if (noError) break
        this.reportUntranslatable(src, dest, l, len)
      }
      u8[p++] = to
    }
    this.u8[p] = 0
    return l - start
  }

  /** LATINn → MULE: high bytes get the charset's leading byte lc (or, with a table, a remapped byte). */
  latin2mic(
    l: number,
    p: number,
    len: number,
    lc: number,
    enc: number,
    tab: number,
    noError: number,
  ): number {
    const start = l
    for (; len > 0; l++, len--) {
      const u8 = this.u8
      const c = u8[l]!
      if (c === 0) {
        if (noError) break
        this.reportInvalid(enc, l, len)
      }
      if (c < 0x80) {
        u8[p++] = c
        continue
      }
      const to = tab ? u8[tab + c - 0x80]! : c
      if (to === 0) {
        if (noError) break
        this.reportUntranslatable(enc, ENC.MULE_INTERNAL, l, len)
      }
      u8[p++] = lc
      u8[p++] = to
    }
    this.u8[p] = 0
    return l - start
  }

  /** MULE → LATINn: only two-byte characters of charset lc translate (through tab when given). */
  mic2latin(
    mic: number,
    p: number,
    len: number,
    lc: number,
    enc: number,
    tab: number,
    noError: number,
  ): number {
    const start = mic
    while (len > 0) {
      const u8 = this.u8
      const c = u8[mic]!
      if (c === 0) {
        if (noError) break
        this.reportInvalid(ENC.MULE_INTERNAL, mic, len)
      }
      if (c < 0x80) {
        u8[p++] = c
        mic++
        len--
        continue
      }
      const l = muleMblen(c)
      if (len < l) {
        if (noError) break
        this.reportInvalid(ENC.MULE_INTERNAL, mic, len)
      }
      const c2 = u8[mic + 1]!
      const to = l !== 2 || c !== lc || c2 < 0x80 ? 0 : tab ? u8[tab + c2 - 0x80]! : c2
      if (to === 0) {
        if (noError) break
        this.reportUntranslatable(ENC.MULE_INTERNAL, enc, mic, len)
      }
      u8[p++] = to
      mic += 2
      len -= 2
    }
    this.u8[p] = 0
    return mic - start
  }

  /** Stores the non-zero bytes of a packed code, most significant first (conv.c store_coded_char). */
  private store(p: number, code: number): number {
    const u8 = this.u8
    if (code & 0xff000000) u8[p++] = code >>> 24
    if (code & 0xff0000) u8[p++] = (code >>> 16) & 0xff
    if (code & 0xff00) u8[p++] = (code >>> 8) & 0xff
    if (code & 0xff) u8[p++] = code & 0xff
    return p
  }

  /** Looks up an l-byte character (bytes b1..b4, right-aligned) in a pg_mb_radix_tree; 0 if unmapped. */
  private radix(map: number, l: number, b1: number, b2: number, b3: number, b4: number): number {
    const h = this.heap
    const chars16 = h.u32at(map)
    const chars32 = h.u32at(map + 4)
    const u8 = this.u8
    const at = (i: number): number =>
      chars32 ? h.u32at(chars32 + 4 * i) : u8[chars16 + 2 * i]! | (u8[chars16 + 2 * i + 1]! << 8)
    // per length: the root's offset and the [lower, upper] bound of each level (pg_mb_radix_tree, wasm32)
    const root = [0, 8, 16, 24, 36][l]!
    const bounds = root + 4
    const bytes = [b1, b2, b3, b4].slice(4 - l)
    let idx = h.u32at(map + root)
    for (let k = 0; k < l; k++) {
      const lo = u8[map + bounds + 2 * k]!
      const hi = u8[map + bounds + 2 * k + 1]!
      if (bytes[k]! < lo || bytes[k]! > hi) return 0
    }
    for (let k = 0; k < l; k++) {
      const v = at(bytes[k]! + idx - u8[map + bounds + 2 * k]!)
      idx = chars32 ? v : v & 0xffff
    }
    return idx >>> 0
  }

  /** Binary search of n sorted 12-byte entries for the key words; returns the entry's address or 0. */
  private bsearch(base: number, n: number, k1: number, k2: number | null): number {
    let lo = 0
    let hi = n - 1
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      const e = base + 12 * mid
      const e1 = this.heap.u32at(e)
      let cmp = k1 > e1 ? 1 : k1 < e1 ? -1 : 0
      if (cmp === 0 && k2 !== null) {
        const e2 = this.heap.u32at(e + 4)
        cmp = k2 > e2 ? 1 : k2 < e2 ? -1 : 0
      }
      if (cmp === 0) return e
      if (cmp > 0) lo = mid + 1
      else hi = mid - 1
    }
    return 0
  }

  private packed(p: number, l: number): [number, number, number, number] {
    const u8 = this.u8
    const b = [0, 0, 0, 0] as [number, number, number, number]
    for (let k = 0; k < l; k++) b[4 - l + k] = u8[p + k]!
    return b
  }

  private callConv(fn: number, code: number): number {
    return fn ? this.table(fn)(code) >>> 0 : 0
  }

  /**
   * UTF-8 → local encoding. Per character: the combined-character map (two code points → one code),
   * then the radix tree, then the algorithmic conversion function. Returns the input bytes consumed.
   */
  utfToLocal(
    utf: number,
    len: number,
    iso: number,
    map: number,
    cmap: number,
    cmapsize: number,
    conv: number,
    enc: number,
    noError: number,
  ): number {
    this.checkEncoding(enc)
    const start = utf
    let l = 0
    for (; len > 0; len -= l) {
      const c = this.u8[utf]!
      if (c === 0) break
      l = utfMblen(c)
      if (len < l || !utf8IsLegal(this.u8, utf, l)) break
      if (l === 1) {
        this.u8[iso++] = c
        utf++
        continue
      }
      const [b1, b2, b3, b4] = this.packed(utf, l)
      const code = ((b1 << 24) | (b2 << 16) | (b3 << 8) | b4) >>> 0
      utf += l
      if (cmap && len > l) {
        // a combined character needs the next one too: look at it without consuming it yet
        const firstLen = l
        len -= firstLen
        const l2 = utfMblen(this.u8[utf]!)
        if (len < l2) {
          utf -= firstLen // more input is needed to decide
          break
        }
        if (!utf8IsLegal(this.u8, utf, l2)) {
          if (!noError) this.reportInvalid(ENC.UTF8, utf, len)
          utf -= firstLen
          break
        }
        if (l2 > 1) {
          const [c1, c2, c3, c4] = this.packed(utf, l2)
          const e = this.bsearch(cmap, cmapsize, code, ((c1 << 24) | (c2 << 16) | (c3 << 8) | c4) >>> 0)
          if (e) {
            iso = this.store(iso, this.heap.u32at(e + 8))
            utf += l2
            l = l2
            continue
          }
        }
        len += firstLen // no combination: the first character alone
      }
      const mapped = map ? this.radix(map, l, b1, b2, b3, b4) : 0
      const converted = mapped || this.callConv(conv, code)
      if (converted) {
        iso = this.store(iso, converted)
        continue
      }
      utf -= l
      if (noError) break
      this.reportUntranslatable(ENC.UTF8, enc, utf, len)
    }
    if (len > 0 && !noError) this.reportInvalid(ENC.UTF8, utf, len)
    this.u8[iso] = 0
    return utf - start
  }

  /**
   * Local encoding → UTF-8. Per character: the radix tree, then the combined-character map (one code → two
   * code points), then the conversion function. Returns the input bytes consumed.
   */
  localToUtf(
    iso: number,
    len: number,
    utf: number,
    map: number,
    cmap: number,
    cmapsize: number,
    conv: number,
    enc: number,
    noError: number,
  ): number {
    this.checkEncoding(enc)
    const start = iso
    let l = 0
    for (; len > 0; len -= l) {
      const c = this.u8[iso]!
      if (c === 0) break
      if (c < 0x80) {
        this.u8[utf++] = c
        iso++
        l = 1
        continue
      }
      l = verifyChar(enc, this.u8, iso, len)
      if (l < 0) break
      const [b1, b2, b3, b4] = this.packed(iso, l)
      const code = ((b1 << 24) | (b2 << 16) | (b3 << 8) | b4) >>> 0
      iso += l
      if (map) {
        const mapped = this.radix(map, l, b1, b2, b3, b4)
        if (mapped) {
          utf = this.store(utf, mapped)
          continue
        }
        const e = cmap ? this.bsearch(cmap, cmapsize, code, null) : 0
        if (e) {
          utf = this.store(utf, this.heap.u32at(e + 4))
          utf = this.store(utf, this.heap.u32at(e + 8))
          continue
        }
      }
      const converted = this.callConv(conv, code)
      if (converted) {
        utf = this.store(utf, converted)
        continue
      }
      iso -= l
      if (noError) break
      this.reportUntranslatable(enc, ENC.UTF8, iso, len)
    }
    if (len > 0 && !noError) this.reportInvalid(enc, iso, len)
    this.u8[utf] = 0
    return iso - start
  }
}
