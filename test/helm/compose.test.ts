// The laptop stack (deploy/compose/docker-compose.yml), checked without an engine: Debian's
// docker-compose validates and resolves it (`config`), promtool checks the Prometheus config it
// mounts together with the project's rules, and the assertions read the resolved file.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { repoRoot } from './render.js';

const composeFile = join(repoRoot, 'deploy', 'compose', 'docker-compose.yml');

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  environment?: Record<string, string>;
  network_mode?: string;
  user?: string;
  read_only?: boolean;
  tmpfs?: string[];
  cap_drop?: string[];
  stop_grace_period?: string;
  ports?: { published: number; target: number }[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  entrypoint?: string[];
}
let services: Record<string, Service>;

/** host:container[:ro] bind mounts of a service, as [host, container]. */
const mounts = (s: Service) => (s.volumes ?? []).map((v) => v.split(':').slice(0, 2) as [string, string]);

beforeAll(() => {
  // Fails with the tool's own message when the file is invalid (make helm-check installs docker-compose).
  const resolved = execFileSync('docker-compose', ['-f', composeFile, 'config'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  services = (parse(resolved) as { services: Record<string, Service> }).services;
});

describe('docker-compose.yml', () => {
  it('has the whole stack', () => {
    expect(Object.keys(services).sort()).toEqual(['grafana', 'kafka', 'metrics-sidecar', 'producer', 'prometheus', 'scorer', 'topics']);
    expect(services.kafka!.image).toMatch(/^apache\/kafka:/);
    expect(services.kafka!.environment!.KAFKA_PROCESS_ROLES).toBe('broker,controller'); // KRaft, no ZooKeeper
  });

  it('builds one image from deploy/docker/Dockerfile and runs both roles of the pod from it', () => {
    expect(services.scorer!.build).toEqual({ context: repoRoot, dockerfile: 'deploy/docker/Dockerfile' });
    expect(services['metrics-sidecar']!.image).toBe(services.scorer!.image);
    expect(services.scorer!.command).toEqual(['scorer']);
    expect(services['metrics-sidecar']!.command).toEqual(['sidecar']);
  });

  it('shares the scorer’s network namespace with the sidecar, like the pod', () => {
    expect(services['metrics-sidecar']!.network_mode).toBe('service:scorer');
    expect(services['metrics-sidecar']!.environment!.SCORER_STATUS_URL).toBe('http://127.0.0.1:9465');
    expect(services.scorer!.ports).toContainEqual(expect.objectContaining({ published: 9464, target: 9464 }));
  });

  it('points scorer and sidecar at the same broker, group and topics', () => {
    for (const k of ['KAFKA_BROKERS', 'INPUT_TOPICS', 'GROUP_ID']) {
      expect(services['metrics-sidecar']!.environment![k], k).toBe(services.scorer!.environment![k]);
    }
    expect(services.producer!.environment!.TOPIC).toBe(services.scorer!.environment!.INPUT_TOPICS);
  });

  it('runs the app hardened as in Kubernetes, and lets the scorer drain on stop', () => {
    for (const name of ['scorer', 'metrics-sidecar']) {
      const s = services[name]!;
      expect(s.user).toBe('10001:10001');
      expect(s.read_only).toBe(true);
      expect(s.tmpfs).toEqual(['/tmp']);
      expect(s.cap_drop).toEqual(['ALL']);
    }
    const grace = Number(/^(\d+)s$/.exec(services.scorer!.stop_grace_period ?? '')?.[1]);
    expect(grace * 1000).toBeGreaterThan(Number(services.scorer!.environment!.SHUTDOWN_TIMEOUT_MS));
  });

  it('mounts files that exist', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const [host] of mounts(s)) expect(existsSync(host), `${name}: ${host}`).toBe(true);
    }
  });

  it('mounts the project’s rules into Prometheus and the dashboard where Grafana’s provisioning looks', () => {
    expect(mounts(services.prometheus!)).toContainEqual([join(repoRoot, 'deploy', 'prometheus', 'rules'), '/etc/prometheus/rules/sentiment-stream']);
    const grafana = mounts(services.grafana!);
    const provider = parse(readFileSync(join(repoRoot, 'deploy', 'grafana', 'provisioning', 'dashboards', 'sentiment-stream.yml'), 'utf8')) as {
      providers: { options: { path: string } }[];
    };
    expect(grafana).toContainEqual([join(repoRoot, 'deploy', 'grafana', 'dashboards'), provider.providers[0]!.options.path]);
    expect(grafana).toContainEqual([join(repoRoot, 'deploy', 'grafana', 'provisioning', 'datasources'), '/etc/grafana/provisioning/datasources']);
    expect(services.grafana!.environment!.PROMETHEUS_URL).toBe('http://prometheus:9090');
  });
});

describe('the Prometheus config it mounts', () => {
  const config = parse(readFileSync(join(repoRoot, 'deploy', 'compose', 'prometheus.yml'), 'utf8')) as {
    rule_files: string[];
    scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
  };

  it('scrapes the sidecar as job sentiment-stream (what the rules and dashboard select on)', () => {
    expect(config.scrape_configs.map((c) => c.job_name)).toEqual(['sentiment-stream']);
    expect(config.scrape_configs[0]!.static_configs[0]!.targets).toEqual(['scorer:9464']);
  });

  it('passes promtool with the project’s rule files in place of the mounted ones', () => {
    // Same config, rule paths mapped from the container mount back to deploy/prometheus/rules.
    const local = {
      ...config,
      rule_files: config.rule_files.map((f) => f.replace('/etc/prometheus/rules/sentiment-stream', join(repoRoot, 'deploy', 'prometheus', 'rules'))),
    };
    for (const f of local.rule_files) expect(existsSync(f), f).toBe(true);
    const file = join(mkdtempSync(join(tmpdir(), 'compose-prom-')), 'prometheus.yml');
    writeFileSync(file, stringify(local));
    const out = execFileSync('promtool', ['check', 'config', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(out).toMatch(/SUCCESS/);
  });
});
