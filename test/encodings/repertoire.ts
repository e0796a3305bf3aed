// Byte strings to convert from each encoding: every single byte of the single-byte encodings, every lead ×
// trail pair in the multibyte ones' ranges (and the 3/4-byte forms, GB18030's supplementary planes sampled),
// the BMP and a sample of the other planes for UTF8, plus malformed and truncated sequences.

const range = (lo: number, hi: number, step = 1): number[] => {
  const out: number[] = []
  for (let v = lo; v <= hi; v += step) out.push(v)
  return out
}
const hex = (bytes: number[]): string => Buffer.from(bytes).toString('hex')

function pairs(leads: number[], trails: number[], prefix: number[] = []): string[] {
  const out: string[] = []
  for (const a of leads) for (const b of trails) out.push(hex([...prefix, a, b]))
  return out
}

const HIGH = range(0x80, 0xff)
const EUC = range(0xa1, 0xfe)
const ALL_TRAILS = range(0x21, 0xff)

/** Malformed input every encoding must reject the same way: NUL, lone high bytes, truncated pairs. */
const MALFORMED = [
  '00',
  '4100',
  '80',
  'ff',
  '8e',
  '8f',
  'c3',
  'e282',
  'f09f98',
  'a1',
  '81',
  '8e20',
  '8d20',
  '41c3',
]

/** Inputs (hex) for one source encoding. */
export function repertoire(enc: string): string[] {
  const out = new Set<string>(MALFORMED)
  const add = (xs: string[]) => {
    for (const x of xs) out.add(x)
  }
  switch (enc) {
    case 'UTF8':
      add(utf8Inputs())
      break
    case 'EUC_JP':
    case 'EUC_JIS_2004':
      add(pairs(EUC, EUC))
      add(pairs([0x8e], HIGH))
      for (const a of EUC) add(pairs([a], EUC, [0x8f]))
      break
    case 'EUC_CN':
    case 'EUC_KR':
      add(pairs(range(0x81, 0xfe), range(0x81, 0xfe)))
      break
    case 'EUC_TW':
      add(pairs(range(0x81, 0xfe), EUC))
      for (const p of range(0xa1, 0xa7)) for (const a of EUC) add(pairs([a], EUC, [0x8e, p]))
      break
    case 'SJIS':
    case 'SHIFT_JIS_2004':
      add(HIGH.map((b) => hex([b])))
      add(pairs([...range(0x81, 0x9f), ...range(0xe0, 0xfc)], ALL_TRAILS))
      break
    case 'BIG5':
    case 'GBK':
    case 'UHC':
    case 'JOHAB':
      add(pairs(range(0x81, 0xfe), ALL_TRAILS))
      break
    case 'GB18030':
      add(pairs(range(0x81, 0xfe), ALL_TRAILS))
      // four-byte forms: the BMP part (leads 0x81-0x84) whole, the supplementary planes (0x90-0xe3) sampled
      for (const a of range(0x81, 0x84))
        for (const b of range(0x30, 0x39)) add(pairs(range(0x81, 0xfe), range(0x30, 0x39), [a, b]))
      for (const a of [...range(0x85, 0x8f), ...range(0x90, 0xe3, 3), 0xe4, 0xfe])
        for (const b of range(0x30, 0x39)) add(pairs([0x81, 0x9a, 0xfe], range(0x30, 0x39), [a, b]))
      break
    case 'MULE_INTERNAL':
      // LC1 charsets whole; the multibyte ones (LC2, and CNS planes 3-7 behind LCPRV2) with every 5th trail
      add(pairs(range(0x81, 0x8e), HIGH))
      for (const lc of range(0x90, 0x99)) add(pairs(range(0xa0, 0xff), range(0xa0, 0xff, 5), [lc]))
      for (const lc of range(0xf5, 0xfe)) add(pairs(range(0xa1, 0xfe), range(0xa1, 0xfe, 5), [0x9d, lc]))
      add(pairs([0x9a, 0x9b], HIGH, [0xa0]).slice(0, 64))
      break
    default:
      // the single-byte encodings and SQL_ASCII
      add(range(1, 0xff).map((b) => hex([b])))
  }
  return [...out]
}

function utf8Inputs(): string[] {
  const out: string[] = []
  const cp = (c: number) => out.push(Buffer.from(String.fromCodePoint(c), 'utf8').toString('hex'))
  for (let c = 0x80; c <= 0xffff; c++) if (c < 0xd800 || c > 0xdfff) cp(c)
  for (let c = 0x10000; c <= 0x10ffff; c += 97) cp(c)
  for (let c = 0x20000; c <= 0x2ffff; c += 7) cp(c)
  // overlong, surrogate and out-of-range forms (pg_utf8_islegal)
  out.push('c080', 'c1bf', 'e08080', 'eda080', 'f4908080', 'f5808080', 'f8888080')
  return out
}

/**
 * The combined characters: two code points that one character of EUC_JIS_2004 / SHIFT_JIS_2004 / … stands
 * for, found by converting the other way. `images` are the UTF-8 results (hex) of converting an encoding's
 * repertoire to UTF8; those longer than one character are added, also followed by more text, since the
 * converter must look ahead.
 */
export function withCombined(inputs: string[], images: string[]): string[] {
  const set = new Set(inputs)
  for (const img of images) {
    const s = Buffer.from(img, 'hex').toString('utf8')
    const chars = [...s]
    if (chars.length < 2) {
      set.add(img) // plane-2 and other characters outside the sample
      continue
    }
    set.add(img)
    set.add(`${img}41`)
    set.add(Buffer.from(`${chars[0]}é`, 'utf8').toString('hex'))
    set.add(Buffer.from(`${chars[0]}`, 'utf8').toString('hex'))
  }
  return [...set]
}
