// Makes PostgreSQL's encoding conversions work in a PGlite instance: loads a side module exporting the C
// helpers the conversion libraries import (LocalToUtf, UtfToLocal, report_untranslatable_char, …) with JS
// bodies (conv.ts), before any conversion can run. See docs/encodings.md.
import type { Elog } from '../engine/pg/elog.js'
import { functionTable } from '../engine/pg/fntable.js'
import type { Heap } from '../engine/pg/heap.js'
import { buildJsModule, type JsFunction, loadJsModule } from '../engine/pg/jsexports.js'
import { ConvHelpers } from './conv.js'
import { utf8IsLegal, verifyChar } from './wchar.js'

const FILE = '/pglite/lib/postgresql/pyglite_encodings.so'

type Fn = (...a: number[]) => number

/** The symbols PGlite 0.5.16's main module lacks, with their C signatures (conv.c, wchar.c, mbutils.c). */
function helpers(heap: Heap, c: ConvHelpers): JsFunction[] {
  const u8 = (): Uint8Array => {
    if (heap.u8.length === 0) heap.refresh()
    return heap.u8
  }
  const fn = (name: string, params: number, returns: boolean, body: Fn): JsFunction => ({
    name,
    params,
    returns,
    body,
  })
  return [
    fn('LocalToUtf', 9, true, (iso, len, utf, map, cmap, n, conv, enc, noError) =>
      c.localToUtf(iso, len, utf, map, cmap, n, conv, enc, noError),
    ),
    fn('UtfToLocal', 9, true, (utf, len, iso, map, cmap, n, conv, enc, noError) =>
      c.utfToLocal(utf, len, iso, map, cmap, n, conv, enc, noError),
    ),
    fn('local2local', 7, true, (l, p, len, src, dest, tab, noError) =>
      c.local2local(l, p, len, src, dest, tab, noError),
    ),
    fn('latin2mic', 6, true, (l, p, len, lc, enc, noError) => c.latin2mic(l, p, len, lc, enc, 0, noError)),
    fn('mic2latin', 6, true, (m, p, len, lc, enc, noError) => c.mic2latin(m, p, len, lc, enc, 0, noError)),
    fn('latin2mic_with_table', 7, true, (l, p, len, lc, enc, tab, noError) =>
      c.latin2mic(l, p, len, lc, enc, tab, noError),
    ),
    fn('mic2latin_with_table', 7, true, (m, p, len, lc, enc, tab, noError) =>
      c.mic2latin(m, p, len, lc, enc, tab, noError),
    ),
    fn('report_invalid_encoding', 3, false, (enc, p, len) => c.reportInvalid(enc, p, len)),
    fn('report_untranslatable_char', 4, false, (src, dest, p, len) =>
      c.reportUntranslatable(src, dest, p, len),
    ),
    fn('pg_utf8_islegal', 2, true, (p, len) => (utf8IsLegal(u8(), p, len) ? 1 : 0)),
    fn('pg_encoding_verifymbchar', 3, true, (enc, p, len) => verifyChar(enc, u8(), p, len)),
  ]
}

/** Load the helpers into one instance (once, right after it starts). */
export async function installEncodingSupport(heap: Heap, elog: Elog): Promise<void> {
  const table = functionTable(heap)
  const lookup = (index: number) => table.get(index) as (code: number) => number
  const fns = helpers(heap, new ConvHelpers(heap, elog, lookup))
  loadJsModule(heap, FILE, await buildJsModule(fns), fns)
}
