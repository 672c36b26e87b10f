import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    globalSetup: ['tests/setup/global.ts'],
    include: [
      'tests/**/*.test.ts',
      'supabase/local/**/*.test.ts',
      'functions/**/*.test.ts',
      'vm-agent/**/*.test.ts',
      'local-machines/**/*.test.ts',
    ],
    testTimeout: 30_000,
    // expect.poll waits on a condition; vitest's 1 s default is shorter than a page load on a busy
    // 2-core machine (a reloaded panel's values came after 1 s beside a CPU hog). Failing waits end later.
    expect: { poll: { timeout: 10_000 } },
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default'],
  },
});
