/**
 * What the CPU a message costs says of scorer / model-only, from one paired round. Model-only's
 * process (tokenizer and ONNX Runtime, no Kafka) costs the machine `model` CPU s per 1,000 texts;
 * the scorer costs its process (the same model, plus the Kafka client, JSON, the hand-over to the
 * worker and their GC: its pipeline) and the broker and the harness beside it, on the same cores.
 * At a ratio f the scorer drains f x model-only's rate, which must fit the cores:
 * (model + pipeline + beside) x f x rate <= cores. That gives the pipeline's budget at the floor, and
 * the ratio a pipeline costing nothing would reach (the ceiling: the scorer filling every core, which
 * model-only, at 1.62-1.68 of 2, does not; 2026-12-05, docs/performance.md).
 */

/** The figures of one drain that the ratio needs (bench.ts DrainResult). */
export interface DrainCpu {
  msgs_per_s: number;
  /** The system's own process, per 1,000 messages. */
  cpu_s_per_1k: number;
  /** The broker's and the harness's CPU over the same window, per 1,000 of the system's messages. */
  broker_cpu_s_per_1k: number;
  harness_cpu_s_per_1k: number;
}

export interface RatioFromCpu {
  scorer_cpu_s_per_1k: number;
  model_only_cpu_s_per_1k: number;
  /** The broker and the harness during the scorer's drain, when they share its cores (else 0). */
  beside_scorer_cpu_s_per_1k: number;
  /** The scorer's CPU beyond the model's per message: Kafka client, JSON, hand-over, GC. */
  pipeline_cpu_s_per_1k: number;
  /** The ratio the budget is computed for. */
  floor: number;
  /** The most the pipeline may cost for the scorer to drain `floor` x model-only's rate on these cores. */
  pipeline_budget_s_per_1k: number;
  /** Cores kept busy: the scorer with what shares its cores; model-only's process. */
  scorer_cores: number;
  model_only_cores: number;
  /** The ratio if the scorer kept as many cores busy as model-only does. */
  predicted: number;
  /** The ratio with a pipeline that cost nothing and the scorer filling every core (at most 1: the model alone runs no faster). */
  ceiling: number;
}

/**
 * @param cores the cores the scorer and model-only run on
 * @param besideShares whether the broker and the harness run on those cores too (not under BENCH_SYSTEM_CPUS)
 * @param floor the ratio the budget is computed for (issue 15: 0.92)
 */
export function ratioFromCpu(scorer: DrainCpu, modelOnly: DrainCpu, cores: number, besideShares: boolean, floor: number): RatioFromCpu {
  // No broker pid (an outside cluster): nothing beside the scorer is measured, so nothing is counted.
  const measured = (x: number) => (Number.isFinite(x) ? x : 0);
  const beside = besideShares ? measured(scorer.broker_cpu_s_per_1k) + measured(scorer.harness_cpu_s_per_1k) : 0;
  const model = modelOnly.cpu_s_per_1k;
  const perMessageAtFullCores = (1000 * cores) / modelOnly.msgs_per_s; // CPU s per 1,000 the cores allow at model-only's rate
  return {
    scorer_cpu_s_per_1k: scorer.cpu_s_per_1k,
    model_only_cpu_s_per_1k: model,
    beside_scorer_cpu_s_per_1k: beside,
    pipeline_cpu_s_per_1k: scorer.cpu_s_per_1k - model,
    floor,
    pipeline_budget_s_per_1k: perMessageAtFullCores / floor - model - beside,
    scorer_cores: ((scorer.cpu_s_per_1k + beside) * scorer.msgs_per_s) / 1000,
    model_only_cores: (model * modelOnly.msgs_per_s) / 1000,
    predicted: model / (scorer.cpu_s_per_1k + beside),
    ceiling: Math.min(1, perMessageAtFullCores / (model + beside)),
  };
}
