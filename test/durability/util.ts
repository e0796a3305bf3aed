// Helpers of the durability tests: psql, the data directory's lock file and pg_control state, strace.
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'

export const psql = (url: string, sql: string): string =>
  execFileSync('psql', ['-X', '-At', '-v', 'ON_ERROR_STOP=1', '-d', url, '-c', sql], {
    encoding: 'utf8',
  }).trim()

/** The JSON the lock holder wrote into <dataDir>/pyglite.lock ('' once released). */
export function lockContents(dataDir: string): string {
  return fs.readFileSync(path.join(dataDir, 'pyglite.lock'), 'utf8')
}

/**
 * `state` of the default database's pg_control (ControlFileData: system_identifier u64,
 * pg_control_version u32, catalog_version_no u32, then DBState state; pg_control.h):
 * 1 = DB_SHUTDOWNED (clean shutdown checkpoint), 6 = DB_IN_PRODUCTION (running, or killed).
 */
export function controlState(dataDir: string): number {
  return fs.readFileSync(path.join(dataDir, 'postgres', 'global', 'pg_control')).readUInt32LE(16)
}
export const DB_SHUTDOWNED = 1
export const DB_IN_PRODUCTION = 6

/** strace can attach to our own children here (root, or ptrace_scope 0/1 for descendants) */
export const canStrace = (() => {
  try {
    return spawnSync('strace', ['-f', '-e', 'trace=none', 'true']).status === 0
  } catch {
    return false
  }
})()

export interface Trace {
  /** stop tracing and return strace's lines */
  stop(): Promise<string[]>
}

/** Attach strace -f -yy to `pid` for `syscalls`; resolves once every thread is attached. */
export async function strace(pid: number, syscalls: string[], file: string): Promise<Trace> {
  const proc: ChildProcess = spawn(
    'strace',
    ['-f', '-yy', '-s', '64', '-e', `trace=${syscalls.join(',')}`, '-o', file, '-p', String(pid)],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  )
  let err = ''
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`strace did not attach: ${err}`)), 20_000)
    proc.stderr!.on('data', (d) => {
      err += d
      if (/attached/.test(err)) {
        clearTimeout(t)
        resolve()
      }
    })
    proc.once('exit', (code) => reject(new Error(`strace exited ${code}: ${err}`)))
  })
  return {
    stop: () =>
      new Promise((resolve) => {
        proc.once('exit', () => resolve(fs.readFileSync(file, 'utf8').split('\n')))
        proc.kill('SIGINT')
      }),
  }
}
