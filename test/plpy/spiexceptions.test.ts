// plpy.spiexceptions is generated, not hand-typed: the checked-in module must be exactly what
// scripts/gen-spiexceptions.mjs makes of PostgreSQL 18.6's errcodes.txt (fetched at test time with the
// regression suite from Debian's postgresql-18 source package).
import { execFileSync, spawnSync } from 'node:child_process'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { ROOT } from '../helpers/server.js'

describe('plpy.spiexceptions', () => {
  it('is what the generator makes of errcodes.txt', () => {
    const suite = execFileSync('bash', [path.join(ROOT, 'scripts/get-pg18-regress.sh')], {
      encoding: 'utf8',
    }).trim()
    const r = spawnSync(
      process.execPath,
      [path.join(ROOT, 'scripts/gen-spiexceptions.mjs'), path.join(suite, 'errcodes.txt'), '--check'],
      { encoding: 'utf8' },
    )
    expect(r.stdout).toMatch(/up to date \(\d+ conditions\)/)
    expect(r.status).toBe(0)
  }, 300_000)

  it('maps SQLSTATEs to classes as PL/Python does', () => {
    const py = `
import sys
sys.path[:0] = [${JSON.stringify(path.join(ROOT, 'src/plpy-shim/python'))}]
import types
sys.modules['_pyglite'] = types.SimpleNamespace(PgError=Exception, jscall=None, in_call=None, ResultBase=object,
                                            PlanBase=object, set_spi_hooks=lambda *a: None, execute=None)
from plpy import spiexceptions as s
from _plpy.exc import SPIError
print(len(s.CONDITIONS), s.DivisionByZero.sqlstate, s.by_sqlstate['23505'].__name__,
      s.UniqueViolation.__module__, issubclass(s.SyntaxError, SPIError), s.by_sqlstate.get('00000'))
`
    const out = execFileSync('/usr/bin/python3', ['-c', py], { encoding: 'utf8' }).trim()
    expect(out).toBe('251 22012 UniqueViolation spiexceptions True None')
  })
})
