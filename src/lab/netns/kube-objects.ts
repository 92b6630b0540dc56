// The Kubernetes objects a cluster would hold for the netns lab: its Services (with the VIPs
// the lab gave them), its Pods (IP, labels, annotations, ready; a meshed pod labelled as the
// injector labels it) and, as kube-controller-manager would write them, one EndpointSlice per
// Service. istiod's own code reads them (src/istio/istiod-gen.ts); nothing of Istio's
// conversion is done here. Pure.
import { stringify } from 'yaml';
import type { LabPlan, PlannedHost, PlannedService } from './plan.ts';
import { serviceObject } from './mesh-for-pod.ts';

type Obj = Record<string, unknown>;

/** The Service as the model sees it, with the protocol the API server would default (the fake clientset does not). */
function serviceOf(svc: PlannedService): Obj {
  const o = serviceObject(svc) as { spec: { ports: Obj[] } };
  return { ...o, spec: { ...o.spec, ports: o.spec.ports.map((p) => ({ ...p, protocol: 'TCP' })) } };
}

function podOf(h: PlannedHost, annotations: Record<string, string>): Obj {
  const pod = h.pod!;
  const labels = { ...(pod.labels ?? { app: pod.name }), ...(h.meshed ? { 'security.istio.io/tlsMode': 'istio' } : {}) };
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: pod.name, namespace: h.namespace, labels, annotations },
    // The service account is the pod's name: the lab CA's certificate of the pod says so (lab-ca.ts), and istiod checks peers' SANs against it.
    spec: { serviceAccountName: pod.name, containers: [{ name: 'app', image: 'pathlab/app', ports: (pod.ports ?? []).map((p) => ({ containerPort: p.port, ...(p.name === undefined ? {} : { name: p.name }), protocol: p.protocol ?? 'TCP' })) }] },
    status: { phase: 'Running', podIP: h.ip, podIPs: [{ ip: h.ip }], conditions: [{ type: 'Ready', status: 'True' }] },
  };
}

function sliceOf(svc: PlannedService, hosts: readonly PlannedHost[]): Obj {
  const pods = svc.endpoints.map((name) => hosts.find((h) => h.name === name)).filter((h): h is PlannedHost => h !== undefined);
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: `${svc.name}-pathlab`, namespace: svc.namespace, labels: { 'kubernetes.io/service-name': svc.name } },
    addressType: 'IPv4',
    endpoints: pods.map((h) => ({ addresses: [h.ip], conditions: { ready: true }, targetRef: { kind: 'Pod', name: h.name, namespace: h.namespace } })),
    ports: svc.ports.map((p) => ({ port: p.targetPort, protocol: 'TCP', ...(p.name === undefined ? {} : { name: p.name }), ...(p.appProtocol === undefined ? {} : { appProtocol: p.appProtocol }) })),
  };
}

/** The lab's objects as YAML documents: its Services (`services`, the plan's and those applied since) and every pod. */
export function kubeObjectsYaml(plan: LabPlan, services: readonly PlannedService[], annotations: (pod: string) => Record<string, string>): string {
  const docs: Obj[] = [];
  for (const svc of services) docs.push(serviceOf(svc), ...(svc.externalName === undefined ? [sliceOf(svc, plan.hosts)] : []));
  for (const h of plan.hosts) if (h.kind === 'pod' && h.pod) docs.push(podOf(h, annotations(h.name)));
  return docs.map((d) => stringify(d)).join('---\n');
}
