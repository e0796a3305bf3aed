// A small assembler for the linear WebAssembly text of plcolumns' wasm loops (loops.ts): one instruction
// per token with its immediates, locals by name, `;;` comments. Only the instructions those loops use.
import { uleb, wasmVec } from '../engine/pg/sidemodule.js'

/** Signed LEB128 (i32.const / i64.const immediates). */
function sleb(n: number): number[] {
  const out: number[] = []
  for (;;) {
    const b = n & 0x7f
    n >>= 7
    if ((n === 0 && !(b & 0x40)) || (n === -1 && b & 0x40)) {
      out.push(b)
      return out
    }
    out.push(b | 0x80)
  }
}

/**
 * A function body from linear WebAssembly text (the instructions below, one per token, with their
 * immediates; locals by name). Only what the two loops use; memory accesses carry align 0 (a hint only)
 * and an optional offset, e.g. `i32.load 8`.
 */
function assemble(text: string, names: string[]): number[] {
  const OP: Record<string, number> = {
    block: 0x02,
    loop: 0x03,
    if: 0x04,
    else: 0x05,
    end: 0x0b,
    br: 0x0c,
    br_if: 0x0d,
    return: 0x0f,
    call: 0x10,
    get: 0x20,
    set: 0x21,
    'global.get': 0x23,
    'i32.load': 0x28,
    'i64.load': 0x29,
    'i32.load8_u': 0x2d,
    'i32.load16_s': 0x2e,
    'i32.store': 0x36,
    'i64.store': 0x37,
    'i32.store8': 0x3a,
    'i32.store16': 0x3b,
    'i32.const': 0x41,
    'i64.const': 0x42,
    'i32.eqz': 0x45,
    'i32.eq': 0x46,
    'i32.ne': 0x47,
    'i32.lt_s': 0x48,
    'i32.lt_u': 0x49,
    'i32.gt_u': 0x4b,
    'i32.ge_u': 0x4f,
    'i32.add': 0x6a,
    'i32.sub': 0x6b,
    'i32.mul': 0x6c,
    'i32.and': 0x71,
    'i32.shl': 0x74,
  }
  const BLOCK: Record<string, number> = { '': 0x40, i32: 0x7f, i64: 0x7e }
  const out: number[] = []
  const tokens = text.split(/\s+/).filter(Boolean)
  for (let i = 0; i < tokens.length; i++) {
    const [name, type = ''] = tokens[i]!.split(':') // block/loop/if carry their result type: `if:i32`
    const op = OP[name!]
    if (op === undefined) throw new Error(`loops.ts: unknown instruction ${tokens[i]}`)
    out.push(op)
    const arg = () => tokens[++i]!
    if (op === 0x02 || op === 0x03 || op === 0x04) out.push(BLOCK[type]!)
    else if (op === 0x20 || op === 0x21) {
      const l = names.indexOf(arg())
      if (l < 0) throw new Error(`loops.ts: unknown local ${tokens[i]}`)
      out.push(l)
    } else if (op === 0x0c || op === 0x0d || op === 0x10 || op === 0x23) out.push(...uleb(Number(arg())))
    else if (op === 0x41 || op === 0x42) out.push(...sleb(Number(arg())))
    else if (op >= 0x28 && op <= 0x3b) {
      const offset = /^\d+$/.test(tokens[i + 1] ?? '') ? Number(arg()) : 0
      out.push(0, ...uleb(offset))
    }
  }
  return out
}

/** The linear text without its comments. */
const code = (text: string) => text.replace(/;;[^\n]*/g, '')

/** A function body: `names` are its i32 parameters (the first `nparams`), then its i32 locals. */
export const body = (text: string, names: string[], nparams: number): number[] => {
  const nlocals = names.length - nparams
  const f = [...wasmVec(nlocals ? [[nlocals, 0x7f]] : []), ...assemble(code(text), names), 0x0b]
  return [...uleb(f.length), ...f]
}
