// Byte helpers shared by the main thread (wire) and the engine (sessions): protocol messages are built from parts.

/** The parts laid end to end in one new array. */
export function concatBytes(parts: Uint8Array[]): Uint8Array {
  let n = 0
  for (const p of parts) n += p.length
  const out = new Uint8Array(n)
  let o = 0
  for (const p of parts) {
    out.set(p, o)
    o += p.length
  }
  return out
}

/** The big-endian unsigned 32-bit integer at `o` (a protocol message's length field). */
export function u32be(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0
}
