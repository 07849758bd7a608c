// Test tiers (style.md): unit beside the code, integration against real engines, end to end through bin/.
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    reporters: ['default', './test/support/count-reporter.ts'],
    // Off unless asked for (scripts/test-coverage.sh turns it on per tier and names what each tier covers).
    coverage: {
      provider: 'v8',
      reporter: ['text-summary', 'json-summary', 'html'],
      exclude: ['**/*.test.{ts,tsx}', 'src/gen/**', 'src/core/testing/**', 'web/src/testing/**', 'test/**'],
    },
    projects: [
      {
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts', 'test/unit/**/*.test.ts'],
          exclude: ['**/*.integration.test.ts', 'node_modules/**'],
        },
      },
      {
        // Component tests of the web UI in a simulated DOM (jsdom); the real browser is the e2e tier's.
        plugins: [react()],
        test: {
          name: 'web',
          include: ['web/src/**/*.test.{ts,tsx}'],
          environment: 'jsdom',
          setupFiles: ['./web/src/test-setup.ts'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['src/**/*.integration.test.ts', 'test/integration/**/*.test.ts'],
          globalSetup: ['./test/support/docker-hosts-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          globalSetup: ['./test/support/docker-hosts-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      },
      {
        // Faults injected into real migrations (the built binary): its own hosts 3–5, cases one after another.
        test: {
          name: 'faults',
          include: ['test/faults/**/*.test.ts'],
          globalSetup: ['./test/faults/hosts-setup.ts'],
          testTimeout: 300_000,
          hookTimeout: 180_000,
          fileParallelism: false,
          sequence: { concurrent: false },
        },
      },
    ],
  },
});
