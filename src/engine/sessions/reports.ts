// ParameterStatus as one client sees it: PostgreSQL sends one only when a reported value differs from the
// last one sent to that client (guc.c ReportGUCOption compares with last_reported). The shared backend
// re-reports a SET to the value a setting already had, and its last_reported follows whichever session ran
// last; so each session remembers what it was told, and reports it already has are dropped.

import { concatBytes, u32be } from '../../util/bytes.js'
import { B } from './backend-stream.js'

import type { EngineSession } from './session.js'

const utf8 = new TextDecoder('utf-8', { ignoreBOM: true })

/** Drop the ParameterStatus messages of `chunk` (starting at a message boundary) that tell `s` nothing new. */
export function filterReports(chunk: Uint8Array, s: EngineSession): Uint8Array {
  let keep: Uint8Array[] | null = null
  let last = 0
  for (let o = 0; o + 5 <= chunk.length; ) {
    const end = o + 1 + u32be(chunk, o + 1)
    if (end > chunk.length) break
    if (chunk[o] === B.ParameterStatus) {
      let z = o + 5
      while (z < end && chunk[z] !== 0) z++
      const name = utf8.decode(chunk.subarray(o + 5, z))
      const value = utf8.decode(chunk.subarray(z + 1, Math.max(z + 1, end - 1)))
      if (s.seen.get(name) === value) {
        keep ??= []
        keep.push(chunk.subarray(last, o))
        last = end
      } else s.seen.set(name, value)
    }
    o = end
  }
  if (!keep) return chunk
  keep.push(chunk.subarray(last))
  return concatBytes(keep)
}
