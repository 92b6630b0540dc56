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
import { realpathSync } from 'node:fs';
import { isAbsolute, resolve, sep } from 'node:path';
import { dumpUpstreams, replayBootstrap, ReplayError } from '../mesh/envoy/replay.ts';
import { resolveIstioVersion } from '../mesh/iptables/index.ts';
import { CAPTURE_FILES, CaptureLoadError, loadCapture, type LoadedCapture } from './capture.ts';
import { LIMITS, type LabCaptureSchema, type LabSpec } from './schema.ts';
import type { z } from 'zod';

export type LabCaptureRef = z.infer<typeof LabCaptureSchema>;

/** The annotations a capture lab's setup may change, and how the replay applies each to the captured rules. */
export const CAPTURE_ANNOTATIONS = ['traffic.sidecar.istio.io/excludeOutboundPorts'] as const;

/** A capture lab's external network (its gateway address on the lab's bridge): the benchmarking range, which no cluster uses. */
export const CAPTURE_EXTERNAL_CIDR = '198.18.0.0/24';

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

/** The SPIFFE identity a cluster's mTLS checks its peer for (an exact SAN of its tlsMode-istio socket, or of its one TLS socket), if one. */
function clusterIdentity(c: O): string | undefined {
  const text = JSON.stringify(c.transport_socket_matches ?? c.transport_socket ?? {});
  return /"exact":"(spiffe:\/\/[^"]+)"/.exec(text)?.[1];
}

/** A cluster that always speaks TLS upstream (Istio before 1.5: one TLS socket for the cluster, no per-endpoint match). */
const alwaysTls = (c: O): boolean => isObj(c.transport_socket) && JSON.stringify(c.transport_socket).includes('UpstreamTlsContext');

/**
 * The lab hosts a dump's endpoints stand for: one per IPv4 address (not loopback, not in `skip`),
 * with every port its endpoints use; mtls where an endpoint is tlsMode istio in a cluster with an
 * identity, else echo. At most `room` hosts; what is left out is said.
 */
export function capturedUpstreams(captured: unknown, skip: ReadonlySet<string>, taken: ReadonlySet<string>, room: number, wanted: ReadonlySet<string> = new Set()): { hosts: ExternalHost[]; notes: string[] } {
  const notes: string[] = [];
  const dumped = dumpUpstreams(captured);
  const clusters = new Map<string, O>(dumped.clusters.map((c) => [String(c.name), c]));
  const assignments: O[] = [...dumped.endpoints, ...dumped.clusters.flatMap((c) => (isObj(c.load_assignment) ? [c.load_assignment] : []))];
  const byAddress = new Map<string, { ports: Set<number>; name: string; identity?: string; wanted: boolean }>();
  for (const a of assignments) {
    const cluster = clusters.get(String(a.cluster_name));
    const identity = cluster ? clusterIdentity(cluster) : undefined;
    const tlsAlways = cluster !== undefined && alwaysTls(cluster);
    for (const lb of arr(a.endpoints).flatMap((e) => arr(e.lb_endpoints))) {
      const sa = (lb.endpoint as O | undefined)?.address as O | undefined;
      const socket = sa?.socket_address as O | undefined;
      const ip = typeof socket?.address === 'string' ? socket.address : '';
      const port = Number(socket?.port_value);
      if (ip.includes(':')) notes.push(`endpoint ${ip} of ${String(a.cluster_name)}: IPv6, which the lab does not make hosts for`);
      if (!/^\d+\.\d+\.\d+\.\d+$/.test(ip) || ip.startsWith('127.') || ip === '0.0.0.0' || skip.has(ip) || !(port > 0)) continue;
      const md = ((lb.metadata as O | undefined)?.filter_metadata ?? {}) as O;
      const mtls = identity !== undefined && (tlsAlways || (md['envoy.transport_socket_match'] as O | undefined)?.tlsMode === 'istio');
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
  const names = new Set(taken);
  // The endpoints of the Services the probes name first (they are the ones a probe reaches), then by address.
  const order = [...byAddress].sort(([a, x], [b, y]) => Number(y.wanted) - Number(x.wanted) || a.localeCompare(b, 'en', { numeric: true }));
  for (const [ip, at] of order) {
    if (hosts.length >= room) {
      notes.push(`endpoint ${ip} (${at.name}): no lab host, the lab has no room left (${LIMITS.externalHosts} hosts at most)`);
      continue;
    }
    const base = at.name.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 50) || 'upstream';
    let name = base;
    for (let n = 2; names.has(name); n++) name = `${base}-${n}`;
    names.add(name);
    const all = [...at.ports].sort((a, b) => a - b);
    const ports = all.slice(0, LIMITS.portsPerHost);
    if (all.length > ports.length) notes.push(`endpoint ${ip} (${name}): ports ${all.slice(ports.length).join(',')} not served, a host has room for ${LIMITS.portsPerHost}`);
    hosts.push({ name, address: ip, ports, ...(at.identity ? { server: 'mtls' as const, identity: at.identity } : { server: 'echo' as const }) });
  }
  return { hosts, notes };
}

/** The lab a capture reference stands for, or the problems (each with the field it is about). */
export function captureLab(ref: LabCaptureRef, baseDir: string, probeHosts: readonly string[] = []): { lab: LabSpec; capture: LoadedCapture } | { problems: Array<{ field: string; message: string }> } {
  if (isAbsolute(ref.capture)) return { problems: [{ field: 'capture', message: `${ref.capture}: a capture folder is named relative to the scenario's folder` }] };
  const dir = resolve(baseDir, ref.capture);
  // Inside the scenario's folder, links resolved, as every file a scenario names.
  const real = (p: string) => {
    try {
      return realpathSync(p);
    } catch {
      return resolve(p);
    }
  };
  const [base, target] = [real(baseDir), real(dir)];
  if (target !== base && !target.startsWith(`${base}${sep}`)) return { problems: [{ field: 'capture', message: `${ref.capture}: leads out of the scenario's folder (a capture folder goes in it, or beside the scenario as its own folder)` }] };
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
  else if (!/^\d+\.\d+\.\d+\.\d+$/.test(pod.ip)) problems.push({ field: 'capture', message: `${ref.capture}/capture.yaml: pod.ip ${pod.ip} is not IPv4: IPv6 pods are not replayed` });
  const rules = capture.files[CAPTURE_FILES.iptables];
  const uid = rules !== undefined ? capturedProxyUid(rules) : undefined;
  if (uid === 0) problems.push({ field: 'capture', message: `${ref.capture}/${CAPTURE_FILES.iptables}: its rules exempt uid 0 (--uid-owner 0): a replay does not run the captured configuration as root` });
  // The configuration must replay: refused now, saying why, rather than when the lab starts.
  if (capture.configDump !== undefined) {
    try {
      replayBootstrap(capture.configDump, { certificateChain: 'cert.pem', privateKey: 'key.pem', trustedCa: 'ca.pem' });
    } catch (e) {
      if (!(e instanceof ReplayError)) throw e;
      problems.push({ field: 'capture', message: `${ref.capture}/${CAPTURE_FILES.configDump}: cannot be replayed: ${e.message}` });
    }
  }
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(pod.name) || pod.name.length > 63) problems.push({ field: 'capture', message: `${ref.capture}/capture.yaml: pod.name ${JSON.stringify(pod.name)} is not a DNS label` });
  if (problems.length) return { problems };
  const era = captureEra(versions.istio);
  const [a, b, c] = pod.ip!.split('.');
  const own = [...(ref.externalHosts ?? [])];
  // Not a host: the pod, the scenario's own, and the /24's network, gateway and broadcast addresses (the lab's bridge has the gateway).
  const reserved = [0, 1, 255].map((n) => `${a}.${b}.${c}.${n}`);
  const skip = new Set([pod.ip!, ...reserved, ...own.map((h) => h.address), ...(ref.pods ?? []).flatMap((p) => (p.ip ? [p.ip] : []))]);
  const names = new Set([pod.name, ...own.map((h) => h.name), ...(ref.pods ?? []).map((p) => p.name)]);
  const upstreams = capturedUpstreams(capture.configDump, skip, names, LIMITS.externalHosts - own.length, new Set(probeHosts.map((h) => h.split('.')[0]!)));
  const externalHosts = [...own, ...upstreams.hosts];
  const lab: LabSpec = {
    istio: { version: era, ...ref.istio },
    ...(uid !== undefined ? { proxy: { uid } } : {}),
    // The pod network around the pod unless the scenario says otherwise; the external network's gateway out of the way of
    // a cluster's addresses (a capture's hosts are at theirs, wherever they are).
    network: { podCidr: `${a}.${b}.${c}.0/24`, externalCidr: CAPTURE_EXTERNAL_CIDR, ...ref.network },
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
