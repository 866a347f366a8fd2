import { describe, expect, it } from 'vitest';
import { parseSchedstat, procSample, splitCpus } from './proc.js';

describe('splitCpus', () => {
  it('gives the listed CPUs to the systems and the rest to the broker and the harness', () => {
    expect(splitCpus('1', 2, 'BENCH_SYSTEM_CPUS')).toEqual({ mine: [1], rest: [0] });
    expect(splitCpus(' 3,1,1', 4, 'BENCH_SYSTEM_CPUS')).toEqual({ mine: [1, 3], rest: [0, 2] });
  });

  it('refuses CPUs the machine lacks, and anything that is not a CPU number, naming the setting', () => {
    expect(() => splitCpus('2', 2, 'BENCH_SYSTEM_CPUS')).toThrow('BENCH_SYSTEM_CPUS must list CPU numbers from 0 to 1, got "2"');
    expect(() => splitCpus('0-1', 4, 'BENCH_SYSTEM_CPUS')).toThrow('BENCH_SYSTEM_CPUS must list CPU numbers');
    expect(() => splitCpus('', 4, 'BENCH_SYSTEM_CPUS')).toThrow('BENCH_SYSTEM_CPUS must list CPU numbers');
  });

  it('refuses a list that leaves no CPU to the broker and the harness', () => {
    expect(() => splitCpus('0,1', 2, 'BENCH_SYSTEM_CPUS')).toThrow('BENCH_SYSTEM_CPUS must leave at least one of the 2 CPUs to the broker and the harness, got "0,1"');
  });
});

describe('parseSchedstat', () => {
  it("reads a thread's time on a CPU and its time waiting for one, in seconds", () => {
    expect(parseSchedstat('789508586 57119171 373\n')).toEqual({ runS: 0.789508586, waitS: 0.057119171 });
  });

  it('gives NaN for a line it cannot read, so a report shows a gap instead of a wrong figure', () => {
    expect(parseSchedstat('')).toEqual({ runS: NaN, waitS: NaN });
    expect(parseSchedstat('x y z')).toEqual({ runS: NaN, waitS: NaN });
  });

  it("samples this process's main thread from /proc", () => {
    const spin = Date.now() + 30;
    while (Date.now() < spin);
    const s = procSample(process.pid)!;
    expect(s.mainRunS).toBeGreaterThanOrEqual(0.03);
    expect(s.mainWaitS).toBeGreaterThanOrEqual(0);
    expect(s.cpuS).toBeGreaterThanOrEqual(s.mainRunS - 0.02);
  });
});
