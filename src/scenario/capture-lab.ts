// A scenario's lab from a capture folder (`lab: { capture: DIR }`): the captured pod, as the
// netns lab replays it, and the scenario's own hosts beside it. The pod keeps its captured name,
// namespace, address, labels and annotations; the lab's Istio era is its version's (explain
// reads it; the replay itself runs the captured rules and configuration as they are); its pod
// network is the /24 around its address unless the scenario gives one; the sidecar's uid is the
// one the captured rules exempt (`--uid-owner`), so the replayed Envoy's own connections pass as
// they did. The endpoints the dump's clusters hold (EDS, static load assignments) get a lab host
// each at their address, after the scenario's own hosts: an echo host, or where Istio sends mTLS
// to it (the endpoint's tlsMode istio, the cluster's SAN) an mtls host of that identity. Reads
// the folder through loadCapture's checks.
import { isAbsolute, resolve } from 'node:path';
import { resolveIstioVersion } from '../mesh/iptables/index.ts';
import { CAPTURE_FILES, CaptureLoadError, loadCapture, type LoadedCapture } from './capture.ts';
import { LIMITS, type LabCaptureSchema, type LabSpec } from './schema.ts';
import type { z } from 'zod';

export type LabCaptureRef = z.infer<typeof LabCaptureSchema>;

/** The annotations a capture lab's setup may change, and how the replay applies each to the captured rules. */
export const CAPTURE_ANNOTATIONS = ['traffic.sidecar.istio.io/excludeOutboundPorts'] as const;

/** The era of a captured Istio version ("1.1.1" → 1.2, "1.19.3" → 1.18); one explain cannot place (unknown) reads as current. */
export function captureEra(version: string): LabSpec['istio']['version'] {
  try {
    return resolveIstioVersion(version).era;
  } catch {
    return 'current';
  }
}

/** The uid the captured rules exempt from capture (the sidecar's), if they name one. */
export function capturedProxyUid(rules: string): number | undefined {
  const m = /--uid-owner (\d+)/.exec(rules);
  return m ? Number(m[1]) : undefined;
}

type ExternalHost = NonNullable<LabSpec['externalHosts']>[number];
type O = Record<string, unknown>;
const isObj = (v: unknown): v is O => v !== null && typeof v === 'object' && !Array.isArray(v);
const arr = (v: unknown): O[] => (Array.isArray(v) ? v.filter(isObj) : []);

/** The SPIFFE identity a cluster's mTLS checks its peer for (an exact SAN of its tlsMode-istio socket), if one. */
function clusterIdentity(c: O): string | undefined {
  const text = JSON.stringify(c.transport_socket_matches ?? c.transport_socket ?? {});
  return /"exact":"(spiffe:\/\/[^"]+)"/.exec(text)?.[1];
}

/**
 * The lab hosts a dump's endpoints stand for: one per IPv4 address (not loopback, not in `skip`),
 * with every port its endpoints use; mtls where an endpoint is tlsMode istio in a cluster with an
 * identity, else echo. At most `room` hosts; what is left out is said.
 */
export function capturedUpstreams(dump: unknown, skip: ReadonlySet<string>, taken: ReadonlySet<string>, room: number, wanted: ReadonlySet<string> = new Set()): { hosts: ExternalHost[]; notes: string[] } {
  const configs = arr((dump as O | undefined)?.configs);
  const section = (kind: string) => configs.find((c) => typeof c['@type'] === 'string' && c['@type'].endsWith(kind));
  const clusters = new Map<string, O>();
  const cd = section('ClustersConfigDump');
  for (const x of [...arr(cd?.static_clusters), ...arr(cd?.dynamic_active_clusters)]) if (isObj(x.cluster)) clusters.set(String(x.cluster.name), x.cluster);
  const ed = section('EndpointsConfigDump');
  const assignments = [...arr(ed?.static_endpoint_configs), ...arr(ed?.dynamic_endpoint_configs)].map((x) => x.endpoint_config).filter(isObj);
  for (const c of clusters.values()) if (isObj(c.load_assignment)) assignments.push(c.load_assignment);
  const byAddress = new Map<string, { ports: Set<number>; name: string; identity?: string; wanted: boolean }>();
  for (const a of assignments) {
    const cluster = clusters.get(String(a.cluster_name));
    const identity = cluster ? clusterIdentity(cluster) : undefined;
    for (const lb of arr(a.endpoints).flatMap((e) => arr(e.lb_endpoints))) {
      const sa = (lb.endpoint as O | undefined)?.address as O | undefined;
      const socket = sa?.socket_address as O | undefined;
      const ip = typeof socket?.address === 'string' ? socket.address : '';
      const port = Number(socket?.port_value);
      if (!/^\d+\.\d+\.\d+\.\d+$/.test(ip) || ip.startsWith('127.') || ip === '0.0.0.0' || skip.has(ip) || !(port > 0)) continue;
      const md = ((lb.metadata as O | undefined)?.filter_metadata ?? {}) as O;
      const mtls = (md['envoy.transport_socket_match'] as O | undefined)?.tlsMode === 'istio' && identity !== undefined;
      const workload = typeof (md.istio as O | undefined)?.workload === 'string' ? String((md.istio as O).workload).split(';')[0]! : '';
      const service = /^outbound\|\d+\|[^|]*\|([^.]+)/.exec(String(a.cluster_name))?.[1] ?? 'upstream';
      const at = byAddress.get(ip) ?? { ports: new Set<number>(), name: workload || service, wanted: false };
      at.ports.add(port);
      if (wanted.has(service)) at.wanted = true;
      if (mtls) at.identity = identity;
      byAddress.set(ip, at);
    }
  }
  const hosts: ExternalHost[] = [];
  const notes: string[] = [];
  const names = new Set(taken);
  // The endpoints of the Services the probes name first (they are the ones a probe reaches), then by address.
  const order = [...byAddress].sort(([a, x], [b, y]) => Number(y.wanted) - Number(x.wanted) || a.localeCompare(b, 'en', { numeric: true }));
  for (const [ip, at] of order) {
    if (hosts.length >= room) {
      notes.push(`endpoint ${ip} (${at.name}): no lab host, the lab has room for ${LIMITS.externalHosts} hosts`);
      continue;
    }
    const base = at.name.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 50) || 'upstream';
    let name = base;
    for (let n = 2; names.has(name); n++) name = `${base}-${n}`;
    names.add(name);
    const ports = [...at.ports].sort((a, b) => a - b).slice(0, LIMITS.portsPerHost);
    hosts.push({ name, address: ip, ports, ...(at.identity ? { server: 'mtls' as const, identity: at.identity } : { server: 'echo' as const }) });
  }
  return { hosts, notes };
}

/** The lab a capture reference stands for, or the problems (each with the field it is about). */
export function captureLab(ref: LabCaptureRef, baseDir: string, probeHosts: readonly string[] = []): { lab: LabSpec; capture: LoadedCapture } | { problems: Array<{ field: string; message: string }> } {
  if (isAbsolute(ref.capture)) return { problems: [{ field: 'capture', message: `${ref.capture}: a capture folder is named relative to the scenario's folder` }] };
  const dir = resolve(baseDir, ref.capture);
  let capture: LoadedCapture;
  try {
    capture = loadCapture(dir);
  } catch (e) {
    const problems = e instanceof CaptureLoadError ? e.problems : [(e as Error).message];
    return { problems: problems.map((message) => ({ field: 'capture', message })) };
  }
  const { pod, versions } = capture.manifest;
  const problems: Array<{ field: string; message: string }> = [];
  for (const need of [CAPTURE_FILES.configDump, CAPTURE_FILES.iptables]) {
    if (!capture.files[need]) problems.push({ field: 'capture', message: `${ref.capture}: has no ${need}: a replay needs the sidecar's configuration and the pod's rules` });
  }
  if (!pod.ip) problems.push({ field: 'capture', message: `${ref.capture}/capture.yaml: pod.ip is not set: a replay needs the pod's address (its listeners are named by it)` });
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(pod.name) || pod.name.length > 63) problems.push({ field: 'capture', message: `${ref.capture}/capture.yaml: pod.name ${JSON.stringify(pod.name)} is not a DNS label` });
  if (problems.length) return { problems };
  const era = captureEra(versions.istio);
  const [a, b, c] = pod.ip!.split('.');
  const uid = capturedProxyUid(capture.files[CAPTURE_FILES.iptables]!);
  const own = [...(ref.externalHosts ?? [])];
  const skip = new Set([pod.ip!, ...own.map((h) => h.address), ...(ref.pods ?? []).flatMap((p) => (p.ip ? [p.ip] : []))]);
  const names = new Set([pod.name, ...own.map((h) => h.name), ...(ref.pods ?? []).map((p) => p.name)]);
  const upstreams = capturedUpstreams(capture.configDump, skip, names, LIMITS.externalHosts - own.length, new Set(probeHosts.map((h) => h.split('.')[0]!)));
  const externalHosts = [...own, ...upstreams.hosts];
  const lab: LabSpec = {
    istio: { version: era, ...ref.istio },
    ...(uid !== undefined ? { proxy: { uid } } : {}),
    network: ref.network ?? { podCidr: `${a}.${b}.${c}.0/24` },
    pods: [
      { name: pod.name, namespace: pod.namespace, ip: pod.ip!, meshed: true, workload: 'toolbox', labels: pod.labels, annotations: pod.annotations },
      ...(ref.pods ?? []).map((p) => ({ ...p, meshed: p.meshed ?? false })),
    ],
    ...(ref.services ? { services: ref.services } : {}),
    ...(externalHosts.length ? { externalHosts } : {}),
    capture: dir,
  };
  return { lab, capture };
}
