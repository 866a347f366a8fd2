// The chart, rendered by Helm's own engine for several value sets, validated against the Kubernetes,
// KEDA and prometheus-operator schemas, and checked for what the deployment relies on.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { chartDir, find, kinds, render, repoRoot, type K8sObject, type RenderRun } from './render.js';
import { plan } from './sync-chart-files.mjs';
import { validateObject } from './validate.js';

const DIGEST = `sha256:${'0123456789abcdef'.repeat(4)}`;
const GPU_DIGEST = `sha256:${'fedcba9876543210'.repeat(4)}`;
const PROMETHEUS = 'http://prometheus-operated.monitoring.svc:9090';

// Value sets. The first four are the ones the issue names; `full` turns every optional part on.
const cases = {
  default: null,
  keda: {
    kafka: { partitions: 12 },
    scorer: { inputTopics: ['reviews', 'tweets'], groupId: 'reviews-scorer' },
    autoscaling: { keda: { enabled: true, lagThreshold: 500, activationLagThreshold: 10 } },
  },
  // Scaling on time to drain (the sidecar's estimate through KEDA's Prometheus scaler).
  drain: {
    kafka: { partitions: 12, sasl: { mechanism: 'scram-sha-512', existingSecret: 'kafka-credentials' } },
    scorer: { inputTopics: ['reviews', 'tweets'], groupId: 'reviews-scorer' },
    autoscaling: {
      keda: { enabled: true, signal: 'drainTime', drainTime: { targetSeconds: 120, prometheus: { serverAddress: PROMETHEUS, authModes: 'bearer', authenticationRef: 'prometheus-token' } } },
    },
  },
  // ... and from zero: a kafka trigger on lag wakes the Deployment.
  'drain-zero': {
    kafka: { tls: { enabled: true, caSecret: { name: 'kafka-ca' } } },
    scorer: { inputTopics: ['reviews', 'tweets'] },
    autoscaling: { keda: { enabled: true, signal: 'drainTime', minReplicaCount: 0, activationLagThreshold: 5, drainTime: { prometheus: { serverAddress: PROMETHEUS } } } },
    sidecar: { drainWindowMs: 300_000, drainMaxSeconds: 7_200 },
  },
  hpa: { autoscaling: { hpa: { enabled: true, maxReplicas: 4 } } },
  gpu: {
    image: { gpuTag: '0.1.0-cuda12', digest: DIGEST },
    gpu: { enabled: true, count: 1, runtimeClassName: 'nvidia', nodeSelector: { 'nvidia.com/gpu.present': 'true' }, image: { digest: GPU_DIGEST } },
  },
  full: {
    kafka: {
      brokers: ['b-1.kafka.internal:9096', 'b-2.kafka.internal:9096'],
      partitions: 8,
      tls: { enabled: true, caSecret: { name: 'kafka-ca', key: 'ca.pem' } },
      sasl: { mechanism: 'scram-sha-512', existingSecret: 'kafka-credentials', usernameKey: 'user', passwordKey: 'pass' },
    },
    image: { repository: 'registry.example.com/sentiment-stream', digest: DIGEST },
    autoscaling: { keda: { enabled: true } },
    metrics: {
      serviceMonitor: { enabled: true, labels: { release: 'kube-prometheus-stack' } },
      prometheusRule: { enabled: true, runbookBaseUrl: 'https://github.com/acme/sentiment-stream/blob/v0.1.0/' },
    },
    grafana: { dashboard: { enabled: true } },
    networkPolicy: {
      metricsFrom: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } }, podSelector: { matchLabels: { 'app.kubernetes.io/name': 'prometheus' } } }],
    },
  },
  'no-extras': { networkPolicy: { enabled: false }, tests: { enabled: false }, kafka: { client: 'kafkajs' } },
  'slow-drain': { scorer: { shutdownTimeoutMs: 120_500 } },
};
type CaseName = keyof typeof cases;

let run: RenderRun;
const objects = (name: CaseName): K8sObject[] => {
  const c = run.cases[name]!;
  if (c.error) throw new Error(`case ${name} did not render: ${c.error}`);
  return c.objects;
};

interface Container {
  name: string;
  image: string;
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string }; fieldRef?: { fieldPath: string } } }[];
  envFrom?: { configMapRef?: { name: string } }[];
  ports?: { name: string; containerPort: number }[];
  command?: string[];
  imagePullPolicy?: string;
  startupProbe?: Probe;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  resources?: { limits?: Record<string, unknown>; requests?: Record<string, unknown> };
  securityContext?: Record<string, unknown> & { capabilities?: { drop?: string[] }; seccompProfile?: { type: string } };
  volumeMounts?: { name: string; mountPath: string }[];
}
interface Probe {
  httpGet?: { path: string; port: string | number };
  periodSeconds?: number;
  timeoutSeconds?: number;
  failureThreshold?: number;
}
interface PodSpec {
  containers: Container[];
  securityContext?: Record<string, unknown> & { seccompProfile?: { type: string } };
  terminationGracePeriodSeconds?: number;
  volumes?: { name: string; emptyDir?: object; secret?: { secretName: string; items?: { key: string; path: string }[] } }[];
  runtimeClassName?: string;
  nodeSelector?: Record<string, string>;
  tolerations?: { key?: string }[];
  topologySpreadConstraints?: { topologyKey: string; labelSelector: { matchLabels: Record<string, string> } }[];
}
const deployment = (name: CaseName) => find(objects(name), 'Deployment') as K8sObject & {
  spec: { replicas?: number; selector: { matchLabels: Record<string, string> }; template: { metadata: { labels: Record<string, string> }; spec: PodSpec } };
};
const pod = (name: CaseName) => deployment(name).spec.template.spec;
const container = (name: CaseName, c: string) => {
  const hit = pod(name).containers.find((x) => x.name === c);
  if (!hit) throw new Error(`no container ${c} in ${name}`);
  return hit;
};
const configMap = (name: CaseName) => (find(objects(name), 'ConfigMap', 'sentiment-stream') as K8sObject & { data: Record<string, string> }).data;

beforeAll(() => {
  run = render(cases);
});

describe('helm engine', () => {
  it('is a real Helm 3 and lints the chart clean (--strict)', () => {
    expect(run.helmVersion).toMatch(/^v3\.\d+\.\d+/);
    expect(run.lint.failed, run.lint.messages.join('\n')).toBe(false);
    expect(run.lint.messages.filter((m) => !m.startsWith('[INFO]'))).toEqual([]);
  });

  it.each(Object.keys(cases) as CaseName[])('renders the %s values', (name) => {
    expect(run.cases[name]!.error).toBeUndefined();
    expect(objects(name).length).toBeGreaterThan(0);
  });
});

describe('every rendered object matches its schema', () => {
  it.each(Object.keys(cases) as CaseName[])('%s', async (name) => {
    for (const obj of objects(name)) await validateObject(obj);
  });

  it('covers every kind the chart can emit', () => {
    const all = new Set((Object.keys(cases) as CaseName[]).flatMap((n) => kinds(objects(n))));
    expect([...all].sort()).toEqual(
      [
        'ConfigMap',
        'Deployment',
        'HorizontalPodAutoscaler',
        'NetworkPolicy',
        'Pod',
        'PodDisruptionBudget',
        'PrometheusRule',
        'ScaledObject',
        'Service',
        'ServiceAccount',
        'ServiceMonitor',
        'TriggerAuthentication',
      ].sort(),
    );
  });
});

describe('the pod', () => {
  it('runs two containers, scorer and metrics-sidecar, from one image', () => {
    for (const name of Object.keys(cases) as CaseName[]) {
      const cs = pod(name).containers;
      expect(cs.map((c) => c.name)).toEqual(['scorer', 'metrics-sidecar']);
      expect(cs[0]!.image).toBe(cs[1]!.image);
      expect(cs[0]!.args).toEqual(['scorer']);
      expect(cs[1]!.args).toEqual(['sidecar']);
    }
  });

  it('probes the sidecar: liveness on /healthz, readiness on /readyz, on its metrics port', () => {
    const sidecar = container('default', 'metrics-sidecar');
    expect(sidecar.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
    expect(sidecar.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'metrics' });
    expect(sidecar.ports).toEqual([expect.objectContaining({ name: 'metrics', containerPort: 9464 })]);
    const env = Object.fromEntries((sidecar.env ?? []).map((e) => [e.name, e.value]));
    expect(env.METRICS_PORT).toBe('9464');
    // The sidecar reads the scorer where the scorer listens (STATUS_HOST:STATUS_PORT of the ConfigMap).
    const cm = configMap('default');
    expect(env.SCORER_STATUS_URL).toBe(`http://${cm.STATUS_HOST}:${cm.STATUS_PORT}`);
    expect(cm.STATUS_HOST).toBe('127.0.0.1');
    expect(env.DRAIN_WINDOW_MS).toBe('120000');
    expect(env.DRAIN_MAX_SECONDS).toBe('86400');
    const zero = Object.fromEntries((container('drain-zero', 'metrics-sidecar').env ?? []).map((e) => [e.name, e.value]));
    expect([zero.DRAIN_WINDOW_MS, zero.DRAIN_MAX_SECONDS]).toEqual(['300000', '7200']);
  });

  it('probes the scorer through the sidecar: its pod-local /status cannot be reached by the kubelet', () => {
    const scorer = container('default', 'scorer');
    // The sidecar's port by number: a named port would resolve among the scorer container's own ports (none).
    expect(scorer.ports).toBeUndefined();
    expect(scorer.startupProbe).toEqual({ httpGet: { path: '/scorer/livez', port: 9464 }, periodSeconds: 2, timeoutSeconds: 3, failureThreshold: 60 });
    expect(scorer.livenessProbe).toEqual({ httpGet: { path: '/scorer/livez', port: 9464 }, periodSeconds: 10, timeoutSeconds: 3, failureThreshold: 6 });
    expect(scorer.readinessProbe).toEqual({ httpGet: { path: '/scorer/readyz', port: 9464 }, periodSeconds: 10, timeoutSeconds: 3, failureThreshold: 3 });
    // The scorer's liveness gives up later than the sidecar's own (3 x 10 s), so a sidecar restart
    // does not restart the scorer too.
    const sidecar = container('default', 'metrics-sidecar').livenessProbe!;
    const window = (p: Probe) => (p.periodSeconds ?? 10) * (p.failureThreshold ?? 3);
    expect(window(scorer.livenessProbe!)).toBeGreaterThan(window(sidecar));
    // Every probe that reaches the scorer outlasts the sidecar's own wait for it (SCORER_TIMEOUT_MS).
    const timeoutMs = Number(Object.fromEntries((container('default', 'metrics-sidecar').env ?? []).map((e) => [e.name, e.value])).SCORER_TIMEOUT_MS);
    for (const p of [scorer.startupProbe!, scorer.livenessProbe!, scorer.readinessProbe!, container('default', 'metrics-sidecar').readinessProbe!]) {
      expect(p.timeoutSeconds! * 1000).toBeGreaterThan(timeoutMs);
    }
  });

  it('pins the image by digest when given one, the CPU and the GPU image each with its own', () => {
    expect(container('default', 'scorer').image).toBe('sentiment-stream:0.1.0');
    expect(container('full', 'scorer').image).toBe(`registry.example.com/sentiment-stream:0.1.0@${DIGEST}`);
    expect(container('full', 'metrics-sidecar').image).toBe(container('full', 'scorer').image);
    // image.digest is the CPU image's; the GPU image is another image with its own digest.
    expect(container('gpu', 'scorer').image).toBe(`sentiment-stream:0.1.0-cuda12@${GPU_DIGEST}`);
  });

  it('gives SIGTERM more time than the scorer takes to drain', () => {
    for (const name of ['default', 'slow-drain'] as const) {
      const drainSeconds = Number(configMap(name).SHUTDOWN_TIMEOUT_MS) / 1000;
      expect(pod(name).terminationGracePeriodSeconds).toBeGreaterThan(drainSeconds);
    }
    expect(pod('default').terminationGracePeriodSeconds).toBe(35); // 25 s drain + 10 s margin
    expect(pod('slow-drain').terminationGracePeriodSeconds).toBe(131); // ceil(120.5) + 10
  });

  it('runs no container as root, with a read-only root filesystem and nothing to escalate', () => {
    for (const name of Object.keys(cases) as CaseName[]) {
      const p = pod(name);
      expect(p.securityContext?.runAsNonRoot).toBe(true);
      expect(p.securityContext?.seccompProfile?.type).toBe('RuntimeDefault');
      for (const c of p.containers) {
        const sc = { ...p.securityContext, ...c.securityContext };
        expect(sc.runAsNonRoot, `${name}/${c.name}`).toBe(true);
        expect(sc.runAsUser, `${name}/${c.name}`).toBeGreaterThan(0);
        expect(sc.readOnlyRootFilesystem).toBe(true);
        expect(sc.allowPrivilegeEscalation).toBe(false);
        expect(sc.privileged ?? false).toBe(false);
        expect(c.securityContext?.capabilities?.drop).toEqual(['ALL']);
        // The one writable path.
        expect(c.volumeMounts).toContainEqual(expect.objectContaining({ name: 'tmp', mountPath: '/tmp' }));
      }
      expect(p.volumes).toContainEqual(expect.objectContaining({ name: 'tmp', emptyDir: expect.any(Object) }));
    }
  });

  it('has the requested resources: scorer ~1 CPU / 512Mi up to 2 CPU / 1Gi, a small sidecar', () => {
    expect(container('default', 'scorer').resources).toEqual({ requests: { cpu: '1', memory: '512Mi' }, limits: { cpu: '2', memory: '1Gi' } });
    const side = container('default', 'metrics-sidecar').resources!;
    expect(side.requests).toEqual({ cpu: '50m', memory: '96Mi' });
    expect(side.limits).toEqual({ cpu: '250m', memory: '192Mi' });
  });

  it('spreads replicas across nodes and keeps one disruption at a time', () => {
    const d = deployment('default');
    const tsc = d.spec.template.spec.topologySpreadConstraints!;
    expect(tsc).toEqual([expect.objectContaining({ topologyKey: 'kubernetes.io/hostname' })]);
    expect(tsc[0]!.labelSelector.matchLabels).toEqual(d.spec.selector.matchLabels);
    const pdb = find(objects('default'), 'PodDisruptionBudget') as K8sObject & { spec: { maxUnavailable: number; selector: { matchLabels: object } } };
    expect(pdb.spec.maxUnavailable).toBe(1);
    expect(pdb.spec.selector.matchLabels).toEqual(d.spec.selector.matchLabels);
  });
});

describe('configuration', () => {
  // docs/configuration.md's scorer table is generated from the scorer's schema, so it is the list of
  // every variable the scorer reads.
  const documented = (() => {
    const doc = readFileSync(join(repoRoot, 'docs', 'configuration.md'), 'utf8');
    const table = doc.slice(doc.indexOf('<!-- scorer:begin -->'), doc.indexOf('<!-- scorer:end -->'));
    return [...table.matchAll(/^\| `([A-Z0-9_]+)` \|/gm)].map((m) => m[1]!);
  })();

  // Left unset on purpose, each with the reason; any other variable the chart does not set fails.
  const unsetOnPurpose: Record<string, string> = {
    // One value would be shared by every replica, and replicas with one transactional id fence each
    // other. Unset, the scorer uses GROUP_ID-<hostname>, i.e. the pod name: unique per pod.
    TRANSACTIONAL_ID: 'must differ per replica',
  };

  it('sets every scorer variable of docs/configuration.md (with TLS and SASL on)', () => {
    expect(documented.length).toBeGreaterThan(20);
    const cm = configMap('full');
    const env = new Set((container('full', 'scorer').env ?? []).map((e) => e.name));
    const missing = documented.filter((v) => !(v in cm) && !env.has(v) && !env.has(`${v}_FILE`) && !(v in unsetOnPurpose));
    expect(missing).toEqual([]);
    for (const v of Object.keys(unsetOnPurpose)) {
      expect(documented, `${v} is no longer documented: drop it from unsetOnPurpose`).toContain(v);
      expect(cm[v]).toBeUndefined();
    }
    // Both containers load the ConfigMap (the sidecar needs the Kafka settings, group and topics).
    for (const c of pod('full').containers) expect(c.envFrom).toEqual([{ configMapRef: { name: find(objects('full'), 'ConfigMap', 'sentiment-stream').metadata.name } }]);
  });

  it('keeps the chart defaults equal to the scorer defaults where the docs give one', () => {
    const cm = configMap('default');
    const doc = readFileSync(join(repoRoot, 'docs', 'configuration.md'), 'utf8');
    const rows = [...doc.matchAll(/^\| `([A-Z0-9_]+)` \| `([^`]*)` \|/gm)].map((m) => [m[1]!, m[2]!] as const);
    // KAFKA_BROKERS differs on purpose: 127.0.0.1 means nothing in a pod.
    const differing = rows.filter(([k, v]) => k in cm && k !== 'KAFKA_BROKERS' && cm[k] !== v);
    expect(differing).toEqual([]);
    expect(cm.INPUT_TOPICS).toBe('reviews');
  });

  it('takes the Kafka password from the existing Secret as a mounted file, never as an env value', () => {
    const p = pod('full');
    for (const c of p.containers) {
      const env = Object.fromEntries((c.env ?? []).map((e) => [e.name, e]));
      expect(env.KAFKA_SASL_PASSWORD, c.name).toBeUndefined();
      expect(env.KAFKA_SASL_USERNAME?.valueFrom?.secretKeyRef).toEqual({ name: 'kafka-credentials', key: 'user' });
      const file = env.KAFKA_SASL_PASSWORD_FILE!.value!;
      const mount = c.volumeMounts!.find((m) => file.startsWith(`${m.mountPath}/`))!;
      const volume = p.volumes!.find((v) => v.name === mount.name)!;
      expect(volume.secret?.secretName).toBe('kafka-credentials');
      expect(volume.secret?.items).toEqual([{ key: 'pass', path: file.slice(mount.mountPath.length + 1) }]);
    }
    const cm = configMap('full');
    expect(cm.KAFKA_SASL_MECHANISM).toBe('scram-sha-512');
    expect(cm.KAFKA_SSL).toBe('true');
    expect(cm.KAFKA_BROKERS).toBe('b-1.kafka.internal:9096,b-2.kafka.internal:9096');
    expect(cm.KAFKA_SSL_CA_FILE).toMatch(/^\/var\/run\/secrets\//);
    expect(Object.values(cm).join('\n')).not.toMatch(/pass/i);
  });

  it('gives each scorer its pod name as GROUP_INSTANCE_ID (static membership), except with kafkajs, which has none', () => {
    const env = (name: CaseName) => Object.fromEntries((container(name, 'scorer').env ?? []).map((e) => [e.name, e]));
    expect(configMap('default').KAFKA_CLIENT).toBe('platformatic');
    expect(env('default').GROUP_INSTANCE_ID?.valueFrom?.fieldRef).toEqual({ fieldPath: 'metadata.name' });
    // Per pod, so never in the shared ConfigMap; the sidecar has no use for it.
    expect(configMap('default').GROUP_INSTANCE_ID).toBeUndefined();
    expect(Object.keys(env('default'))).not.toContain('TRANSACTIONAL_ID');
    expect((container('default', 'metrics-sidecar').env ?? []).map((e) => e.name)).not.toContain('GROUP_INSTANCE_ID');
    // The scorer refuses GROUP_INSTANCE_ID with KAFKA_CLIENT=kafkajs.
    expect(configMap('no-extras').KAFKA_CLIENT).toBe('kafkajs');
    expect(env('no-extras').GROUP_INSTANCE_ID).toBeUndefined();
  });

  it('rolls the pods when the configuration changes', () => {
    const a = deployment('default').spec.template.metadata as unknown as { annotations: Record<string, string> };
    const b = deployment('slow-drain').spec.template.metadata as unknown as { annotations: Record<string, string> };
    expect(a.annotations['checksum/config']).toMatch(/^[0-9a-f]{64}$/);
    expect(a.annotations['checksum/config']).not.toBe(b.annotations['checksum/config']);
  });
});

describe('scaling', () => {
  type Trigger = { type: string; name?: string; metricType?: string; metadata: Record<string, string>; authenticationRef?: { name: string } };
  const scaledObject = (name: CaseName) =>
    find(objects(name), 'ScaledObject') as K8sObject & { spec: { scaleTargetRef: { name: string }; minReplicaCount: number; maxReplicaCount: number; triggers: Trigger[] } };

  it('KEDA: a kafka trigger per input topic on the configured consumer group, capped at the partition count', () => {
    const so = scaledObject('keda');
    expect(so.spec.scaleTargetRef.name).toBe(deployment('keda').metadata.name);
    expect(so.spec.maxReplicaCount).toBe(12);
    expect(so.spec.triggers.map((t) => [t.type, t.metadata.topic, t.metadata.consumerGroup])).toEqual([
      ['kafka', 'reviews', 'reviews-scorer'],
      ['kafka', 'tweets', 'reviews-scorer'],
    ]);
    for (const t of so.spec.triggers) {
      expect(t.metadata).toMatchObject({ bootstrapServers: 'kafka:9092', lagThreshold: '500', activationLagThreshold: '10' });
      // KEDA counts a group's uncommitted partitions as the scorer reads them: from the earliest offset.
      expect(t.metadata.offsetResetPolicy).toBe('earliest');
      // A stuck partition does not drive scale-out (it still wakes a group scaled to zero).
      expect(t.metadata.excludePersistentLag).toBe('true');
      expect(t.metricType).toBeUndefined();
    }
    // The group KEDA watches is the one the scorer joins.
    expect(configMap('keda').GROUP_ID).toBe('reviews-scorer');
    expect(configMap('keda').INPUT_TOPICS).toBe('reviews,tweets');
    // KEDA owns the replica count and makes its own HPA.
    expect(deployment('keda').spec.replicas).toBeUndefined();
    expect(kinds(objects('keda'))).not.toContain('HorizontalPodAutoscaler');
  });

  it('KEDA with SASL/TLS: authenticates with the scorer’s own Secret', () => {
    const so = scaledObject('full');
    const t = so.spec.triggers[0]!;
    expect(t.metadata).toMatchObject({ sasl: 'scram_sha512', tls: 'enable', bootstrapServers: 'b-1.kafka.internal:9096,b-2.kafka.internal:9096' });
    const auth = find(objects('full'), 'TriggerAuthentication') as K8sObject & { spec: { secretTargetRef: { parameter: string; name: string; key: string }[] } };
    expect(t.authenticationRef?.name).toBe(auth.metadata.name);
    expect(auth.spec.secretTargetRef).toEqual([
      { parameter: 'username', name: 'kafka-credentials', key: 'user' },
      { parameter: 'password', name: 'kafka-credentials', key: 'pass' },
      { parameter: 'ca', name: 'kafka-ca', key: 'ca.pem' },
    ]);
    expect(so.spec.maxReplicaCount).toBe(8);
  });

  it('KEDA on time to drain: one Prometheus trigger, metricType Value, on the drain estimate of the release’s group', () => {
    const so = scaledObject('drain');
    expect(so.spec.triggers).toEqual([
      {
        type: 'prometheus',
        name: 'drain-time',
        metricType: 'Value',
        metadata: {
          serverAddress: PROMETHEUS,
          query: 'max(sentiment_consumergroup_drain_seconds{namespace="sentiment",consumergroup="reviews-scorer"})',
          threshold: '120',
          activationThreshold: '0',
          ignoreNullValues: 'false',
          authModes: 'bearer',
        },
        authenticationRef: { name: 'prometheus-token' },
      },
    ]);
    expect(so.spec.minReplicaCount).toBe(1);
    expect(so.spec.maxReplicaCount).toBe(12);
    // No kafka trigger, so KEDA needs no Kafka credentials.
    expect(kinds(objects('drain'))).not.toContain('TriggerAuthentication');
    expect(deployment('drain').spec.replicas).toBeUndefined();
  });

  it('KEDA on time to drain from zero: kafka triggers on lag wake the Deployment but never size it', () => {
    const so = scaledObject('drain-zero');
    expect(so.spec.minReplicaCount).toBe(0);
    const [prom, ...wake] = so.spec.triggers;
    expect(prom).toMatchObject({ type: 'prometheus', metricType: 'Value', metadata: { threshold: '300', query: expect.stringContaining('consumergroup="sentiment-scorer"') } });
    expect(wake.map((t) => [t.type, t.name, t.metadata.topic])).toEqual([
      ['kafka', 'wake-0', 'reviews'],
      ['kafka', 'wake-1', 'tweets'],
    ]);
    for (const t of wake) {
      // ceil(lag / 10^12) is 1 for any real lag: one replica to start with, the drain estimate does the rest.
      expect(t.metadata).toMatchObject({ lagThreshold: '1000000000000', activationLagThreshold: '5', offsetResetPolicy: 'earliest', tls: 'enable' });
      expect(t.metadata.excludePersistentLag).toBeUndefined();
      expect(t.authenticationRef?.name).toBe(find(objects('drain-zero'), 'TriggerAuthentication').metadata.name);
    }
  });

  it('HPA: autoscaling/v2 on the scorer’s CPU when KEDA is off', () => {
    const hpa = find(objects('hpa'), 'HorizontalPodAutoscaler') as K8sObject & {
      apiVersion: string;
      spec: { maxReplicas: number; scaleTargetRef: { name: string }; metrics: { type: string; containerResource: { name: string; container: string } }[] };
    };
    expect(hpa.apiVersion).toBe('autoscaling/v2');
    expect(hpa.spec.maxReplicas).toBe(4);
    expect(hpa.spec.scaleTargetRef.name).toBe(deployment('hpa').metadata.name);
    // On the scorer container's CPU, not the pod's (the sidecar would dilute it).
    expect(hpa.spec.metrics.map((m) => [m.type, m.containerResource.name, m.containerResource.container])).toEqual([['ContainerResource', 'cpu', 'scorer']]);
    expect(kinds(objects('hpa'))).not.toContain('ScaledObject');
    expect(deployment('hpa').spec.replicas).toBeUndefined();
  });

  it('no autoscaler by default: a fixed replica count', () => {
    expect(kinds(objects('default'))).not.toContain('ScaledObject');
    expect(kinds(objects('default'))).not.toContain('HorizontalPodAutoscaler');
    expect(deployment('default').spec.replicas).toBe(1);
  });
});

describe('GPU', () => {
  const gpuLimit = (name: CaseName) => pod(name).containers.map((c) => c.resources?.limits?.['nvidia.com/gpu']);

  it('requests nvidia.com/gpu, the CUDA image and CUDA-first providers only when enabled', () => {
    expect(gpuLimit('gpu')).toEqual([1, undefined]); // the scorer only: the sidecar needs no GPU
    for (const name of Object.keys(cases) as CaseName[]) {
      if (name === 'gpu') continue;
      expect(gpuLimit(name), name).toEqual([undefined, undefined]);
      expect(configMap(name).EXECUTION_PROVIDERS, name).toBe('cpu');
      expect(pod(name).runtimeClassName, name).toBeUndefined();
    }
    expect(configMap('gpu').EXECUTION_PROVIDERS).toBe('cuda,cpu');
    expect(container('gpu', 'scorer').image).toBe(`sentiment-stream:0.1.0-cuda12@${GPU_DIGEST}`);
    expect(container('default', 'scorer').image).toBe('sentiment-stream:0.1.0');
  });

  it('schedules onto GPU nodes from values', () => {
    const p = pod('gpu');
    expect(p.runtimeClassName).toBe('nvidia');
    expect(p.nodeSelector).toEqual({ 'nvidia.com/gpu.present': 'true' });
    expect(p.tolerations).toContainEqual(expect.objectContaining({ key: 'nvidia.com/gpu' }));
    expect(pod('default').tolerations).toBeUndefined();
  });
});

describe('observability', () => {
  it('a metrics Service on 9464 named metrics, pointing at the sidecar', () => {
    const svc = find(objects('default'), 'Service') as K8sObject & { spec: { selector: object; ports: { name: string; port: number; targetPort: string }[] } };
    expect(svc.spec.ports).toEqual([expect.objectContaining({ name: 'metrics', port: 9464, targetPort: 'metrics' })]);
    expect(svc.spec.selector).toEqual(deployment('default').spec.selector.matchLabels);
    expect(kinds(objects('default'))).not.toContain('ServiceMonitor');
    expect(kinds(objects('default'))).not.toContain('PrometheusRule');
  });

  it('an optional ServiceMonitor that selects that Service and names the job as the rules expect', () => {
    const sm = find(objects('full'), 'ServiceMonitor') as K8sObject & { spec: { jobLabel: string; selector: { matchLabels: Record<string, string> }; endpoints: { port: string }[] } };
    const svc = find(objects('full'), 'Service');
    expect(sm.metadata.labels?.release).toBe('kube-prometheus-stack');
    for (const [k, v] of Object.entries(sm.spec.selector.matchLabels)) expect(svc.metadata.labels?.[k]).toBe(v);
    expect(sm.spec.endpoints.map((e) => e.port)).toEqual(['metrics']);
    // deploy/prometheus/rules select job="sentiment-stream".
    expect(svc.metadata.labels?.[sm.spec.jobLabel]).toBe('sentiment-stream');
  });

  it('a NetworkPolicy admits ingress to the scrape port only, from anywhere by default or from the configured sources', () => {
    type Policy = K8sObject & {
      spec: { podSelector: { matchLabels: Record<string, string> }; policyTypes: string[]; ingress: { ports: { port: string | number; protocol: string }[]; from?: object[] }[] };
    };
    const d = deployment('default');
    const open = find(objects('default'), 'NetworkPolicy') as Policy;
    expect(open.spec.podSelector.matchLabels).toEqual(d.spec.selector.matchLabels);
    expect(open.spec.policyTypes).toEqual(['Ingress']);
    // One rule, one port: the sidecar's named container port, which is the Service's target.
    expect(open.spec.ingress).toEqual([{ ports: [{ port: 'metrics', protocol: 'TCP' }] }]);
    expect(container('default', 'metrics-sidecar').ports?.map((p) => p.name)).toEqual(['metrics']);
    const closed = find(objects('full'), 'NetworkPolicy') as Policy;
    expect(closed.spec.ingress).toHaveLength(1);
    expect(closed.spec.ingress[0]!.ports).toEqual([{ port: 'metrics', protocol: 'TCP' }]);
    const testPod = find(objects('full'), 'Pod') as K8sObject;
    expect(closed.spec.ingress[0]!.from).toEqual([
      { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } }, podSelector: { matchLabels: { 'app.kubernetes.io/name': 'prometheus' } } },
      // helm test's pod, by its own labels.
      { podSelector: { matchLabels: testPod.metadata.labels && pick(testPod.metadata.labels, ['app.kubernetes.io/name', 'app.kubernetes.io/instance', 'app.kubernetes.io/component']) } },
    ]);
    expect(kinds(objects('no-extras'))).not.toContain('NetworkPolicy');
  });

  it('a helm test hook runs files/tests/sidecar-check.mjs against the metrics Service (the script is tested in test/integration/sidecar.test.ts)', () => {
    const pod = find(objects('default'), 'Pod') as K8sObject & { spec: { restartPolicy: string; containers: Container[]; automountServiceAccountToken: boolean } };
    expect(pod.metadata.annotations?.['helm.sh/hook']).toBe('test');
    expect(pod.metadata.annotations?.['helm.sh/hook-delete-policy']).toBe('before-hook-creation,hook-succeeded');
    expect(pod.spec.restartPolicy).toBe('Never');
    expect(pod.spec.automountServiceAccountToken).toBe(false);
    const [c] = pod.spec.containers;
    expect(c!.image).toBe(container('default', 'scorer').image);
    expect(c!.command!.slice(0, 3)).toEqual(['node', '--input-type=module', '-e']);
    expect(c!.command![3]).toBe(readFileSync(join(chartDir, 'files', 'tests', 'sidecar-check.mjs'), 'utf8'));
    const env = Object.fromEntries((c!.env ?? []).map((e) => [e.name, e.value]));
    const svc = find(objects('default'), 'Service') as K8sObject & { spec: { ports: { port: number }[] } };
    expect(env.SIDECAR_URL).toBe(`http://${svc.metadata.name}.sentiment.svc:${svc.spec.ports[0]!.port}`);
    expect(env.GROUP_ID).toBe(configMap('default').GROUP_ID);
    expect(env.INPUT_TOPICS).toBe(configMap('default').INPUT_TOPICS);
    expect(c!.securityContext).toEqual(container('default', 'scorer').securityContext);
    // Not one of the release's pods: no Service, PDB or NetworkPolicy selects it.
    const selector = deployment('default').spec.selector.matchLabels;
    expect(Object.entries(selector).every(([k, v]) => pod.metadata.labels?.[k] === v)).toBe(false);
    expect(kinds(objects('no-extras'))).not.toContain('Pod');
  });

  it('PrometheusRule and dashboard come from deploy/ through byte-identical chart copies', () => {
    const { pairs, stale } = plan();
    expect(stale.map(String)).toEqual([]);
    expect(pairs.length).toBeGreaterThanOrEqual(2);
    for (const [src, copy] of pairs) expect(readFileSync(copy).equals(readFileSync(src)), `${copy} differs from ${src}: run make helm-sync`).toBe(true);
  });

  it('the PrometheusRule carries exactly the groups of deploy/prometheus/rules/*.yml, runbook_url made a link', () => {
    type Groups = { rules: { alert?: string; annotations?: Record<string, string> }[] }[];
    const rule = find(objects('full'), 'PrometheusRule') as K8sObject & { spec: { groups: Groups } };
    const originals = plan()
      .pairs.map(([src]) => src)
      .filter((src) => src.includes(join('deploy', 'prometheus', 'rules')))
      .sort()
      .flatMap((src) => (parse(readFileSync(src, 'utf8')) as { groups: Groups }).groups);
    expect(originals.length).toBeGreaterThan(0);
    const alerts = originals.flatMap((g) => g.rules).filter((r) => r.alert);
    expect(alerts.length).toBeGreaterThanOrEqual(7);
    for (const a of alerts) {
      expect(a.annotations?.runbook_url, a.alert).toMatch(/^docs\/metrics\.md#runbook-/);
      expect(a.annotations?.runbook, a.alert).toBeUndefined();
      // metrics.prometheusRule.runbookBaseUrl (trailing slash and all) makes the path a link.
      a.annotations!.runbook_url = `https://github.com/acme/sentiment-stream/blob/v0.1.0/${a.annotations!.runbook_url}`;
    }
    expect(rule.spec.groups).toEqual(originals);
  });

  it('the dashboard’s panels have unique ids and do not overlap on the grid', () => {
    const [src] = plan().pairs.find(([s]) => s.endsWith('sentiment-stream.json'))!;
    const panels = (JSON.parse(readFileSync(src, 'utf8')) as { panels: { id: number; title: string; gridPos: { x: number; y: number; w: number; h: number } }[] }).panels;
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
    const cells = new Map<string, string>();
    for (const p of panels) {
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
      for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++) {
        for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
          expect(cells.get(`${x},${y}`), `${p.title} overlaps`).toBeUndefined();
          cells.set(`${x},${y}`, p.title);
        }
      }
    }
    expect(panels.map((p) => p.title)).toEqual(expect.arrayContaining(['Time to drain', 'Processing rate']));
  });

  it('the dashboard ConfigMap carries deploy/grafana’s JSON unchanged, with the sidecar label', () => {
    const cm = find(objects('full'), 'ConfigMap', '-dashboards') as K8sObject & { data: Record<string, string> };
    expect(cm.metadata.labels?.grafana_dashboard).toBe('1');
    const originals = plan().pairs.filter(([src]) => src.includes(join('deploy', 'grafana')));
    expect(originals.length).toBeGreaterThan(0);
    for (const [src] of originals) {
      const key = src.split('/').pop()!;
      expect(cm.data[key], key).toBe(readFileSync(src, 'utf8'));
      expect(() => JSON.parse(cm.data[key]!) as unknown).not.toThrow();
    }
    expect(kinds(objects('default')).filter((k) => k === 'ConfigMap')).toHaveLength(1);
  });
});

function pick(o: Record<string, string>, keys: string[]): Record<string, string> {
  return Object.fromEntries(keys.map((k) => [k, o[k]!]));
}
