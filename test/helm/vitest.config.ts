import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// The Helm chart and compose suite: `npx vitest run --config test/helm/vitest.config.ts` (make helm-check).
// Separate from `unit` because it needs Java and Maven (Helm's engine runs in a JVM).
export default defineConfig({
  test: {
    name: 'helm',
    root: join(dirname(fileURLToPath(import.meta.url)), '..', '..'),
    include: ['test/helm/**/*.test.ts'],
    globalSetup: ['test/helm/setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    // Each file starts one JVM; one at a time keeps this modest on a 2-core machine.
    fileParallelism: false,
  },
});
