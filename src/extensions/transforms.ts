// The PL/Python transform extensions PostgreSQL ships (contrib/hstore_plpython, jsonb_plpython,
// ltree_plpython: hstore_plpython3u, jsonb_plpython3u, ltree_plpython3u), and pyglite's numpy_plpython3u
// (whose PostgreSQL twin is extensions/numpy_plpython3u), as control files, scripts and libraries. Their CREATE TRANSFORM names C functions (hstore_to_plpython, plpython_to_hstore, …) that
// PostgreSQL's PL/Python calls; pyglite's handler converts those types itself (src/python/transforms.ts,
// pyglite_host/transforms.py) when a function says TRANSFORM FOR TYPE, so the libraries here only export
// the symbols, each raising an error if anything else ever calls it. They are made once into the contrib
// cache and offered like the bundles' files (contrib.ts).
import fs from 'node:fs'
import path from 'node:path'
import { assembleSideModule, pgMagic, u32le, watBytes } from '../engine/pg/sidemodule.js'
import { pkgPath } from '../util/paths.js'

interface TransformExt {
  name: string
  lib: string
  type: string
  requires: string
  /** [SQL function, C symbol] */
  from: [string, string]
  to?: [string, string]
  comment: string
}

const TRANSFORMS: TransformExt[] = [
  {
    name: 'hstore_plpython3u',
    lib: 'hstore_plpython3',
    type: 'hstore',
    requires: 'hstore,plpython3u',
    from: ['hstore_to_plpython3', 'hstore_to_plpython'],
    to: ['plpython3_to_hstore', 'plpython_to_hstore'],
    comment: 'transform between hstore and Python dict',
  },
  {
    name: 'jsonb_plpython3u',
    lib: 'jsonb_plpython3',
    type: 'jsonb',
    requires: 'plpython3u',
    from: ['jsonb_to_plpython3', 'jsonb_to_plpython'],
    to: ['plpython3_to_jsonb', 'plpython_to_jsonb'],
    comment: 'transform between jsonb and Python',
  },
  {
    name: 'ltree_plpython3u',
    lib: 'ltree_plpython3',
    type: 'ltree',
    requires: 'ltree,plpython3u',
    from: ['ltree_to_plpython3', 'ltree_to_plpython'],
    comment: 'transform between ltree and Python',
  },
]

/** Where the files go, relative to the cache (as in PGlite's bundles) */
const EXT_DIR = 'share/postgresql/extension'
const LIB_DIR = 'lib/postgresql'

function control(t: TransformExt): string {
  const base = t.name.replace(/3u$/, '3u')
  return [
    `# ${base}: served by pyglite's PL/Python handler`,
    `comment = 'transform between ${t.type} and plpython3u'`,
    "default_version = '1.0'",
    `module_pathname = '$libdir/${t.lib}'`,
    'relocatable = true',
    `requires = '${t.requires}'`,
    '',
  ].join('\n')
}

function script(t: TransformExt): string {
  // the type lives in its own extension's schema (hstore, ltree); jsonb is built in
  const ty = t.type === 'jsonb' ? 'jsonb' : `@extschema:${t.type}@.${t.type}`
  const fns = [
    `CREATE FUNCTION ${t.from[0]}(val internal) RETURNS internal LANGUAGE C STRICT IMMUTABLE AS 'MODULE_PATHNAME', '${t.from[1]}';`,
  ]
  const parts = [`FROM SQL WITH FUNCTION ${t.from[0]}(internal)`]
  if (t.to) {
    fns.push(
      `CREATE FUNCTION ${t.to[0]}(val internal) RETURNS ${ty} LANGUAGE C STRICT IMMUTABLE AS 'MODULE_PATHNAME', '${t.to[1]}';`,
    )
    parts.push(`TO SQL WITH FUNCTION ${t.to[0]}(internal)`)
  }
  return [
    `\\echo Use "CREATE EXTENSION ${t.name}" to load this file. \\quit`,
    ...fns,
    `CREATE TRANSFORM FOR ${ty} LANGUAGE plpython3u (\n    ${parts.join(',\n    ')}\n);`,
    `COMMENT ON TRANSFORM FOR ${ty} LANGUAGE plpython3u IS '${t.comment}';`,
    '',
  ].join('\n')
}

/** A side module exporting V1 functions `symbols` that raise an ERROR (and their pg_finfo records). */
async function stubModule(lib: string, symbols: string[]): Promise<Uint8Array> {
  const data: number[] = []
  const at: Record<string, number> = {}
  const put = (name: string, bytes: number[], align = 4) => {
    while (data.length % align) data.push(0)
    at[name] = data.length
    data.push(...bytes)
  }
  put('finfo', u32le(1))
  put('magic', pgMagic())
  const msg = `${lib}: transform functions are applied by pyglite's PL/Python handler, not called`
  put('msg', [...Buffer.from(msg), 0], 1)
  put('file', [...Buffer.from(`${lib}.c`), 0], 1)
  const mb = '(global.get $mb)'
  const wat = `(module
  (type $pgfn (func (param i32) (result i32)))
  (import "env" "memory" (memory 0))
  (import "env" "__memory_base" (global $mb i32))
  (import "env" "errstart" (func $errstart (param i32 i32) (result i32)))
  (import "env" "errmsg_internal" (func $errmsg_internal (param i32 i32) (result i32)))
  (import "env" "errfinish" (func $errfinish (param i32 i32 i32)))
  (func (export "Pg_magic_func") (result i32) (i32.add ${mb} (i32.const ${at.magic})))
  (func $finfo (result i32) (i32.add ${mb} (i32.const ${at.finfo})))
  (func $raise (param $fcinfo i32) (result i32)
    (drop (call $errstart (i32.const 21) (i32.const 0)))
    (drop (call $errmsg_internal (i32.add ${mb} (i32.const ${at.msg})) (i32.const 0)))
    (call $errfinish (i32.add ${mb} (i32.const ${at.file})) (i32.const 1) (i32.add ${mb} (i32.const ${at.msg})))
    unreachable)
  ${symbols.map((s) => `(export "${s}" (func $raise)) (export "pg_finfo_${s}" (func $finfo))`).join('\n  ')}
  (data ${mb} "${watBytes(data)}")
)`
  return assembleSideModule(`${lib}.wat`, wat, (data.length + 3) & ~3)
}

/**
 * numpy_plpython3u's files: the control file and script are the PostgreSQL twin's
 * (extensions/numpy_plpython3u, one SQL for both), the library a stub exporting the C symbols it names.
 */
async function numpyFiles(cache: string): Promise<Array<[string, Uint8Array | string]>> {
  const dir = pkgPath('extensions', 'numpy_plpython3u')
  const sql = fs.readFileSync(path.join(dir, 'numpy_plpython3u--1.0.sql'), 'utf8')
  const symbols = [...sql.matchAll(/'MODULE_PATHNAME', '(\w+)'/g)].map((m) => m[1] as string)
  return [
    [path.join(cache, LIB_DIR, 'numpy_plpython3.so'), await stubModule('numpy_plpython3', symbols)],
    [
      path.join(cache, EXT_DIR, 'numpy_plpython3u.control'),
      fs.readFileSync(path.join(dir, 'numpy_plpython3u.control')),
    ],
    [path.join(cache, EXT_DIR, 'numpy_plpython3u--1.0.sql'), sql],
  ]
}

/**
 * Add the transform extensions' files to the unpacked contrib cache (bundles.ts), once: later starts link
 * them like the others and never load the WebAssembly text assembler. Written beside and renamed into place.
 */
export async function addTransforms(cache: string): Promise<void> {
  const marker = path.join(cache, '.transforms-2')
  if (fs.existsSync(marker)) return
  const all: Array<Array<[string, Uint8Array | string]>> = [await numpyFiles(cache)]
  for (const t of TRANSFORMS) {
    const symbols = [t.from[1], ...(t.to ? [t.to[1]] : [])]
    all.push([
      [path.join(cache, LIB_DIR, `${t.lib}.so`), await stubModule(t.lib, symbols)],
      [path.join(cache, EXT_DIR, `${t.name}.control`), control(t)],
      [path.join(cache, EXT_DIR, `${t.name}--1.0.sql`), script(t)],
    ])
  }
  for (const files of all) {
    for (const [p, data] of files) {
      fs.mkdirSync(path.dirname(p), { recursive: true })
      const tmp = `${p}.${process.pid}.tmp`
      fs.writeFileSync(tmp, data)
      fs.renameSync(tmp, p)
    }
  }
  fs.writeFileSync(marker, '')
}
