import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// The fault suite (`make test-faults`): its own config, not a project of the root one, because it
// stops and starts the broker under the other suites' feet and takes minutes. It needs a broker that
// deploy/kafka started on KAFKA_PORT (with-broker.sh), so the broker-outage scenario can stop it.
export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: {
    name: 'faults',
    include: ['test/faults/**/*.test.ts'],
    globalSetup: ['test/setup/kafka.ts'],
    // Scenarios are long and run one after another; a hung one fails on its own deadline.
    testTimeout: 600_000,
    hookTimeout: 120_000,
    fileParallelism: false,
    // One worker process: scenario results accumulate in memory and are written once at the end.
    pool: 'forks',
  },
});
