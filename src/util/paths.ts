// Locations inside the installed package (the same from dist/ and from src/: both sit at the root, this file two levels below).
import { fileURLToPath } from 'node:url'

export const PKG_ROOT = fileURLToPath(new URL('../..', import.meta.url))

export function pkgPath(...parts: string[]): string {
  return [PKG_ROOT.replace(/\/$/, ''), ...parts].join('/')
}
