// Renders the chart with Helm's own engine (test/helm/src/main/java/.../HelmRender.java, helm-java)
// and parses the result the way Kubernetes would. Nothing here templates anything: the YAML comes
// from Helm, and each rendered object is then checked against the Kubernetes/KEDA/prometheus-operator
// schemas by validate.ts.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, stringify } from 'yaml';

export const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = join(here, '..', '..');
export const chartDir = join(repoRoot, 'helm', 'sentiment-stream');
/**
 * The Kubernetes version passed to `helm template --kube-version` (what .Capabilities reports and
 * Chart.yaml's kubeVersion is checked against). kubernetes-models 5.1 has 1.34's API (it includes
 * resource.k8s.io/v1, GA in 1.34), so objects are validated against the same version.
 */
export const kubeVersion = 'v1.34.0';

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: unknown;
}

export interface Rendered {
  /** Helm's output, when it rendered. */
  manifest?: string;
  objects: K8sObject[];
  /** Helm's error (a values.schema.json rejection, a template `fail`), when it did not. */
  error?: string;
}

export interface RenderRun {
  helmVersion: string;
  lint: { failed: boolean; messages: string[] };
  cases: Record<string, Rendered>;
}

const classpathFile = join(here, 'target', 'classpath.txt');

/**
 * helm-java's template returns the release manifest only, not its hooks (Helm's `helm template`
 * prints both), so a hook such as the `helm test` pod would never be rendered. render() therefore
 * renders a copy of the chart whose templates say HOOK_ALIAS where they say `helm.sh/hook`, which
 * makes Helm treat the hook as an ordinary object, and renames the annotations back after parsing.
 * Nothing else differs from the chart.
 */
const HOOK = 'helm.sh/hook';
const HOOK_ALIAS = 'helm-check.invalid/hook';

function chartWithHooksAsObjects(dir: string): string {
  const copy = join(dir, 'chart');
  cpSync(chartDir, copy, { recursive: true });
  const walk = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : [join(d, e.name)]));
  for (const file of walk(join(copy, 'templates'))) {
    const text = readFileSync(file, 'utf8');
    if (text.includes(HOOK)) writeFileSync(file, text.replaceAll(HOOK, HOOK_ALIAS));
  }
  return copy;
}

function hooksBack(objects: K8sObject[]): K8sObject[] {
  for (const o of objects) {
    const a = o.metadata?.annotations;
    if (!a) continue;
    for (const key of Object.keys(a)) {
      if (!key.startsWith(HOOK_ALIAS)) continue;
      a[HOOK + key.slice(HOOK_ALIAS.length)] = a[key]!;
      delete a[key];
    }
  }
  return objects;
}

/** Values to render with, by case name; `null` renders the chart's defaults. One JVM for all of them. */
export function render(cases: Record<string, object | null>): RenderRun {
  if (!existsSync(classpathFile)) {
    throw new Error('test/helm/target/classpath.txt is missing: build the harness with `mvn -q -f test/helm/pom.xml package` (test/helm/setup.ts does this)');
  }
  const dir = mkdtempSync(join(tmpdir(), 'helm-render-'));
  const args: string[] = [];
  for (const [name, values] of Object.entries(cases)) {
    if (!/^[a-z0-9-]+$/.test(name)) throw new Error(`case names are file names: ${name}`);
    if (values === null) {
      args.push(name, '-');
    } else {
      const file = join(dir, `${name}.values.yaml`);
      writeFileSync(file, stringify(values));
      args.push(name, file);
    }
  }
  const classpath = `${join(here, 'target', 'classes')}:${readFileSync(classpathFile, 'utf8').trim()}`;
  execFileSync('java', ['-cp', classpath, 'sentimentstream.helm.HelmRender', chartWithHooksAsObjects(dir), dir, kubeVersion, ...args], {
    stdio: ['ignore', 'inherit', 'inherit'],
    timeout: 120_000,
  });
  const out: Record<string, Rendered> = {};
  for (const name of Object.keys(cases)) {
    const ok = join(dir, `${name}.yaml`);
    if (existsSync(ok)) {
      const manifest = readFileSync(ok, 'utf8');
      out[name] = { manifest, objects: hooksBack(parseManifest(manifest)) };
    } else {
      out[name] = { objects: [], error: readFileSync(join(dir, `${name}.error.txt`), 'utf8') };
    }
  }
  const [first = '', ...messages] = readFileSync(join(dir, 'lint.txt'), 'utf8').split('\n');
  return {
    helmVersion: readFileSync(join(dir, 'helm-version.txt'), 'utf8').trim(),
    lint: { failed: first !== 'failed=false', messages: messages.filter(Boolean) },
    cases: out,
  };
}

/**
 * YAML 1.1, as Kubernetes reads manifests (sigs.k8s.io/yaml), so e.g. an unquoted 0440 is octal and
 * `yes` is a boolean here just as it would be in the cluster. Parse errors fail the test.
 */
export function parseManifest(manifest: string): K8sObject[] {
  const objects: K8sObject[] = [];
  for (const doc of parseAllDocuments(manifest, { version: '1.1' })) {
    if (doc.errors.length > 0) throw new Error(`rendered YAML does not parse: ${doc.errors.map((e) => e.message).join('; ')}`);
    const value: unknown = doc.toJS();
    if (value !== null && value !== undefined) objects.push(value as K8sObject);
  }
  return objects;
}

/** The one object of a kind (and name suffix, when several), or a failure that lists what there was. */
export function find(objects: K8sObject[], kind: string, nameSuffix = ''): K8sObject {
  const hits = objects.filter((o) => o.kind === kind && o.metadata.name.endsWith(nameSuffix));
  if (hits.length !== 1) {
    throw new Error(`expected one ${kind}${nameSuffix ? ` named *${nameSuffix}` : ''}, found ${hits.length} among ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`);
  }
  return hits[0]!;
}

export function kinds(objects: K8sObject[]): string[] {
  return objects.map((o) => o.kind).sort();
}
