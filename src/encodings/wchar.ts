// PostgreSQL's encodings as the conversion helpers need them: ids and names (pg_wchar.h pg_enc,
// encnames.c pg_enc2name_tbl), character length (mblen) and single-character validation (mbverifychar)
// for each, with the rules of src/common/wchar.c (PostgreSQL 18), over bytes in wasm memory.

/** pg_enc order: the id is the index (SQL_ASCII = 0 … SHIFT_JIS_2004 = 41). */
export const ENCODING_NAMES = [
  'SQL_ASCII',
  'EUC_JP',
  'EUC_CN',
  'EUC_KR',
  'EUC_TW',
  'EUC_JIS_2004',
  'UTF8',
  'MULE_INTERNAL',
  'LATIN1',
  'LATIN2',
  'LATIN3',
  'LATIN4',
  'LATIN5',
  'LATIN6',
  'LATIN7',
  'LATIN8',
  'LATIN9',
  'LATIN10',
  'WIN1256',
  'WIN1258',
  'WIN866',
  'WIN874',
  'KOI8R',
  'WIN1251',
  'WIN1252',
  'ISO_8859_5',
  'ISO_8859_6',
  'ISO_8859_7',
  'ISO_8859_8',
  'WIN1250',
  'WIN1253',
  'WIN1254',
  'WIN1255',
  'WIN1257',
  'KOI8U',
  'SJIS',
  'BIG5',
  'GBK',
  'UHC',
  'GB18030',
  'JOHAB',
  'SHIFT_JIS_2004',
] as const

export const ENC = Object.fromEntries(ENCODING_NAMES.map((n, i) => [n, i])) as {
  [K in (typeof ENCODING_NAMES)[number]]: number
}

export const validEncoding = (e: number): boolean => e >= 0 && e < ENCODING_NAMES.length

const SS2 = 0x8e
const SS3 = 0x8f
const high = (c: number): boolean => c >= 0x80
const eucRange = (c: number): boolean => c >= 0xa1 && c <= 0xfe
const sjisHead = (c: number): boolean => (c >= 0x81 && c <= 0x9f) || (c >= 0xe0 && c <= 0xfc)
const sjisTail = (c: number): boolean => (c >= 0x40 && c <= 0x7e) || (c >= 0x80 && c <= 0xfc)

/** UTF-8 lead byte → length (1 for bytes that cannot lead a sequence; pg_utf_mblen). */
export function utfMblen(c: number): number {
  if (c < 0x80) return 1
  if ((c & 0xe0) === 0xc0) return 2
  if ((c & 0xf0) === 0xe0) return 3
  if ((c & 0xf8) === 0xf0) return 4
  return 1
}

/** MULE internal code: leading byte → length (pg_mule_mblen). */
export function muleMblen(c: number): number {
  if (c >= 0x81 && c <= 0x8d) return 2 // LC1: official single-byte charsets
  if (c === 0x9a || c === 0x9b) return 3 // LCPRV1
  if (c >= 0x90 && c <= 0x99) return 3 // LC2: official multibyte charsets
  if (c === 0x9c || c === 0x9d) return 4 // LCPRV2
  return 1
}

/** RFC 3629 well-formedness of the l bytes at p (l from utfMblen; pg_utf8_islegal). */
export function utf8IsLegal(u8: Uint8Array, p: number, l: number): boolean {
  if (l < 1 || l > 4) return false
  for (let k = 2; k < l; k++) {
    const a = u8[p + k]!
    if (a < 0x80 || a > 0xbf) return false
  }
  const lead = u8[p]!
  if (l >= 2) {
    const a = u8[p + 1]!
    // the second byte's range excludes overlong forms, surrogates and values past U+10FFFF
    const [lo, hi] =
      lead === 0xe0
        ? [0xa0, 0xbf]
        : lead === 0xed
          ? [0x80, 0x9f]
          : lead === 0xf0
            ? [0x90, 0xbf]
            : lead === 0xf4
              ? [0x80, 0x8f]
              : [0x80, 0xbf]
    if (a < lo || a > hi) return false
  }
  return !((lead >= 0x80 && lead < 0xc2) || lead > 0xf4)
}

/** Length of the character at p from its first byte (two for GB18030; pg_encoding_mblen). */
export function mblen(enc: number, u8: Uint8Array, p: number): number {
  const c = u8[p]!
  switch (enc) {
    case ENC.EUC_JP:
    case ENC.EUC_JIS_2004:
    case ENC.EUC_KR:
    case ENC.JOHAB:
      return c === SS2 ? 2 : c === SS3 ? 3 : high(c) ? 2 : 1
    case ENC.EUC_CN:
      return c === SS2 || c === SS3 ? 3 : high(c) ? 2 : 1
    case ENC.EUC_TW:
      return c === SS2 ? 4 : c === SS3 ? 3 : high(c) ? 2 : 1
    case ENC.UTF8:
      return utfMblen(c)
    case ENC.MULE_INTERNAL:
      return muleMblen(c)
    case ENC.SJIS:
    case ENC.SHIFT_JIS_2004:
      return c >= 0xa1 && c <= 0xdf ? 1 : high(c) ? 2 : 1
    case ENC.BIG5:
    case ENC.GBK:
    case ENC.UHC:
      return high(c) ? 2 : 1
    case ENC.GB18030: {
      if (!high(c)) return 1
      const c2 = u8[p + 1]!
      return c2 >= 0x30 && c2 <= 0x39 ? 4 : 2
    }
    default:
      return 1 // SQL_ASCII and the single-byte encodings (also an invalid id: SQL_ASCII's rules)
  }
}

/** pg_encoding_mblen_or_incomplete: Infinity when too few bytes remain to know the length. */
export function mblenOrIncomplete(enc: number, u8: Uint8Array, p: number, remaining: number): number {
  if (remaining < 1 || (enc === ENC.GB18030 && high(u8[p]!) && remaining < 2)) return Number.POSITIVE_INFINITY
  return mblen(enc, u8, p)
}

/** The two-byte pair several verifiers reject on purpose (wchar.c NONUTF8_INVALID_BYTE0/1). */
const invalidPair = (u8: Uint8Array, p: number): boolean => u8[p] === 0x8d && u8[p + 1] === 0x20

/** Length of the valid character at p (len bytes remain, *p is not NUL), or -1 (pg_encoding_verifymbchar). */
export function verifyChar(enc: number, u8: Uint8Array, p: number, len: number): number {
  const c1 = u8[p]!
  switch (enc) {
    case ENC.EUC_JP:
    case ENC.EUC_JIS_2004:
      if (c1 === SS2) return len >= 2 && u8[p + 1]! >= 0xa1 && u8[p + 1]! <= 0xdf ? 2 : -1
      if (c1 === SS3) return len >= 3 && eucRange(u8[p + 1]!) && eucRange(u8[p + 2]!) ? 3 : -1
      if (!high(c1)) return 1
      return len >= 2 && eucRange(c1) && eucRange(u8[p + 1]!) ? 2 : -1
    case ENC.EUC_KR:
    case ENC.EUC_CN:
      if (!high(c1)) return 1
      return len >= 2 && eucRange(c1) && eucRange(u8[p + 1]!) ? 2 : -1
    case ENC.EUC_TW:
      if (c1 === SS2) {
        if (len < 4) return -1
        const c2 = u8[p + 1]!
        return c2 >= 0xa1 && c2 <= 0xa7 && eucRange(u8[p + 2]!) && eucRange(u8[p + 3]!) ? 4 : -1
      }
      if (c1 === SS3) return -1
      if (!high(c1)) return 1
      return len >= 2 && eucRange(u8[p + 1]!) ? 2 : -1 // no range check on the first byte
    case ENC.JOHAB: {
      const l = mblen(enc, u8, p)
      if (len < l) return -1
      if (!high(c1)) return l
      for (let k = 1; k < l; k++) if (!eucRange(u8[p + k]!)) return -1
      return l
    }
    case ENC.MULE_INTERNAL: {
      const l = muleMblen(c1)
      if (len < l) return -1
      for (let k = 1; k < l; k++) if (!high(u8[p + k]!)) return -1
      return l
    }
    case ENC.UTF8: {
      if (!high(c1)) return c1 === 0 ? -1 : 1
      const l = utfMblen(c1)
      return l <= len && utf8IsLegal(u8, p, l) ? l : -1
    }
    case ENC.SJIS:
    case ENC.SHIFT_JIS_2004: {
      const l = mblen(enc, u8, p)
      if (len < l) return -1
      if (l === 1) return 1
      return sjisHead(c1) && sjisTail(u8[p + 1]!) ? 2 : -1
    }
    case ENC.BIG5:
    case ENC.GBK:
    case ENC.UHC: {
      const l = high(c1) ? 2 : 1
      if (len < l) return -1
      if (l === 2 && (invalidPair(u8, p) || u8[p + 1] === 0)) return -1
      return l
    }
    case ENC.GB18030: {
      if (!high(c1)) return 1
      const c2 = u8[p + 1]
      if (len >= 4 && c2 !== undefined && c2 >= 0x30 && c2 <= 0x39) {
        const c3 = u8[p + 2]!
        const c4 = u8[p + 3]!
        return c1 >= 0x81 && c1 <= 0xfe && c3 >= 0x81 && c3 <= 0xfe && c4 >= 0x30 && c4 <= 0x39 ? 4 : -1
      }
      if (len >= 2 && c1 >= 0x81 && c1 <= 0xfe && c2 !== undefined)
        return (c2 >= 0x40 && c2 <= 0x7e) || (c2 >= 0x80 && c2 <= 0xfe) ? 2 : -1
      return -1
    }
    default:
      return 1 // SQL_ASCII and the single-byte encodings
  }
}

/** The bytes of the character at p as PostgreSQL prints them in encoding errors ("0xc3 0xa9", at most 8). */
export function byteSequence(enc: number, u8: Uint8Array, p: number, len: number): string {
  const n = Math.min(mblenOrIncomplete(enc, u8, p, len), len, 8)
  const out: string[] = []
  for (let k = 0; k < n; k++) out.push(`0x${u8[p + k]!.toString(16).padStart(2, '0')}`)
  return out.join(' ')
}
