// The layering check of `npm run lint` (scripts/lint/import-cycles.mjs): the real tree has no import circle
// among src/'s folders, its Python packages or native/'s folders, and a circle of each kind is reported and fails.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'

const SCRIPT = path.resolve('scripts/lint/import-cycles.mjs')

function check(root?: string) {
  const r = spawnSync(process.execPath, [SCRIPT, ...(root ? ['--root', root] : [])], { encoding: 'utf8' })
  return { status: r.status, stderr: r.stderr }
}

const made: string[] = []
afterAll(() => {
  for (const d of made) fs.rmSync(d, { recursive: true, force: true })
})

function tree(files: Record<string, string>): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pyglite-cycles-'))
  made.push(root)
  for (const [f, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, f)), { recursive: true })
    fs.writeFileSync(path.join(root, f), text)
  }
  return root
}

describe('import circles', () => {
  it('the source tree has none', () => {
    expect(check()).toEqual({ status: 0, stderr: '' })
  })

  it('a circle between two TypeScript folders fails and names the imports', () => {
    const root = tree({
      'src/a/x.ts': "import { y } from '../b/y.js'\nexport const x = y\n",
      'src/b/y.ts': "import type { z } from '../c/z.js'\nexport const y = 1\n",
      'src/c/z.ts': "import { x } from '../a/x.js'\nexport const z = x\n",
      'src/d/w.ts': "import { x } from '../a/x.js'\nexport const w = x\n",
    })
    const r = check(root)
    expect(r.status).toBe(1)
    expect(r.stderr).toMatch(/import circle among TypeScript folders: /)
    for (const edge of ['a → b: src/a/x.ts imports ../b/y.js', 'b → c:', 'c → a:'])
      expect(r.stderr).toContain(edge)
    expect(r.stderr).not.toContain('d →')
  })

  it('a circle between Python packages fails, also through an import inside a function', () => {
    const root = tree({
      'src/p/one/__init__.py': 'from two import thing\n',
      'src/q/two/__init__.py': 'thing = 1\n\ndef later():\n    import one\n    return one\n',
    })
    const r = check(root)
    expect(r.status).toBe(1)
    expect(r.stderr).toMatch(/import circle among Python packages: (one ⇄ two|two ⇄ one)/)
  })

  it('a circle between C folders under native/ fails', () => {
    const root = tree({
      'src/a/x.ts': 'export const x = 1\n',
      'native/core/state.h': '#include "call/call.h"\n',
      'native/call/call.h': '#include "core/state.h"\n',
      'native/call/call.c': '#include "call.h"\n',
    })
    const r = check(root)
    expect(r.status).toBe(1)
    expect(r.stderr).toMatch(/import circle among C folders \(native\/\): (core ⇄ call|call ⇄ core)/)
    expect(r.stderr).toContain('native/core/state.h includes "call/call.h"')
  })
})
