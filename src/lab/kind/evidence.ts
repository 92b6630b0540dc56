// Where the kind backend's evidence comes from, as argument vectors and object specs (pure):
//   - probes: exec in the app or toolbox container (exec-client.ts);
//   - packets: tcpdump in an ephemeral debug container that shares the pod's network namespace;
//   - the pod's netfilter rules and kernel traces: through the kind node container, entering
//     the pod's network namespace by the pid of one of its containers (nsenter -t <pid> -n);
//   - Envoy: the sidecar's admin API through pilot-agent, and the access log on stdout.
//
// About the proxy uid. Istio's ISTIO_OUTPUT chain returns early for traffic of uid/gid 1337
// (the proxy), so a process in the pod that runs as 1337 is not redirected to 15001; any
// other uid's TCP is. tcpdump itself sends nothing when it resolves nothing (-nn), so the
// capture container does not create traffic for the sidecar to catch; but it needs
// CAP_NET_RAW, which containerd (kind's runtime) leaves effective only for uid 0 (no ambient
// capabilities), so it runs as root. Anything the debug container SENDS (a DNS lookup, a
// helper connection) must run as 1337 (`asProxyUid`) or the sidecar captures it and the
// evidence shows the debug container's own traffic.
import { ISTIO_PROXY_UID } from './kind-constants.ts';

export const PROXY_CONTAINER = 'istio-proxy';

/** argv that runs `argv` as the proxy uid/gid, so ISTIO_OUTPUT lets it bypass the sidecar. */
export function asProxyUid(argv: readonly string[]): string[] {
  return ['setpriv', `--reuid=${ISTIO_PROXY_UID}`, `--regid=${ISTIO_PROXY_UID}`, '--clear-groups', '--', ...argv];
}

/** tcpdump as the netns backend runs it: no name lookups, epoch times, line-buffered. */
export function tcpdumpArgv(iface: string, filter: string, opts: { count?: number } = {}): string[] {
  return ['tcpdump', '-nn', '-tt', '-l', '-i', iface, ...(opts.count ? ['-c', String(opts.count)] : []), filter];
}

/**
 * The ephemeral container (pods/ephemeralcontainers subresource) that captures packets in a
 * pod's network namespace: pod containers share one, so `targetContainerName` is only for
 * the process namespace; the capture sees eth0 and lo of the pod.
 */
export function captureContainer(name: string, image: string, argv: readonly string[]) {
  return {
    name,
    image,
    command: [...argv],
    stdin: false,
    tty: false,
    securityContext: {
      runAsUser: 0,
      runAsNonRoot: false,
      capabilities: { add: ['NET_RAW', 'NET_ADMIN'] },
    },
  };
}

/** Envoy admin through pilot-agent in the sidecar (admin listens on 127.0.0.1:15000 only). */
export function envoyAdminArgv(path: 'config_dump' | 'stats' | 'listeners' | 'clusters' | 'server_info' | string): string[] {
  return ['pilot-agent', 'request', 'GET', path];
}

/** The container id of a pod's container as kubelet reports it (`containerd://<id>`) without the scheme. */
export function containerIdOf(statusContainerId: string): string {
  const m = /^[a-z]+:\/\/([0-9a-f]{12,64})$/.exec(statusContainerId);
  if (!m) throw new Error(`not a container id: "${statusContainerId}"`);
  return m[1]!;
}

/** argv, run on the host, that prints the pid of a container inside the kind node. */
export function nodeContainerPidArgv(node: string, containerId: string): string[] {
  return ['docker', 'exec', node, 'crictl', 'inspect', '--output', 'go-template', '--template', '{{.info.pid}}', containerId];
}

/** argv, run on the host, that runs `argv` in the network namespace of pid `pid` on the node. */
export function inPodNetnsArgv(node: string, pid: number, argv: readonly string[]): string[] {
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`not a pid: ${pid}`);
  return ['docker', 'exec', node, 'nsenter', '-t', String(pid), '-n', '--', ...argv];
}

/** The pod's rules as iptables-save prints them (the input of src/mesh/iptables parse). */
export function iptablesSaveArgv(node: string, pid: number): string[] {
  return inPodNetnsArgv(node, pid, ['iptables-save']);
}

/**
 * A kernel trace of one connection: a raw-table TRACE rule for it in the pod's namespace,
 * xtables-monitor --trace while the probe runs, and the rule removed afterwards.
 */
export function kernelTracePlan(node: string, pid: number, match: { dst: string; dport: number }) {
  const rule = ['-p', 'tcp', '-d', match.dst, '--dport', String(match.dport), '-j', 'TRACE'];
  return {
    add: inPodNetnsArgv(node, pid, ['iptables', '-t', 'raw', '-I', 'OUTPUT', '1', ...rule]),
    monitor: inPodNetnsArgv(node, pid, ['xtables-monitor', '--trace']),
    remove: inPodNetnsArgv(node, pid, ['iptables', '-t', 'raw', '-D', 'OUTPUT', ...rule]),
  };
}

/** `kubectl logs` of the sidecar since a time: the access log lines of a probe. */
export function accessLogArgv(context: string, namespace: string, pod: string, sinceTime: string): string[] {
  return ['kubectl', '--context', context, '-n', namespace, 'logs', pod, '-c', PROXY_CONTAINER, `--since-time=${sinceTime}`];
}
