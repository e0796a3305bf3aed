// The one logger of the process (pino); library code logs through child loggers of it.
import pino from 'pino'

export type Logger = pino.Logger
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'

let root: Logger = pino({ level: process.env.PYGLITE_LOG_LEVEL ?? 'info', base: undefined })

/** Replace the root logger (the CLI does this once, from its configuration). */
export function configureLogging(level: LogLevel, destination?: pino.DestinationStream): Logger {
  root = destination ? pino({ level, base: undefined }, destination) : pino({ level, base: undefined })
  return root
}

export function logger(component: string): Logger {
  return root.child({ component })
}
