// What runs in each lab host: the app process of a pod (the echo app in one of its roles)
// and the servers of an external host (Debian's real redis-server, or the echo app). Pure:
// it says what to start; the lab starts it.
import type { EchoAppConfig } from './agents/echo-app.ts';
import type { PlannedHost } from './plan.ts';
import type { LabSpec, PodSpec } from '../../scenario/schema.ts';
import { kubeServicePortProtocol, listenerProtocol } from '../../mesh/envoy/service-protocol.ts';
import { APP_UID } from '../../paths/kernel-trace.ts';

/** The uid/gid the application runs as (any uid but the proxy's: istio-init captures it). */
export const APP_USER = { uid: APP_UID, gid: APP_UID } as const;
/** External servers run unprivileged too. */
export const NOBODY = { uid: 65534, gid: 65534 } as const;

const DEFAULT_PORTS: Record<string, EchoAppConfig['ports']> = {
  'hello-app': [{ port: 8080, protocol: 'http' }],
  'tcp-echo': [9000, 9001, 9002].map((port) => ({ port, protocol: 'tcp' as const })),
  productpage: [{ port: 9080, protocol: 'http' }],
  details: [{ port: 9080, protocol: 'http' }],
  'reviews-v1': [{ port: 9080, protocol: 'http' }],
  'reviews-v2': [{ port: 9080, protocol: 'http' }],
  'reviews-v3': [{ port: 9080, protocol: 'http' }],
  ratings: [{ port: 9080, protocol: 'http' }],
  echo: [{ port: 8080, protocol: 'http' }],
  toolbox: [],
};

/** What the echo app serves on a port: TCP where Istio would read the port as TCP (tcp-, redis-, …). */
export function portProtocol(port: number, name: string | undefined): 'http' | 'tcp' {
  return listenerProtocol(kubeServicePortProtocol({ port, ...(name === undefined ? {} : { name }) })) === 'TCP' ? 'tcp' : 'http';
}

export function appConfig(host: PlannedHost): EchoAppConfig | undefined {
  return host.pod ? podAppConfig(host.pod, host.namespace) : undefined;
}

/** The echo app's role in a pod of `namespace` (the kind lab runs the same app in its echo pods). */
export function podAppConfig(pod: PodSpec, namespace: string): EchoAppConfig | undefined {
  const declared = (pod.ports ?? []).filter((p) => p.protocol !== 'UDP').map((p) => ({ port: p.port, protocol: portProtocol(p.port, p.name) }));
  const ports = declared.length > 0 ? declared : (DEFAULT_PORTS[pod.workload] ?? []);
  if (ports.length === 0) return undefined;
  return {
    pod: pod.name,
    namespace,
    workload: pod.workload,
    version: /-(v\d+)$/.exec(pod.workload)?.[1] ?? pod.labels?.version ?? 'v1',
    ports,
  };
}

type ExternalHost = NonNullable<LabSpec['externalHosts']>[number];

/** The echo app's role on some ports of an external host that is not a redis (echo, http, https). */
export function externalAppConfig(ext: ExternalHost, ports: readonly number[] = ext.ports): EchoAppConfig {
  const protocol = ext.server === 'http' ? 'http' : ext.server === 'https' ? 'https' : ext.server === 'mtls' ? 'mtls' : 'tcp';
  return { pod: ext.name, namespace: '', workload: 'echo', version: 'v1', ports: ports.map((port) => ({ port, protocol })) };
}

/** redis-server's arguments for one port of an external redis host (at `notice`, it logs "Ready to accept connections"). */
export function redisServerArgv(ext: ExternalHost, port: number, loglevel: 'warning' | 'notice' = 'warning'): string[] {
  const argv = ['redis-server', '--port', String(port), '--bind', '0.0.0.0', '--protected-mode', 'no', '--save', '', '--appendonly', 'no', '--dir', '/tmp', '--daemonize', 'no', '--loglevel', loglevel];
  if (ext.password !== undefined) argv.push('--requirepass', ext.password);
  return argv;
}

export interface ServerProcess {
  what: string;
  port: number;
  /** argv, or the echo app's config when `agent` is set. */
  argv?: string[];
  agent?: EchoAppConfig;
}

/** The servers of an external host, one process per port. */
export function externalServers(host: PlannedHost): ServerProcess[] {
  const ext = host.external;
  if (!ext) return [];
  return ext.ports.map((port) => (ext.server === 'redis' ? { what: `redis-${port}`, port, argv: redisServerArgv(ext, port) } : { what: `${ext.server}-${port}`, port, agent: externalAppConfig(ext, [port]) }));
}
