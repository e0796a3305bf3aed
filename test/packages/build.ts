// Small real Python packages made by the tests: pure-Python wheels built with `pip wheel` from a setup.py the
// test writes, and sdists (tar.gz) whose in-tree PEP 517 backend builds the wheel only once a flag file
// exists (a build that takes as long as the test wants: progress and cancel). A local wheelhouse replaces
// the index (this machine cannot reach PyPI), so every install in these tests is offline.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

/**
 * pip without this machine's configuration (its pip.conf files and PIP_FIND_LINKS name wheelhouses and
 * indexes that are not ours): PIP_CONFIG_FILE=/dev/null makes pip read no configuration file at all.
 */
export function pipEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env }
  for (const k of Object.keys(env)) if (k.startsWith('PIP_')) delete env[k]
  return { ...env, PIP_CONFIG_FILE: '/dev/null', PIP_DISABLE_PIP_VERSION_CHECK: '1' }
}

/** Additions to the server's environment (startServer merges them into process.env): the same, and HOME. */
export function serverEnv(home: string): Record<string, string> {
  const env: Record<string, string> = { PIP_CONFIG_FILE: '/dev/null', HOME: home }
  for (const k of [
    'PIP_FIND_LINKS',
    'PIP_INDEX_URL',
    'PIP_EXTRA_INDEX_URL',
    'PIP_NO_INDEX',
    'PIP_CONSTRAINT',
  ])
    if (process.env[k] !== undefined) env[k] = ''
  return env
}

/**
 * A pure-Python wheel `name-version-py3-none-any.whl` in `wheelhouse`; its module has VERSION and `extra`,
 * and its package directory the data files `files` (name → content: a package of the size a test needs).
 */
export function buildWheel(
  wheelhouse: string,
  name: string,
  version: string,
  opts: { requires?: string[]; extra?: string; files?: Record<string, Buffer> } = {},
): string {
  const src = fs.mkdtempSync(path.join(os.tmpdir(), `pyglite-src-${name}-`))
  try {
    fs.mkdirSync(path.join(src, name))
    fs.writeFileSync(
      path.join(src, name, '__init__.py'),
      `VERSION = ${JSON.stringify(version)}\n${opts.extra ?? ''}\n`,
    )
    const files = Object.keys(opts.files ?? {})
    for (const f of files) fs.writeFileSync(path.join(src, name, f), opts.files![f]!)
    fs.writeFileSync(
      path.join(src, 'setup.py'),
      `from setuptools import setup\nsetup(name=${JSON.stringify(name)}, version=${JSON.stringify(version)}, ` +
        `packages=[${JSON.stringify(name)}], install_requires=${JSON.stringify(opts.requires ?? [])}, ` +
        `package_data={${JSON.stringify(name)}: ${JSON.stringify(files)}})\n`,
    )
    execFileSync(
      '/usr/bin/python3',
      ['-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '--no-index', '-q', '-w', wheelhouse, src],
      { env: pipEnv(), stdio: 'pipe' },
    )
  } finally {
    fs.rmSync(src, { recursive: true, force: true })
  }
  const whl = path.join(wheelhouse, `${name}-${version}-py3-none-any.whl`)
  if (!fs.existsSync(whl)) throw new Error(`pip wheel did not write ${whl}`)
  return whl
}

const BACKEND = (
  flag: string,
) => `# an in-tree PEP 517 backend: no build dependencies, so pip builds it offline
import base64, hashlib, os, time, zipfile

FLAG = ${JSON.stringify(flag)}

def _files():
    fields = dict(line.split(': ', 1) for line in open('PKG-INFO').read().splitlines() if ': ' in line)
    return fields['Name'], fields['Version']

def get_requires_for_build_wheel(config_settings=None):
    return []

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    deadline = time.time() + 300
    while not os.path.exists(FLAG) and time.time() < deadline:
        time.sleep(0.05)
    name, version = _files()
    dist = '%s-%s.dist-info' % (name, version)
    files = {
        name + '/__init__.py': open(os.path.join(name, '__init__.py'), 'rb').read(),
        dist + '/METADATA': ('Metadata-Version: 2.1\\nName: %s\\nVersion: %s\\nSummary: built by a slow backend\\n' % (name, version)).encode(),
        dist + '/WHEEL': b'Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n',
    }
    record = []
    for p, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()
        record.append('%s,sha256=%s,%d' % (p, digest, len(data)))
    record.append(dist + '/RECORD,,')
    whl = '%s-%s-py3-none-any.whl' % (name, version)
    with zipfile.ZipFile(os.path.join(wheel_directory, whl), 'w') as z:
        for p, data in files.items():
            z.writestr(p, data)
        z.writestr(dist + '/RECORD', '\\n'.join(record) + '\\n')
    return whl
`

/** An sdist `name-version.tar.gz` in `dir` whose build waits until `flag` exists. */
export function buildSlowSdist(dir: string, name: string, version: string, flag: string): string {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), `pyglite-sdist-${name}-`))
  const top = `${name}-${version}`
  try {
    const root = path.join(work, top)
    fs.mkdirSync(path.join(root, name), { recursive: true })
    fs.writeFileSync(path.join(root, name, '__init__.py'), `VERSION = ${JSON.stringify(version)}\n`)
    fs.writeFileSync(
      path.join(root, 'PKG-INFO'),
      `Metadata-Version: 2.1\nName: ${name}\nVersion: ${version}\nSummary: built by a slow backend\n`,
    )
    fs.writeFileSync(
      path.join(root, 'pyproject.toml'),
      '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n',
    )
    fs.writeFileSync(path.join(root, 'backend.py'), BACKEND(flag))
    const out = path.join(dir, `${top}.tar.gz`)
    execFileSync('tar', ['-czf', out, '-C', work, top])
    return out
  } finally {
    fs.rmSync(work, { recursive: true, force: true })
  }
}

/** A ~/.local site-packages under `home` with a module `name` of VERSION `version` (pip --user's place). */
export function plantUserSite(home: string, name: string, version: string): string {
  const [major, minor] = execFileSync(
    '/usr/bin/python3',
    ['-c', 'import sys; print(*sys.version_info[:2])'],
    {
      encoding: 'utf8',
    },
  )
    .trim()
    .split(' ')
  const dir = path.join(home, '.local', 'lib', `python${major}.${minor}`, 'site-packages', name)
  fs.mkdirSync(dir, { recursive: true })
  fs.writeFileSync(path.join(dir, '__init__.py'), `VERSION = ${JSON.stringify(version)}\n`)
  return dir
}
