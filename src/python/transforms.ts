// TRANSFORM FOR TYPE (CREATE FUNCTION … TRANSFORM FOR TYPE hstore): the FROM SQL halves of the transforms
// PostgreSQL ships for PL/Python — contrib/hstore_plpython (hstore → dict), jsonb_plpython (jsonb → dict,
// list, str, Decimal, bool, None) and ltree_plpython (ltree → list of labels). PostgreSQL calls their C
// functions with the Datum; here the value's text form is read into the codec the same shape those
// functions build. The TO SQL halves are in pyglite_host/transforms.py.
import { type CodecWriter, T } from './codec.js'

/** The C symbols of the FROM SQL functions this handler implements, by the name PostgreSQL gives them. */
export const FROM_SQL = ['hstore_to_plpython', 'jsonb_to_plpython', 'ltree_to_plpython'] as const
/** …and of the TO SQL functions (ltree_plpython has none). */
export const TO_SQL = ['plpython_to_hstore', 'plpython_to_jsonb'] as const

/**
 * numpy_plpython3u (extensions/numpy_plpython3u, docs/columns.md): its transforms are declared for the
 * element types, which is what CREATE FUNCTION … TRANSFORM FOR TYPE float8[] records; a procedure that
 * lists one gets that element type's ARRAYS as numpy arrays, both ways, in one piece (arguments: the
 * array's packed bytes in a codec NDARRAY, pyglite_host/ndarrays.py from_sql; results: to_sql there).
 * Values of the element type itself convert as without a transform, as the twin's FROM SQL functions do.
 * Keyed by the FROM SQL function's C symbol: the array type, its element's struct code and width.
 */
export const NUMPY: Readonly<Record<string, { array: number; code: string; width: number }>> = {
  numpy_int2_to_plpython: { array: 1005, code: 'h', width: 2 },
  numpy_int4_to_plpython: { array: 1007, code: 'i', width: 4 },
  numpy_int8_to_plpython: { array: 1016, code: 'q', width: 8 },
  numpy_float4_to_plpython: { array: 1021, code: 'f', width: 4 },
  numpy_float8_to_plpython: { array: 1022, code: 'd', width: 8 },
  numpy_bool_to_plpython: { array: 1000, code: '?', width: 1 },
  numpy_oid_to_plpython: { array: 1028, code: 'I', width: 4 },
}

/** Type OID → C symbol of its transform function, for one procedure. */
export type TransformMap = Map<number, string>

/** hstore's text form: "k"=>"v", "k2"=>NULL (hstore_io.c hstore_out: \ and " escaped by \). */
function writeHstore(w: CodecWriter, s: string): void {
  const pairs: Array<[string, string | null]> = []
  let i = 0
  const quoted = (): string => {
    let out = ''
    i++ // opening quote
    while (i < s.length && s[i] !== '"') {
      if (s[i] === '\\') i++
      out += s[i++]
    }
    i++ // closing quote
    return out
  }
  while (i < s.length) {
    while (s[i] === ' ' || s[i] === ',') i++
    if (i >= s.length) break
    const key = quoted()
    i += 2 // =>
    if (s.startsWith('NULL', i)) {
      pairs.push([key, null])
      i += 4
    } else pairs.push([key, quoted()])
  }
  w.header(T.DICT, pairs.length)
  for (const [k, v] of pairs) {
    w.text(k)
    if (v === null) w.none()
    else w.text(v)
  }
}

/** jsonb's text form as jsonb_plpython's PLyObject_FromJsonbValue builds it: numbers become Decimal. */
function writeJson(w: CodecWriter, s: string): void {
  let i = 0
  const ws = () => {
    while (s[i] === ' ' || s[i] === '\n' || s[i] === '\t' || s[i] === '\r') i++
  }
  const str = (): string => {
    const start = i
    i++
    while (s[i] !== '"') i += s[i] === '\\' ? 2 : 1
    i++
    return JSON.parse(s.slice(start, i)) as string
  }
  // containers need their element count before their elements: parse into a tree first
  type J = null | boolean | string | { n: string } | J[] | (Array<[string, J]> & { obj: true })
  const value = (): J => {
    ws()
    const c = s[i]
    if (c === '{') {
      i++
      const entries = [] as unknown as Array<[string, J]> & { obj: true }
      entries.obj = true
      ws()
      if (s[i] === '}') {
        i++
        return entries
      }
      for (;;) {
        ws()
        const k = str()
        ws()
        i++ // :
        entries.push([k, value()])
        ws()
        if (s[i++] === '}') return entries
      }
    }
    if (c === '[') {
      i++
      const items: J[] = []
      ws()
      if (s[i] === ']') {
        i++
        return items
      }
      for (;;) {
        items.push(value())
        ws()
        if (s[i++] === ']') return items
      }
    }
    if (c === '"') return str()
    if (s.startsWith('true', i)) {
      i += 4
      return true
    }
    if (s.startsWith('false', i)) {
      i += 5
      return false
    }
    if (s.startsWith('null', i)) {
      i += 4
      return null
    }
    const start = i
    while (i < s.length && /[-+0-9.eE]/.test(s[i] as string)) i++
    return { n: s.slice(start, i) }
  }
  const emit = (v: J): void => {
    if (v === null) w.none()
    else if (v === true || v === false) w.bool(v)
    else if (typeof v === 'string') w.text(v)
    else if (Array.isArray(v)) {
      if ((v as { obj?: true }).obj) {
        const entries = v as Array<[string, J]>
        w.header(T.DICT, entries.length)
        for (const [k, x] of entries) {
          w.text(k)
          emit(x)
        }
      } else {
        w.header(T.LIST, v.length)
        for (const x of v as J[]) emit(x)
      }
    } else w.text(v.n, T.DECIMAL)
  }
  emit(value())
}

/** ltree's text form a.b.c as ltree_to_plpython's list of labels. */
function writeLtree(w: CodecWriter, s: string): void {
  const labels = s === '' ? [] : s.split('.')
  w.header(T.LIST, labels.length)
  for (const l of labels) w.text(l)
}

/** The codec writer of a FROM SQL transform, given the value's text form; undefined for unknown ones. */
export function fromSqlWriter(symbol: string): ((w: CodecWriter, text: string) => void) | undefined {
  switch (symbol) {
    case 'hstore_to_plpython':
      return writeHstore
    case 'jsonb_to_plpython':
      return writeJson
    case 'ltree_to_plpython':
      return writeLtree
    default:
      return undefined
  }
}
