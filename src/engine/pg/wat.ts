// WAT text → wasm bytes with npm `wabt`, kept in the cache directory by the text's hash: loading and
// initialising wabt costs 0.2–0.5 s per process, and the side modules' text is the same at every start.
import crypto from 'node:crypto'
import fs from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { cacheDisabled, cacheRoots, writableCacheRoot } from '../../util/cache.js'

const require = createRequire(import.meta.url)
const WABT_VERSION = (require('wabt/package.json') as { version: string }).version

/** `wabt.parseWat` (mutable globals) → resolveNames → validate → toBinary (canonical LEBs), cached. */
export async function assembleWat(name: string, wat: string): Promise<Uint8Array> {
  const hash = crypto.createHash('sha256').update(`${WABT_VERSION}\0${wat}`).digest('hex').slice(0, 32)
  const file = `wat-${hash}.wasm`
  if (!cacheDisabled())
    for (const root of cacheRoots()) {
      try {
        const bytes = new Uint8Array(fs.readFileSync(path.join(root, file)))
        if (WebAssembly.validate(bytes)) return bytes
      } catch {
        // not cached there
      }
    }
  const wabt = await (await import('wabt')).default() // imported only on a miss: ~0.1 s
  const mod = wabt.parseWat(name, wat, { mutable_globals: true })
  let out: Uint8Array
  try {
    mod.resolveNames()
    mod.validate()
    out = new Uint8Array(mod.toBinary({ canonicalize_lebs: true }).buffer)
  } finally {
    mod.destroy()
  }
  if (!cacheDisabled())
    try {
      // written under a temporary name and renamed: a reader never sees half a file
      const root = writableCacheRoot()
      const tmp = path.join(root, `.${file}.${crypto.randomBytes(4).toString('hex')}`)
      fs.writeFileSync(tmp, out)
      fs.renameSync(tmp, path.join(root, file))
    } catch {
      // a cache that cannot be written costs time at the next start, nothing else
    }
  return out
}
