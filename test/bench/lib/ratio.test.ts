import { describe, expect, it } from 'vitest';
import { ratioFromCpu } from './ratio.js';

describe('ratioFromCpu', () => {
  // Round 0 of the 2026-12-05 paired run: scorer 7,935 msgs/s at 0.188 CPU s per 1,000, the broker
  // and the harness 0.033 beside it; model-only 12,747 texts/s at 0.130, on 2 cores.
  const scorer = { msgs_per_s: 7_935, cpu_s_per_1k: 0.188, broker_cpu_s_per_1k: 0.025, harness_cpu_s_per_1k: 0.008 };
  const modelOnly = { msgs_per_s: 12_747, cpu_s_per_1k: 0.13, broker_cpu_s_per_1k: 0.001, harness_cpu_s_per_1k: 0.002 };

  it('gives the pipeline budget at the floor against what the pipeline costs, and the ratio CPU predicts', () => {
    const r = ratioFromCpu(scorer, modelOnly, 2, true, 0.92);
    expect(r.beside_scorer_cpu_s_per_1k).toBeCloseTo(0.033, 9);
    expect(r.pipeline_cpu_s_per_1k).toBeCloseTo(0.058, 9);
    // 2,000 CPU ms a second at 0.92 x 12,747 msgs/s leaves 0.1705 s per 1,000, of which the model takes 0.130 and the broker and the harness 0.033.
    expect(r.pipeline_budget_s_per_1k).toBeCloseTo(2000 / (0.92 * 12_747) - 0.163, 9);
    expect(r.pipeline_budget_s_per_1k).toBeCloseTo(0.0075, 4);
    expect(r.predicted).toBeCloseTo(0.13 / 0.221, 9);
    expect(r.ceiling).toBeCloseTo(2000 / 12_747 / 0.163, 9);
    expect(r.scorer_cores).toBeCloseTo(1.754, 3);
    expect(r.model_only_cores).toBeCloseTo(1.657, 3);
  });

  it('caps the ceiling at 1 and leaves out what runs on other cores', () => {
    // Under BENCH_SYSTEM_CPUS the broker and the harness run elsewhere: nothing beside the scorer counts.
    const pinned = ratioFromCpu(scorer, { ...modelOnly, msgs_per_s: 5_000 }, 1, false, 0.92);
    expect(pinned.beside_scorer_cpu_s_per_1k).toBe(0);
    expect(pinned.ceiling).toBe(1);
    expect(pinned.pipeline_budget_s_per_1k).toBeCloseTo(1000 / (0.92 * 5_000) - 0.13, 9);
    // No broker pid (an outside cluster): nothing measured, nothing counted.
    const outside = ratioFromCpu({ ...scorer, broker_cpu_s_per_1k: NaN, harness_cpu_s_per_1k: NaN }, modelOnly, 2, true, 0.92);
    expect(outside.beside_scorer_cpu_s_per_1k).toBe(0);
    expect(outside.predicted).toBeCloseTo(0.13 / 0.188, 9);
  });
});
