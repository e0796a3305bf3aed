// PGlite's contrib extension bundles (node_modules/@electric-sql/pglite/dist/<name>.tar.gz), unpacked once
// into a cache directory on disk that every instance reads from on demand (contrib.ts).
import fs from 'node:fs'
import { createRequire } from 'node:module'
import os from 'node:os'
import path from 'node:path'
import zlib from 'node:zlib'
import { PKG_ROOT } from '../util/paths.js'

const require_ = createRequire(import.meta.url)

/** The pinned PGlite's dist directory and version (the cache is per version: bundles change with it). */
export function pgliteDist(): { dir: string; version: string } {
  const dir = path.dirname(require_.resolve('@electric-sql/pglite')) // …/pglite/dist/index.cjs
  const pkgJson = path.join(dir, '..', 'package.json') // not in the package's "exports"
  const version = (JSON.parse(fs.readFileSync(pkgJson, 'utf8')) as { version: string }).version
  return { dir, version }
}

/** Names of the shipped bundles (hstore, pgcrypto, …), sorted. */
export function bundleNames(dist = pgliteDist().dir): string[] {
  return fs
    .readdirSync(dist)
    .filter((f) => f.endsWith('.tar.gz'))
    .map((f) => f.slice(0, -'.tar.gz'.length))
    .sort()
}

/** Regular files of a ustar archive: [path, bytes]. Enough for PGlite's bundles (no links, no pax). */
export function untar(tar: Uint8Array): Array<[string, Uint8Array]> {
  const out: Array<[string, Uint8Array]> = []
  const text = (o: number, n: number) => {
    const s = Buffer.from(tar.subarray(o, o + n)).toString('utf8')
    const z = s.indexOf('\0')
    return z < 0 ? s : s.slice(0, z)
  }
  for (let o = 0; o + 512 <= tar.length; ) {
    const name = text(o, 100)
    if (!name) break // two zero blocks end the archive
    const size = Number.parseInt(text(o + 124, 12).trim() || '0', 8)
    const type = String.fromCharCode(tar[o + 156] ?? 48)
    const prefix = text(o + 345, 155)
    const full = prefix ? `${prefix}/${name}` : name
    if (type === '0' || type === '\0') out.push([full, tar.slice(o + 512, o + 512 + size)])
    o += 512 + Math.ceil(size / 512) * 512
  }
  return out
}

function writable(dir: string): boolean {
  try {
    fs.mkdirSync(dir, { recursive: true })
    fs.accessSync(dir, fs.constants.W_OK)
    return true
  } catch {
    return false
  }
}

/**
 * The directory holding every bundle unpacked (lib/postgresql/*.so, share/postgresql/extension/…), made on
 * first use: in the package's build/ directory, or the system's temp directory when that is read-only.
 * Made in a private directory and renamed into place, so concurrent first starts cannot see half of it.
 */
export function contribCache(): string {
  const { dir: dist, version } = pgliteDist()
  const leaf = `pglite-contrib-${version}`
  const candidates = [
    path.join(PKG_ROOT, 'build', leaf),
    path.join(os.tmpdir(), `${leaf}-${process.getuid?.() ?? 0}`),
  ]
  for (const c of candidates) if (fs.existsSync(path.join(c, '.complete'))) return c
  const target = candidates.find((c) => writable(path.dirname(c)))
  if (!target)
    throw new Error(`no writable place for PGlite's extension files (tried ${candidates.join(', ')})`)
  const tmp = fs.mkdtempSync(`${target}.tmp-`)
  for (const name of bundleNames(dist)) {
    const files = untar(zlib.gunzipSync(fs.readFileSync(path.join(dist, `${name}.tar.gz`))))
    for (const [rel, data] of files) {
      const p = path.join(tmp, path.normalize(rel))
      if (!p.startsWith(tmp + path.sep)) continue // never outside the cache
      fs.mkdirSync(path.dirname(p), { recursive: true })
      fs.writeFileSync(p, data)
    }
    fs.writeFileSync(path.join(tmp, `${name}.bundle`), files.map(([f]) => f).join('\n'))
  }
  fs.writeFileSync(path.join(tmp, '.complete'), version)
  try {
    fs.renameSync(tmp, target)
  } catch {
    fs.rmSync(tmp, { recursive: true, force: true }) // another start won the race: its copy is the same
  }
  return target
}
