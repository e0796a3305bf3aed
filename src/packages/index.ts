// What the server needs from src/packages at start: the data directory's Python environment prepared before
// the engine starts Python (an interrupted operation undone, a --python-venv inspected), and pip's index
// settings from the flags.
import { logger } from '../util/log.js'
import { Environment } from './environment.js'
import type { IndexSettings } from './pip.js'

const log = logger('packages')

/** The server's settings this needs (config.ts's Config has them). */
export interface PackageSettings {
  dataDir: string
  pythonVenv?: string | undefined
  pythonSystemSitePackages: boolean
  pythonIndexUrl?: string | undefined
  pythonExtraIndexUrl: string[]
  pythonFindLinks: string[]
  pythonNoIndex: boolean
}

export function prepareEnvironment(config: PackageSettings): Environment {
  // Python reads this when the engine starts it: no ~/.local on sys.path, and none of its .pth files run
  process.env.PYTHONNOUSERSITE = '1'
  const env = new Environment({
    dataDir: config.dataDir,
    venv: config.pythonVenv,
    systemSitePackages: config.pythonSystemSitePackages,
  })
  const undone = env.prepare()
  if (undone)
    log.warn(
      { operation: undone },
      'a package operation was interrupted by a stop: the environment was put back',
    )
  return env
}

export function indexSettings(config: PackageSettings): IndexSettings {
  return {
    indexUrl: config.pythonIndexUrl,
    extraIndexUrl: config.pythonExtraIndexUrl,
    findLinks: config.pythonFindLinks,
    noIndex: config.pythonNoIndex,
  }
}
