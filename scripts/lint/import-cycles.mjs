#!/usr/bin/env node
// Fails on an import circle among src/'s folders (TypeScript), among the Python packages under src/, or among
// native/'s folders (C #includes): the layering of docs/architecture.md ("Layout") as a check that
// `npm run lint` runs. Prints the graphs with --graph.
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

// --root DIR checks another tree (the test of this script gives it one with a circle)
const rootArg = process.argv.indexOf('--root')
const ROOT =
  rootArg > 0
    ? path.resolve(process.argv[rootArg + 1] ?? '.')
    : fileURLToPath(new URL('../..', import.meta.url))
const SRC = path.join(ROOT, 'src')

function walk(dir, out = []) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) {
      if (e.name !== '__pycache__') walk(p, out)
    } else out.push(p)
  }
  return out
}

/** TypeScript: folder of the importing file → folders of the files it imports (relative specifiers only). */
function tsGraph(files) {
  const g = new Map()
  for (const f of files.filter((f) => f.endsWith('.ts'))) {
    const from = path.relative(SRC, path.dirname(f)) || '.'
    const edges = g.get(from) ?? new Map()
    g.set(from, edges)
    const text = fs.readFileSync(f, 'utf8')
    for (const m of text.matchAll(/(?:from\s+|import\(\s*|new URL\(\s*)['"](\.{1,2}\/[^'"]+)['"]/g)) {
      const to = path.relative(SRC, path.dirname(path.resolve(path.dirname(f), m[1] ?? ''))) || '.'
      if (to === from || to.startsWith('..')) continue
      if (!edges.has(to)) edges.set(to, `${path.relative(ROOT, f)} imports ${m[1]}`)
    }
  }
  return g
}

/** Python: top-level package → top-level packages it imports (anywhere in its files, also inside functions). */
function pyGraph(files) {
  const pkgs = new Map() // name → its files
  for (const f of files.filter((f) => f.endsWith('.py'))) {
    let d = path.dirname(f)
    let top
    while (fs.existsSync(path.join(d, '__init__.py'))) {
      top = d
      d = path.dirname(d)
    }
    if (!top) continue
    const name = path.basename(top)
    if (!pkgs.has(name)) pkgs.set(name, [])
    pkgs.get(name).push(f)
  }
  const g = new Map()
  for (const [name, pfiles] of pkgs) {
    const edges = new Map()
    g.set(name, edges)
    for (const f of pfiles) {
      const text = fs.readFileSync(f, 'utf8')
      for (const m of text.matchAll(
        /^\s*(?:from\s+([A-Za-z_][\w.]*)\s+import|import\s+([A-Za-z_][\w.]*))/gm,
      )) {
        const to = (m[1] ?? m[2] ?? '').split('.')[0]
        if (to && to !== name && pkgs.has(to) && !edges.has(to))
          edges.set(to, `${path.relative(ROOT, f)} imports ${to}`)
      }
    }
  }
  return g
}

/** C: folder under native/ of the including file → folders of the headers it includes ("x.h" beside it or
 * "dir/x.h" from native/, as binding.gyp's include_dirs resolve them). */
function cGraph(files) {
  const NATIVE = path.join(ROOT, 'native')
  const g = new Map()
  for (const f of files.filter((f) => /\.[ch]$/.test(f))) {
    const from = path.relative(NATIVE, path.dirname(f)) || '.'
    const edges = g.get(from) ?? new Map()
    g.set(from, edges)
    for (const m of fs.readFileSync(f, 'utf8').matchAll(/^\s*#\s*include\s+"([^"]+)"/gm)) {
      const spec = m[1] ?? ''
      const beside = path.resolve(path.dirname(f), spec)
      const target = fs.existsSync(beside) ? beside : path.resolve(NATIVE, spec)
      const to = path.relative(NATIVE, path.dirname(target)) || '.'
      if (to !== from && !to.startsWith('..') && !edges.has(to))
        edges.set(to, `${path.relative(ROOT, f)} includes "${spec}"`)
    }
  }
  return g
}

/** Strongly connected components with more than one node (Tarjan). */
function cycles(g) {
  let index = 0
  const idx = new Map()
  const low = new Map()
  const stack = []
  const on = new Set()
  const out = []
  const visit = (v) => {
    idx.set(v, index)
    low.set(v, index++)
    stack.push(v)
    on.add(v)
    for (const w of (g.get(v) ?? new Map()).keys()) {
      if (!idx.has(w)) {
        visit(w)
        low.set(v, Math.min(low.get(v), low.get(w)))
      } else if (on.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)))
    }
    if (low.get(v) === idx.get(v)) {
      const scc = []
      let w
      do {
        w = stack.pop()
        on.delete(w)
        scc.push(w)
      } while (w !== v)
      if (scc.length > 1) out.push(scc)
    }
  }
  for (const v of g.keys()) if (!idx.has(v)) visit(v)
  return out
}

const files = walk(SRC)
const nativeDir = path.join(ROOT, 'native')
const cFiles = fs.existsSync(nativeDir) ? walk(nativeDir) : []
let failed = false
for (const [kind, g] of [
  ['TypeScript folders', tsGraph(files)],
  ['Python packages', pyGraph(files)],
  ['C folders (native/)', cGraph(cFiles)],
]) {
  if (process.argv.includes('--graph')) {
    console.log(`# ${kind}`)
    for (const [v, e] of [...g].sort())
      console.log(`${v} → ${[...e.keys()].sort().join(', ') || '(nothing)'}`)
  }
  for (const scc of cycles(g)) {
    failed = true
    console.error(`import circle among ${kind}: ${scc.join(' ⇄ ')}`)
    const members = new Set(scc)
    for (const v of scc)
      for (const [w, why] of g.get(v) ?? []) if (members.has(w)) console.error(`  ${v} → ${w}: ${why}`)
  }
}
if (failed) process.exit(1)
