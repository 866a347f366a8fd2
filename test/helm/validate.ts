// Schema validation of rendered objects with the kubernetes-models packages: each model class
// validates against the OpenAPI schema of its kind (Kubernetes' own for built-in kinds, the CRD's for
// KEDA and prometheus-operator). A kind with no model is an error, so nothing passes unchecked.
// Note: like a default `kubectl apply`, these schemas do not reject unknown fields; the assertions in
// chart.test.ts pin the fields that matter by name.
import type { K8sObject } from './render.js';

interface Model {
  validate(): void;
}
type ModelClass = new (data: object) => Model;

/** apiVersion group -> the package folder holding its models. */
function modulePath(apiVersion: string, kind: string): string {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  if (group === 'keda.sh') return `@kubernetes-models/keda/keda.sh/${version}/${kind}`;
  if (group === 'monitoring.coreos.com') return `@kubernetes-models/prometheus-operator/monitoring.coreos.com/${version}/${kind}`;
  if (group === '') return `kubernetes-models/${version}/${kind}`;
  if (!group!.includes('.') || group!.endsWith('.k8s.io')) return `kubernetes-models/${group}/${version}/${kind}`;
  throw new Error(`no schema known for ${apiVersion} ${kind}`);
}

/** Throws with the object's kind/name and the schema's complaint. */
export async function validateObject(obj: K8sObject): Promise<void> {
  if (typeof obj.apiVersion !== 'string' || typeof obj.kind !== 'string') throw new Error(`object without apiVersion/kind: ${JSON.stringify(obj).slice(0, 200)}`);
  let mod: Record<string, ModelClass>;
  try {
    mod = (await import(modulePath(obj.apiVersion, obj.kind))) as Record<string, ModelClass>;
  } catch (err) {
    throw new Error(`no schema for ${obj.apiVersion} ${obj.kind}: ${(err as Error).message}`);
  }
  const Cls = mod[obj.kind];
  if (!Cls) throw new Error(`no model class ${obj.kind} for ${obj.apiVersion}`);
  try {
    new Cls(obj).validate();
  } catch (err) {
    throw new Error(`${obj.kind}/${obj.metadata?.name} is invalid: ${(err as Error).message}`);
  }
}
