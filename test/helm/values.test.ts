// Bad values must stop `helm install` with a message that names the value and says what to do:
// values.schema.json for single values, template `fail`s for rules that span values.
import { beforeAll, describe, expect, it } from 'vitest';
import { render, type RenderRun } from './render.js';

const rejected = {
  'both-autoscalers': { autoscaling: { keda: { enabled: true }, hpa: { enabled: true } } },
  'batch-zero': { scorer: { batchMaxSize: 0 } },
  'typo-key': { autoscaling: { keda: { enabeld: true } } },
  'bad-mechanism': { kafka: { sasl: { mechanism: 'kerberos' } } },
  'bad-broker': { kafka: { brokers: ['kafka'] } },
  'no-topics': { scorer: { inputTopics: [] } },
  'root-user': { podSecurityContext: { runAsNonRoot: false } },
  'too-many-replicas': { kafka: { partitions: 4 }, autoscaling: { keda: { enabled: true, maxReplicaCount: 10 } } },
  'hpa-too-many': { kafka: { partitions: 4 }, autoscaling: { hpa: { enabled: true, maxReplicas: 5 } } },
  'sasl-without-secret': { kafka: { sasl: { mechanism: 'plain' } } },
  'reads-own-output': { scorer: { inputTopics: ['reviews', 'sentiment-events'] } },
  'drain-too-short': { scorer: { shutdownTimeoutMs: 500 } },
  'drain-without-prometheus': { autoscaling: { keda: { enabled: true, signal: 'drainTime' } } },
  'bad-signal': { autoscaling: { keda: { enabled: true, signal: 'cpu' } } },
  'latest-reset': { autoscaling: { keda: { enabled: true, offsetResetPolicy: 'latest' } } },
  'auth-without-modes': { autoscaling: { keda: { drainTime: { prometheus: { serverAddress: 'http://p:9090', authenticationRef: 'prom' } } } } },
  'tag-as-digest': { image: { digest: 'latest' } },
  'probe-too-quick': { scorer: { livenessProbe: { timeoutSeconds: 2 } } },
  'drain-window-short': { sidecar: { lagIntervalMs: 15_000, drainWindowMs: 20_000 } },
  'bad-network-peer': { networkPolicy: { metricsFrom: [{ podSelectr: {} }] } },
};
type Name = keyof typeof rejected;

let run: RenderRun;
const error = (name: Name) => {
  const c = run.cases[name]!;
  if (!c.error) throw new Error(`values ${name} rendered, but should have been refused`);
  return c.error;
};

beforeAll(() => {
  run = render({ ...rejected, 'both-off': { autoscaling: { keda: { enabled: false }, hpa: { enabled: false } } } });
});

describe('values.schema.json and the chart refuse bad values', () => {
  it('every bad value set is refused', () => {
    const rendered = (Object.keys(rejected) as Name[]).filter((n) => !run.cases[n]!.error);
    expect(rendered).toEqual([]);
    expect(run.cases['both-off']!.error).toBeUndefined();
  });

  it('KEDA and HPA together: refused, saying choose one', () => {
    expect(error('both-autoscalers')).toMatch(/autoscaling\.keda\.enabled and autoscaling\.hpa\.enabled are both true: choose one/);
  });

  it('an out-of-range number names the value and the bound', () => {
    expect(error('batch-zero')).toMatch(/at '\/scorer\/batchMaxSize': minimum: got 0, want 1/);
    expect(error('drain-too-short')).toMatch(/at '\/scorer\/shutdownTimeoutMs': minimum: got 500, want 1,?000/);
  });

  it('a misspelt key is named, not silently ignored', () => {
    expect(error('typo-key')).toMatch(/at '\/autoscaling\/keda': additional properties? 'enabeld' not allowed/);
  });

  it('enums and patterns: SASL mechanism, broker address, topics', () => {
    expect(error('bad-mechanism')).toMatch(/at '\/kafka\/sasl\/mechanism': value must be one of 'none', 'plain', 'scram-sha-256', 'scram-sha-512'/);
    expect(error('bad-broker')).toMatch(/at '\/kafka\/brokers\/0': 'kafka' does not match pattern/);
    expect(error('no-topics')).toMatch(/at '\/scorer\/inputTopics': minItems: got 0, want 1/);
  });

  it('running as root is not a value the chart accepts', () => {
    expect(error('root-user')).toMatch(/at '\/podSecurityContext\/runAsNonRoot': value must be true/);
  });

  it('more replicas than partitions: refused with both numbers', () => {
    expect(error('too-many-replicas')).toMatch(/autoscaling\.keda\.maxReplicaCount \(10\) is above kafka\.partitions \(4\)/);
    expect(error('hpa-too-many')).toMatch(/autoscaling\.hpa\.maxReplicas \(5\) is above kafka\.partitions \(4\)/);
  });

  it('scaling on time to drain without a Prometheus to read it from: refused, naming the value', () => {
    expect(error('drain-without-prometheus')).toMatch(/autoscaling\.keda\.signal is drainTime but autoscaling\.keda\.drainTime\.prometheus\.serverAddress is empty/);
    expect(error('bad-signal')).toMatch(/at '\/autoscaling\/keda\/signal': value must be one of 'lag', 'drainTime'/);
    expect(error('auth-without-modes')).toMatch(/authenticationRef is set but authModes is empty/);
  });

  it('offsetResetPolicy latest, which would hide a new group’s backlog from KEDA, is refused', () => {
    expect(error('latest-reset')).toMatch(/at '\/autoscaling\/keda\/offsetResetPolicy': value must be 'earliest'/);
  });

  it('a digest that is not sha256:<64 hex> is refused', () => {
    expect(error('tag-as-digest')).toMatch(/at '\/image\/digest': 'latest' does not match pattern/);
  });

  it('probes that would give up before the sidecar’s wait for the scorer, or a drain window under two lag reads: refused with both numbers', () => {
    expect(error('probe-too-quick')).toMatch(/scorer\.livenessProbe\.timeoutSeconds \(2\) must be above sidecar\.scorerTimeoutMs \(2000 ms\)/);
    expect(error('drain-window-short')).toMatch(/sidecar\.drainWindowMs \(20000\) is below 2 × sidecar\.lagIntervalMs \(30000\)/);
  });

  it('a NetworkPolicy peer with a misspelt key is refused', () => {
    expect(error('bad-network-peer')).toMatch(/at '\/networkPolicy\/metricsFrom\/0': additional properties? 'podSelectr' not allowed/);
  });

  it('SASL without credentials, and a loop through the output topic: refused with what to change', () => {
    expect(error('sasl-without-secret')).toMatch(/kafka\.sasl\.mechanism is plain but kafka\.sasl\.existingSecret is empty/);
    expect(error('reads-own-output')).toMatch(/scorer\.inputTopics contains "sentiment-events", the output or dead-letter topic/);
  });
});
