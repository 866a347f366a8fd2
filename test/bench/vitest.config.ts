import { defineConfig } from 'vitest/config';

// The benchmark's pure parts (ONNX shapes and the GEMM models it writes, tail attribution, the
// sample): `npx vitest run --config test/bench/vitest.config.ts`. No broker, a few seconds.
export default defineConfig({
  test: { include: ['test/bench/**/*.test.ts'], root: new URL('../..', import.meta.url).pathname, testTimeout: 30_000 },
});
