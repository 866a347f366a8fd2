// `make demo` is the README's first command: keep it working.
import { describe, expect, it } from 'vitest';
import { kafkaBrokers } from '../support/kafka.js';
import { spawnCli } from '../support/scorer.js';

describe('demo', () => {
  it('starts the scorer and sidecar, prints scored events and dead letters, and stops cleanly', async () => {
    const demo = spawnCli(['demo'], { KAFKA_BROKERS: kafkaBrokers().join(','), DEMO_SECONDS: '15' });
    expect(await demo.exited).toBe(0);
    const out = demo.output();
    expect(out).toMatch(/^ {2}\+ positive +\d\.\d\d/m);
    expect(out).toMatch(/^ {2}- negative +\d\.\d\d/m);
    expect(out).toMatch(/^ {2}~ neutral +\d\.\d\d/m);
    expect(out).toContain('DEAD LETTER  INVALID_JSON');
    expect(out).toContain('demo: stopping the scorer and the sidecar');
  });
});
