// The kernel's part of a predicted path: a connection traced through a pod's rules (an
// iptables-save of the pod, or the rules istio-init renders for an Istio version and the
// pod's annotations), in the shape `explain` takes. Pure.
import type { IptablesTrace } from '../mesh/envoy/explain.ts';
import {
  configFromFlags,
  flagsFromAnnotations,
  formatTracePath,
  formatTraceText,
  loadRuleSet,
  parseIptablesSave,
  renderIstioIptables,
  resolveIstioVersion,
  traceConnection,
  type LoadedTables,
  type RuleSet,
} from '../mesh/iptables/index.ts';

/** The uid a pod's application runs as in the lab (istio-init captures every uid but the proxy's). */
export const APP_UID = 1000;

export interface KernelConnection {
  src: string;
  dst: { ip: string; port: number };
  /** The pod whose rules apply; a destination equal to it is inbound. */
  podIp?: string;
  uid?: number;
  gid?: number;
  proto?: 'tcp' | 'udp';
}

/** Rules istio-init would install for these annotations on this Istio version (IPv4 payload). */
export function istioInitRules(
  version: string,
  annotations: Record<string, string> = {},
  proxy: { uid?: number; gid?: number } = {},
  containerPorts: number[] = [],
): { payload: string; tables: LoadedTables; flags: string[] } {
  const flags = resolveIstioVersion(version).era === '1.2' ? injector12Flags(annotations, containerPorts) : flagsFromAnnotations(annotations);
  if (proxy.uid !== undefined) setFlag(flags, '-u', String(proxy.uid));
  if (proxy.gid !== undefined) setFlag(flags, '-g', String(proxy.gid));
  const rendered = renderIstioIptables(configFromFlags(flags), version);
  const payload = rendered.ipv4.payload;
  return { payload, tables: loadRuleSet(parseIptablesSave(payload)), flags };
}

/**
 * Istio 1.2's injector (seed 004): `-p 15001 -u 1337 -m REDIRECT -i '*' -x "" -b <ports> -d 15020`,
 * where the inbound ports default to the pod's container ports, not `*`, and there is no `-z`.
 */
function injector12Flags(annotations: Record<string, string>, containerPorts: number[]): string[] {
  const a = (k: string) => annotations[`traffic.sidecar.istio.io/${k}`];
  const excludes = [...(a('excludeInboundPorts') ?? '').split(',').filter(Boolean), '15020'];
  const flags = [
    '-p', '15001', '-u', '1337', '-m', annotations['sidecar.istio.io/interceptionMode'] ?? 'REDIRECT',
    '-i', a('includeOutboundIPRanges') ?? '*', '-x', a('excludeOutboundIPRanges') ?? '',
    '-b', a('includeInboundPorts') ?? containerPorts.join(','), '-d', [...new Set(excludes)].join(','),
  ];
  if (a('excludeOutboundPorts')) flags.push('-o', a('excludeOutboundPorts')!);
  return flags;
}

function setFlag(flags: string[], flag: string, value: string): void {
  const i = flags.indexOf(flag);
  if (i >= 0) flags[i + 1] = value;
  else flags.push(flag, value);
}

/** Whether the connection arrives at the pod (PREROUTING) or leaves a process in it (OUTPUT). */
export function directionOf(conn: KernelConnection): 'in' | 'out' {
  const local = conn.src.startsWith('127.') || conn.src === conn.podIp;
  return conn.podIp !== undefined && conn.dst.ip === conn.podIp && !local ? 'in' : 'out';
}

/** Traces the connection's first packet through `rules` and says whether it reaches Envoy. */
export function kernelTrace(rules: RuleSet | LoadedTables, conn: KernelConnection): IptablesTrace {
  const direction = directionOf(conn);
  const viaLo = conn.dst.ip.startsWith('127.') || conn.dst.ip === conn.podIp;
  const uid = conn.uid ?? APP_UID;
  const trace = traceConnection(rules, {
    direction,
    proto: conn.proto ?? 'tcp',
    src: conn.src,
    dst: conn.dst.ip,
    dport: conn.dst.port,
    ...(direction === 'out' ? { uid, gid: conn.gid ?? uid, oif: viaLo ? 'lo' : 'eth0' } : { iif: 'eth0' }),
  });
  const path = trace.hops.length > 0 ? formatTracePath(trace) : '';
  const text = formatTraceText(trace);
  const port = trace.effect.redirectPort ?? trace.effect.tproxyPort;
  const who = direction === 'out' ? `a process of uid ${uid}` : `a connection arriving on eth0`;
  if (port !== undefined) {
    return {
      hops: [{ text: `iptables ${path}`, reason: `${who} to ${conn.dst.ip}:${conn.dst.port}: ${text}` }],
      effect: { kind: 'redirected', port },
    };
  }
  const last = trace.hops.at(-1);
  const why = last ? `${last.chain}#${last.rule} ${last.target}` : `no rule matched (policy ${trace.effect.verdict})`;
  return {
    hops: path ? [{ text: `iptables ${path}`, reason: `${who} to ${conn.dst.ip}:${conn.dst.port}: ${text}; not redirected` }] : [],
    effect: { kind: 'not-redirected', reason: why },
  };
}
