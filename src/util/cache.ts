// pyglite's cache directories (the pristine cluster, assembled wasm modules): PYGLITE_CACHE_DIR, else the
// package's build/ directory and the user's cache (`$XDG_CACHE_HOME/pyglite`, or ~/.cache/pyglite).
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { PKG_ROOT } from './paths.js'

/** `PYGLITE_CACHE_DIR=off`: nothing is cached (every new cluster runs initdb; wasm is assembled each time). */
export function cacheDisabled(): boolean {
  return process.env.PYGLITE_CACHE_DIR === 'off'
}

/**
 * The directories searched, in order. build/ is filled at build time (`npm run build`); the user's cache by
 * the first process that needs an entry when build/ is missing or not writable (a read-only installation).
 */
export function cacheRoots(): string[] {
  const env = process.env.PYGLITE_CACHE_DIR
  if (env && env !== 'off') return [path.resolve(env)]
  const xdg = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache')
  return [path.join(PKG_ROOT, 'build', 'pyglite-cache'), path.join(xdg, 'pyglite')]
}

/** The first cache directory this process can write to (created if missing). */
export function writableCacheRoot(): string {
  const roots = cacheRoots()
  for (const root of roots) {
    try {
      fs.mkdirSync(root, { recursive: true, mode: 0o700 })
      fs.accessSync(root, fs.constants.W_OK)
      return root
    } catch {
      // not writable: the next one
    }
  }
  throw new Error(`no writable cache directory among ${roots.join(', ')}`)
}
