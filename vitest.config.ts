import { defineConfig } from 'vitest/config';

// Two suites: `unit` needs nothing but the code beside it; `integration` needs a real broker,
// which test/setup/kafka.ts takes from KAFKA_BROKERS or starts with testcontainers.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['libs/*/src/**/*.test.ts', 'services/*/src/**/*.test.ts'],
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/setup/kafka.ts'],
          testTimeout: 180_000,
          hookTimeout: 180_000,
          // One broker, two cores: suites run one after another so timings stay honest.
          fileParallelism: false,
        },
      },
    ],
  },
});
