// The package flags as the pyglite command reads them: bad values stop it with a one-line message (exit 2)
// before anything starts, and --help lists them with their variables.
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { ROOT } from '../helpers/server.js'

const pyglite = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [path.join(ROOT, 'bin/pyglite.js'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
  })

describe('package flags', () => {
  it('refuses bad values with one line and exit status 2', () => {
    const cases: Array<[string[], Record<string, string>, string]> = [
      [['--python-index-url', 'nope'], {}, '--python-index-url: expected a URL, got "nope"'],
      [
        [],
        { PYGLITE_PYTHON_EXTRA_INDEX_URL: 'http://ok/simple bad' },
        '--python-extra-index-url: expected a URL, got "bad"',
      ],
      [
        ['--python-find-links', '/nonexistent/wheels'],
        {},
        '--python-find-links: no such directory "/nonexistent/wheels"',
      ],
      [
        ['--python-system-site-packages', 'maybe'],
        {},
        '--python-system-site-packages: expected on or off, got "maybe"',
      ],
      [[], { PYGLITE_PYTHON_NO_INDEX: 'maybe' }, '--python-no-index: expected true or false, got "maybe"'],
      [['--python-venv', ''], {}, '--python-venv: must not be empty, got ""'],
    ]
    for (const [args, env, message] of cases) {
      const r = pyglite(args, env)
      expect([args, r.status, r.stderr], JSON.stringify(env)).toEqual([args, 2, `pyglite: ${message}\n`])
    }
  })

  it('lists them in --help with their variables', () => {
    const help = pyglite(['--help']).stdout
    const rows: Array<[string, string]> = [
      ['--python-venv <value>', 'PYGLITE_PYTHON_VENV'],
      ['--python-system-site-packages <value>', 'PYGLITE_PYTHON_SYSTEM_SITE_PACKAGES'],
      ['--python-index-url <value>', 'PYGLITE_PYTHON_INDEX_URL'],
      ['--python-extra-index-url <value>', 'PYGLITE_PYTHON_EXTRA_INDEX_URL'],
      ['--python-find-links <value>', 'PYGLITE_PYTHON_FIND_LINKS'],
      ['--python-no-index', 'PYGLITE_PYTHON_NO_INDEX'],
    ]
    for (const [flag, variable] of rows)
      expect(help).toMatch(new RegExp(`^  ${flag.replace(/[<>]/g, '.')} .*\\[${variable}\\]$`, 'm'))
  })
})
