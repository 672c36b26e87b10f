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
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default'],
  },
});
