// Where the kind backend's evidence comes from, as argument vectors and object specs (pure;
// the same builders make the commands `pathlab run --backend kind` runs and the ones its
// --dry-run prints):
//   - probes: exec in the pod's container (exec-client.ts);
//   - the pod's netfilter rules, kernel traces, conntrack and sockets: through the kind node
//     container, entering the pod's network namespace by the pid of one of its containers
//     (`docker exec <node> nsenter -t <pid> -n -- ...`);
//   - packets: tcpdump in an ephemeral container that shares the pod's network namespace (the
//     node image has no tcpdump);
//   - Envoy: the sidecar's admin API through pilot-agent, and the access log on stdout.
//
// About the proxy uid. Istio's ISTIO_OUTPUT chain returns early for traffic of uid/gid 1337
// (the proxy), so a process in the pod that runs as 1337 is not redirected to 15001; any
// other uid's TCP is. tcpdump itself sends nothing when it resolves nothing (-nn), so the
// capture container does not create traffic for the sidecar to catch; but it needs
// CAP_NET_RAW, which containerd (kind's runtime) leaves effective only for uid 0 (no ambient
// capabilities), so it runs as root and sends nothing. What the evidence itself must send
// (the capture's positive control, a SYN that has to leave the pod) is sent from the node as
// uid/gid 1337 (`nsenter -S 1337 -G 1337`), so ISTIO_OUTPUT lets it bypass the sidecar.
//
// Long-running tools (xtables-monitor, tcpdump) run in the background of the node or the
// capture container, their output in /tmp/pathlab/<key>.out, and are stopped with SIGINT by
// the pid they wrote: stopping a `docker exec` or an exec WebSocket does not stop the process
// it started.
import { traceRuleSpec } from '../../probes/kernel-trace.ts';
import { PROXY_UID } from '../../mesh/iptables/constants.ts';

export const PROXY_CONTAINER = 'istio-proxy';
/** The ephemeral container pathlab adds to a probed pod for tcpdump. */
export const CAPTURE_CONTAINER = 'pathlab-capture';
/** The proxy's uid/gid, as nsenter's -S/-G take them. */
export const PROXY_USER = { uid: PROXY_UID, gid: PROXY_UID } as const;

/** A pid, or a placeholder for one in a printed plan (`<pid of app>`). */
export type Pid = number | `<${string}>`;

function pidText(pid: Pid): string {
  if (typeof pid === 'number') {
    if (!Number.isInteger(pid) || pid <= 0) throw new Error(`not a pid: ${pid}`);
    return String(pid);
  }
  if (!/^<[a-z0-9 ./-]+>$/.test(pid)) throw new Error(`not a pid placeholder: ${pid}`);
  return pid;
}

/** A key names a background process's files: letters, digits, "-" (or a placeholder in a printed plan). */
function checkKey(key: string): string {
  if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(key) && !/^<[a-z ]+>$/.test(key)) throw new Error(`not a background key: "${key}"`);
  return key;
}


/**
 * The ephemeral container (pods/ephemeralcontainers subresource) that captures packets in a
 * pod's network namespace: pod containers share one, so the capture sees the pod's eth0 and
 * lo. It idles; each capture is a background tcpdump started in it through exec.
 */
export function captureContainer(name: string, image: string) {
  return {
    name,
    image,
    command: ['sleep', 'infinity'],
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

/** argv, run on the host, that runs `argv` in the network namespace of pid `pid` on the node (as `user` when given). */
export function inPodNetnsArgv(node: string, pid: Pid, argv: readonly string[], user?: { uid: number; gid: number }): string[] {
  return ['docker', 'exec', node, 'nsenter', '-t', pidText(pid), '-n', ...(user ? ['-S', String(user.uid), '-G', String(user.gid)] : []), '--', ...argv];
}

/** The iptables flavour the pod's rules were written with: traces need nf_tables (xtables-monitor). */
export type IptablesFlavour = 'nft' | 'legacy';

export function iptablesSaveArgv(node: string, pid: Pid, flavour: IptablesFlavour = 'nft'): string[] {
  return inPodNetnsArgv(node, pid, [`iptables-${flavour}-save`]);
}

/** The kernel's trace of the packets `match` selects: a raw-table TRACE rule, xtables-monitor in the background, the rule removed. */
export function kernelTraceArgvs(node: string, pid: Pid, key: string, matches: ReadonlyArray<{ chain: 'OUTPUT' | 'PREROUTING'; proto: string; dst?: string; dport?: number }>) {
  const specs = matches.map((m) => traceRuleSpec(m.chain, m));
  return {
    add: specs.map((s) => inPodNetnsArgv(node, pid, ['iptables-nft', ...s.insert])),
    start: nodeBackground(node, backgroundStartArgv(key, ['nsenter', '-t', pidText(pid), '-n', '--', 'xtables-monitor', '--trace'])),
    /** nft rule handles → positions (kernel-trace.ts handlePositions). */
    listings: ['raw', 'mangle', 'nat', 'filter'].map((table) => ({ table, argv: inPodNetnsArgv(node, pid, ['nft', '-a', 'list', 'table', 'ip', table]) })),
    stop: nodeBackground(node, backgroundStopArgv(key)),
    remove: specs.map((s) => inPodNetnsArgv(node, pid, ['iptables-nft', ...s.remove])),
  };
}

/** One SYN to ip:port from the pod's network namespace, sent by the proxy uid (bash's /dev/tcp: the node image has no nc). */
export function controlSynArgv(node: string, pid: Pid, ip: string, port: number): string[] {
  return inPodNetnsArgv(node, pid, controlSynCommand(ip, port), PROXY_USER);
}

/** The positive control's connection attempt itself, run in the pod's network namespace as the proxy uid. */
export function controlSynCommand(ip: string, port: number): string[] {
  return ['timeout', '1', 'bash', '-c', 'exec 3<>"/dev/tcp/$0/$1"', ip, String(port)];
}

const START = 'mkdir -p /tmp/pathlab && k=$1 && shift && { "$@" >"/tmp/pathlab/$k.out" 2>&1 & echo $! >"/tmp/pathlab/$k.pid"; }';
const READY = 'grep -q -- "$2" "/tmp/pathlab/$1.out"';
// A background job of a non-interactive sh starts with SIGINT ignored, and xtables-monitor sets
// no handler of its own: SIGINT lets tcpdump flush and end, SIGTERM then ends what is left.
const STOP =
  'k=$1; p=$(cat "/tmp/pathlab/$k.pid"); kill -INT "$p" 2>/dev/null; i=0; ' +
  'while kill -0 "$p" 2>/dev/null && [ $i -lt 5 ]; do sleep 0.1; i=$((i+1)); done; ' +
  'kill -TERM "$p" 2>/dev/null; i=0; while kill -0 "$p" 2>/dev/null && [ $i -lt 10 ]; do sleep 0.1; i=$((i+1)); done; ' +
  'cat "/tmp/pathlab/$k.out"; rm -f "/tmp/pathlab/$k.pid" "/tmp/pathlab/$k.out"';

/** sh argv that starts `argv` in the background, its output in /tmp/pathlab/<key>.out. */
export function backgroundStartArgv(key: string, argv: readonly string[]): string[] {
  return ['sh', '-c', START, 'sh', checkKey(key), ...argv];
}
/** sh argv that succeeds once the background output contains `text`. */
export function backgroundReadyArgv(key: string, text: string): string[] {
  return ['sh', '-c', READY, 'sh', checkKey(key), text];
}
/** sh argv that stops the background process (SIGINT, so tcpdump flushes; SIGTERM for what ignores it) and prints its output. */
export function backgroundStopArgv(key: string): string[] {
  return ['sh', '-c', STOP, 'sh', checkKey(key)];
}
/** The file a background job writes beside its output (tcpdump -w: the full pcap of a failed probe's evidence bundle). */
export function backgroundFilePath(key: string, ext: 'pcap'): string {
  return `/tmp/pathlab/${checkKey(key)}.${ext}`;
}
const TAKE = 'f="/tmp/pathlab/$1.$2"; base64 "$f"; s=$?; rm -f "$f"; exit $s';
/** sh argv that prints that file in base64 (the exec API's answer is text) and removes it. */
export function backgroundFileArgv(key: string, ext: 'pcap'): string[] {
  return ['sh', '-c', TAKE, 'sh', checkKey(key), ext];
}
const DROP = 'rm -f "/tmp/pathlab/$1.$2"';
/** sh argv that removes that file unread (a passing or cancelled probe keeps no pcap: it is not brought over first). */
export function backgroundDropArgv(key: string, ext: 'pcap'): string[] {
  return ['sh', '-c', DROP, 'sh', checkKey(key), ext];
}
/** The same, run in the kind node container from the host. */
export function nodeBackground(node: string, shArgv: readonly string[]): string[] {
  return ['docker', 'exec', node, ...shArgv];
}
