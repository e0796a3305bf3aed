import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // every test file starts its own server (an engine with CPython); two cores: keep concurrency low
    fileParallelism: true,
    maxWorkers: 2,
    pool: 'forks',
  },
})
