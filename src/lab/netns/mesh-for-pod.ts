// What the control plane would know when it builds one pod's sidecar config: the lab's
// Services (as Kubernetes Service objects), the resources the scenario applied, the mesh
// config and the pod itself, as the Envoy model's mesh description. Pure.
import type { MeshInput } from '../../mesh/envoy/mesh.ts';
import { resolveIstioVersion } from '../../mesh/iptables/istio-versions.ts';
import type { LabSpec } from '../../scenario/schema.ts';
import type { LabPlan, PlannedHost } from './plan.ts';

/** The listener shapes of the version's era (the behaviour table's envoyEra column). */
export function envoyEra(version: LabSpec['istio']['version']): 'legacy' | 'current' {
  return resolveIstioVersion(version).envoyEra;
}

/** A lab Service as the Kubernetes object the control plane watches. */
export function serviceObject(svc: LabPlan['services'][number]): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: svc.name, namespace: svc.namespace },
    spec: {
      ...(svc.externalName !== undefined ? { type: 'ExternalName', externalName: svc.externalName } : { clusterIP: svc.headless ? 'None' : svc.vip }),
      ports: svc.ports.map((p) => ({
        port: p.port,
        targetPort: p.targetPort,
        ...(p.name === undefined ? {} : { name: p.name }),
        ...(p.appProtocol === undefined ? {} : { appProtocol: p.appProtocol }),
      })),
    },
  };
}

export interface MeshState {
  mode: 'ALLOW_ANY' | 'REGISTRY_ONLY';
  /** Resources applied by the scenario's setup, in order. */
  resources: Array<Record<string, unknown>>;
}

export function meshForPod(spec: LabSpec, plan: LabPlan, host: PlannedHost, state: MeshState): MeshInput {
  const pod = host.pod!;
  return {
    apiVersion: 'pathlab/v1',
    kind: 'Mesh',
    era: envoyEra(spec.istio.version),
    meshConfig: { outboundTrafficPolicy: { mode: state.mode }, rootNamespace: 'istio-system' },
    proxy: {
      name: pod.name,
      namespace: host.namespace,
      ip: host.ip,
      labels: pod.labels ?? { app: pod.name },
      ports: inboundPorts(plan, host),
    },
    // A Service a setup step applied is among the plan's (with the VIP the lab gave it): once.
    resources: [...plan.services.map(serviceObject), ...state.resources.filter((r) => !isPlanned(r, plan))] as MeshInput['resources'],
  };
}

/**
 * The ports the pod's sidecar builds inbound chains for: the target ports of the Services that
 * select it, with the Service port's name and protocol (Istio's service targets). A port the
 * pod declares but no Service does goes to virtualInbound's passthrough chains, as in Istio.
 */
function inboundPorts(plan: LabPlan, host: PlannedHost): Array<{ port: number; name?: string; protocol?: string }> {
  const out = new Map<number, { port: number; name?: string; protocol?: string }>();
  for (const svc of plan.services) {
    if (!svc.endpoints.includes(host.name)) continue;
    for (const p of svc.ports) {
      if (out.has(p.targetPort)) continue;
      out.set(p.targetPort, { port: p.targetPort, ...(p.name === undefined ? {} : { name: p.name }), ...(p.appProtocol === undefined ? {} : { protocol: p.appProtocol }) });
    }
  }
  return [...out.values()];
}

function isPlanned(r: Record<string, unknown>, plan: LabPlan): boolean {
  const md = r.metadata as { name?: string; namespace?: string } | undefined;
  return r.kind === 'Service' && plan.services.some((s) => s.name === md?.name && s.namespace === (md?.namespace ?? 'default'));
}

/** EDS for the model: each Service port's cluster → its endpoints' pod IP:targetPort. */
export function clusterEndpoints(plan: LabPlan, extraServices: LabPlan['services'] = []): Record<string, string[]> {
  const ipOf = new Map(plan.hosts.map((h) => [h.name, h.ip]));
  const out: Record<string, string[]> = {};
  for (const svc of [...plan.services, ...extraServices]) {
    for (const p of svc.ports) {
      const name = `outbound|${p.port}||${svc.name}.${svc.namespace}.svc.cluster.local`;
      out[name] = svc.endpoints.map((e) => ipOf.get(e)).filter((ip): ip is string => ip !== undefined).map((ip) => `${ip}:${p.targetPort}`);
    }
  }
  return out;
}
