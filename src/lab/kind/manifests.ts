// The Kubernetes objects a kind lab applies, as data: the workload files of labs/kind-istio,
// the pods and Services a scenario's lab asks for, and a scenario's setup resources. Pure:
// callers read the files; this labels every object with the lab id, replaces each image tag
// with its pinned reference, and renders YAML for `kubectl apply --server-side -f -`.
import { parseAllDocuments, stringify } from 'yaml';
import type { LabSpec, PodSpec, Scenario } from '../../scenario/schema.ts';
import { LAB_LABEL, POD_LABEL } from './labels.ts';
import { imageRef, type PinnedImage } from './versions.ts';
import { podAppConfig } from '../netns/workloads.ts';
import { APP_UID } from '../../paths/kernel-trace.ts';

export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [k: string]: unknown;
};

export interface Manifest {
  /** Where it comes from: a file of labs/kind-istio, `scenario:<name>`, `setup[<i>]`. */
  name: string;
  objects: K8sObject[];
}

/** The workload files of labs/kind-istio, in the order the lab applies them. */
export const LAB_WORKLOAD_FILES = ['namespaces.yaml', 'bookinfo.yaml', 'hello-app.yaml', 'tcp-echo.yaml', 'toolbox.yaml'] as const;
export const LAB_DIR = 'labs/kind-istio';
export const KIND_CONFIG_FILE = `${LAB_DIR}/kind.yaml`;
export const ISTIO_OPERATOR_FILE = `${LAB_DIR}/istio-operator.yaml`;

export class ManifestError extends Error {
  override name = 'ManifestError';
}

/** Parses a multi-document YAML file into objects (empty documents skipped). */
export function parseManifestText(name: string, text: string): K8sObject[] {
  const out: K8sObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new ManifestError(`${name}: ${doc.errors[0]!.message}`);
    const v = doc.toJS() as unknown;
    if (v === null || v === undefined) continue;
    if (typeof v !== 'object' || Array.isArray(v)) throw new ManifestError(`${name}: a document is not a mapping`);
    const o = v as Partial<K8sObject>;
    if (typeof o.apiVersion !== 'string' || typeof o.kind !== 'string' || typeof o.metadata?.name !== 'string')
      throw new ManifestError(`${name}: every document needs apiVersion, kind and metadata.name`);
    out.push(o as K8sObject);
  }
  return out;
}

/** Pod templates inside an object (Deployment and friends), if any. */
function podTemplate(o: K8sObject): { metadata?: { labels?: Record<string, string> }; spec?: { containers?: Array<{ image?: string }>; initContainers?: Array<{ image?: string }> } } | undefined {
  const spec = o.spec as { template?: unknown } | undefined;
  return spec?.template as ReturnType<typeof podTemplate>;
}

/**
 * A copy of `o` with the lab label on it (and on its pod template), and every container
 * image replaced by its pinned reference. An image the pins do not know is an error: every
 * image the lab runs is pinned in src/lab/kind/versions.ts.
 */
export function labelAndPin(o: K8sObject, id: string, images: Readonly<Record<string, PinnedImage>>): K8sObject {
  const c = structuredClone(o);
  c.metadata.labels = { ...c.metadata.labels, [LAB_LABEL]: id };
  const t = podTemplate(c);
  if (t) {
    t.metadata = { ...t.metadata, labels: { ...t.metadata?.labels, [LAB_LABEL]: id } };
    for (const k of [...(t.spec?.containers ?? []), ...(t.spec?.initContainers ?? [])]) {
      if (k.image === undefined) continue;
      const pin = Object.values(images).find((p) => p.ref === k.image || imageRef(p) === k.image);
      if (!pin) throw new ManifestError(`${c.kind}/${c.metadata.name}: image ${k.image} is not pinned in src/lab/kind/versions.ts`);
      k.image = imageRef(pin);
    }
  }
  return c;
}

/** YAML for `kubectl apply -f -`: the objects as documents, in order. */
export function renderManifest(objects: readonly K8sObject[]): string {
  return objects.map((o) => stringify(o, { lineWidth: 0 })).join('---\n');
}

/** The container a scenario pod's workload runs in. */
export const APP_CONTAINER = 'app';
/** The container probes run in, in a scenario pod whose workload image has no curl or nc: the toolbox image, idle. */
export const TOOLS_CONTAINER = 'tools';
/** The ConfigMap (one per namespace of echo pods) that holds the bundled echo app, and where the pods mount it. */
export const ECHO_APP_CONFIGMAP = 'pathlab-echo-app';
const ECHO_APP_DIR = '/pathlab';
/** The user the echo app and the tools container run as (the node image's `node`; the netns lab's app uid). */
const APP_USER = { runAsUser: APP_UID, runAsGroup: APP_UID };

/** The container a scenario pod runs, by its workload. */
function workloadContainer(pod: PodSpec, namespace: string, images: Readonly<Record<string, PinnedImage>>): Record<string, unknown> {
  const ports = (pod.ports ?? []).map((p) => ({
    containerPort: p.port,
    ...(p.name === undefined ? {} : { name: p.name.slice(0, 15) }),
    ...(p.protocol === undefined ? {} : { protocol: p.protocol }),
  }));
  const img = (name: string) => {
    const pin = images[name];
    if (!pin) throw new ManifestError(`pod ${pod.name}: no pinned image for workload ${pod.workload}`);
    return imageRef(pin);
  };
  const base = { name: APP_CONTAINER, imagePullPolicy: 'IfNotPresent', ...(ports.length ? { ports } : {}) };
  switch (pod.workload) {
    case 'toolbox':
      return { ...base, image: img('toolbox'), command: ['sleep', 'infinity'] };
    case 'echo': {
      // The netns lab's echo app, the same file: it answers with the pod's name, port and the peer it saw.
      const cfg = podAppConfig(pod, namespace);
      return {
        ...base,
        image: img('node'),
        command: ['node', `${ECHO_APP_DIR}/echo-app.mjs`, JSON.stringify(cfg)],
        securityContext: APP_USER,
        volumeMounts: [{ name: ECHO_APP_CONFIGMAP, mountPath: ECHO_APP_DIR, readOnly: true }],
      };
    }
    case 'hello-app': {
      // hello-app serves HTTP on $PORT (8080 when unset).
      const port = pod.ports?.[0]?.port ?? 8080;
      return { ...base, image: img('hello-app'), env: [{ name: 'PORT', value: String(port) }] };
    }
    case 'tcp-echo': {
      const ports = (pod.ports ?? [{ port: 9000 }]).map((p) => p.port).join(',');
      return { ...base, image: img('tcp-echo'), args: [ports, 'hello'] };
    }
    default:
      return { ...base, image: img(pod.workload), ...(ports.length ? {} : { ports: [{ containerPort: 9080 }] }) };
  }
}

/** The pod's containers and volumes: its workload, and beside a workload that is not the toolbox, the idle tools container probes run in. */
function podSpecOf(pod: PodSpec, namespace: string, images: Readonly<Record<string, PinnedImage>>): Record<string, unknown> {
  const containers = [workloadContainer(pod, namespace, images)];
  if (pod.workload !== 'toolbox') containers.push({ name: TOOLS_CONTAINER, image: imageRef(images.toolbox!), imagePullPolicy: 'IfNotPresent', command: ['sleep', 'infinity'], securityContext: APP_USER });
  const volumes = pod.workload === 'echo' ? [{ name: ECHO_APP_CONFIGMAP, configMap: { name: ECHO_APP_CONFIGMAP } }] : [];
  return { terminationGracePeriodSeconds: 0, containers, ...(volumes.length ? { volumes } : {}) };
}

/** The container a scenario pod's probes run in (as its user): the toolbox's own, else the tools container beside the workload. */
export function probeContainerOf(pod: Pick<PodSpec, 'workload'> | undefined): string {
  return pod === undefined || pod.workload === 'toolbox' ? APP_CONTAINER : TOOLS_CONTAINER;
}

/** The namespaces of a lab's echo pods: each needs the echo app's ConfigMap. */
export function echoAppNamespaces(lab: LabSpec): string[] {
  return [...new Set(lab.pods.filter((p) => p.workload === 'echo').map((p) => p.namespace ?? 'default'))].sort();
}

/**
 * The objects a scenario's lab needs on kind: its namespaces (labelled for injection), one
 * Deployment per pod (named after the pod; `meshed: false` opts out of injection), and its
 * Services. A pod's fixed `ip` cannot be kept on kind and is ignored.
 */
export function scenarioLabObjects(lab: LabSpec, images: Readonly<Record<string, PinnedImage>>): K8sObject[] {
  const namespaces = new Set<string>();
  const deployments: K8sObject[] = [];
  for (const pod of lab.pods) {
    const ns = pod.namespace ?? 'default';
    namespaces.add(ns);
    const labels = { app: pod.name, ...pod.labels, [POD_LABEL]: pod.name };
    const annotations = {
      ...pod.annotations,
      ...(pod.meshed === false ? { 'sidecar.istio.io/inject': 'false' } : {}),
    };
    deployments.push({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: pod.name, namespace: ns, labels: { app: pod.name } },
      spec: {
        replicas: 1,
        selector: { matchLabels: { [POD_LABEL]: pod.name } },
        template: {
          metadata: { labels, ...(Object.keys(annotations).length ? { annotations } : {}) },
          spec: podSpecOf(pod, ns, images),
        },
      },
    });
  }
  const services: K8sObject[] = (lab.services ?? []).map((s) => {
    const ns = s.namespace ?? 'default';
    namespaces.add(ns);
    return {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: s.name, namespace: ns },
      spec: {
        ...(s.clusterIP === undefined ? {} : { clusterIP: s.clusterIP }),
        selector: s.selector ?? { app: s.name },
        ports: s.ports.map((p) => ({
          port: p.port,
          ...(p.name === undefined ? {} : { name: p.name }),
          ...(p.targetPort === undefined ? {} : { targetPort: p.targetPort }),
          ...(p.appProtocol === undefined ? {} : { appProtocol: p.appProtocol }),
        })),
      },
    };
  });
  const nsObjects: K8sObject[] = [...namespaces].sort().map((name) => ({
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name, labels: { 'istio-injection': 'enabled' } },
  }));
  return [...nsObjects, ...deployments, ...services];
}

/** The resources a scenario's setup applies (inline `apply` steps), in order, with their step index. */
export function scenarioSetupObjects(s: Scenario): Array<{ step: number; object: K8sObject }> {
  const out: Array<{ step: number; object: K8sObject }> = [];
  (s.setup ?? []).forEach((step, i) => {
    if (step.apply) out.push({ step: i, object: step.apply as unknown as K8sObject });
  });
  return out;
}

/** The IstioOperator of the lab with the lab's outbound traffic policy. */
export function istioOperatorFor(base: K8sObject, lab: Pick<LabSpec, 'meshConfig'> | undefined): K8sObject {
  const c = structuredClone(base);
  const mode = lab?.meshConfig?.outboundTrafficPolicy?.mode;
  if (mode) {
    const spec = (c.spec ??= {}) as { meshConfig?: { outboundTrafficPolicy?: { mode?: string } } };
    spec.meshConfig = { ...spec.meshConfig, outboundTrafficPolicy: { mode } };
  }
  return c;
}
