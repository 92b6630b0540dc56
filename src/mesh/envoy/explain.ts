// The whole predicted path of one connection: the iptables hops (supplied by the caller — the
// iptables engine of issue 3 produces them), then, if the kernel redirected the connection to
// Envoy, the Envoy hops from matchConnection, then where the bytes go and what the client sees.
// The hops are data, each with its reason; the path notation is written from them by
// paths/predict.ts (explainedHop) with paths/hop.ts formatHop, the one writer of hops.
import type { EnvoyConfig } from './envoy-config.ts';
import { INBOUND_CAPTURE_PORT } from './envoy-config.ts';
import type { Payload } from './first-bytes.ts';
import { matchConnection, type EnvoyMatch, type Outcome } from './match-connection.ts';

/** The status lines Envoy writes for the answers it makes itself. */
export const REASON_PHRASES: Record<number, string> = { 400: 'Bad Request', 404: 'Not Found', 502: 'Bad Gateway', 503: 'Service Unavailable' };

export interface IptablesHop {
  /** The hop in the path notation, as paths/kernel-trace.ts writes it: `iptables nat/OUTPUT#1 -> nat/ISTIO_OUTPUT#9 -> nat/ISTIO_REDIRECT#1 REDIRECT:15001`. */
  text: string;
  reason: string;
}

/** What netfilter did with the connection's first packet. */
export type IptablesEffect =
  | { kind: 'redirected'; port: number }
  | { kind: 'not-redirected'; reason: string };

export interface IptablesTrace {
  hops: IptablesHop[];
  effect: IptablesEffect;
}

export interface ExplainConnection {
  src: string;
  srcPort?: number;
  dst: { ip: string; port: number };
  uid?: number;
  /** The pod's own address when it is not `src` (a connection to it stays in the pod, as one to `src` does). */
  podIp?: string;
  payload: Payload;
}

/** An address and port a connection goes to. */
export interface Endpoint {
  ip: string;
  port: number;
}

export type PathHop =
  | { kind: 'iptables'; text: string; reason: string }
  | { kind: 'envoy'; listener: string; chain?: string; cluster?: string; reason: string }
  /** The connection leaves the pod on eth0: to `dst` when one address is known, else only that it leaves. */
  | { kind: 'wire'; dst?: Endpoint; reason: string }
  /** Envoy hands the inbound connection to the application on this port. */
  | { kind: 'app'; port: number; reason: string }
  /** What the client reads: the status line Envoy answers with, or nothing before the connection closes. */
  | { kind: 'reply'; statusLine: string; reason: string }
  | { kind: 'reply'; closed: true; reason: string };

export interface Explanation {
  hops: PathHop[];
  listener: string | null;
  filterChain: string | null;
  cluster: string | null;
  route?: EnvoyMatch['route'];
  outcome: Outcome;
}

/**
 * Explains a connection: `iptables` is the kernel's part (hops and effect), `envoy` the sidecar's
 * configuration (parsed config_dump or a synthesized one).
 */
export function explain(iptables: IptablesTrace, envoy: EnvoyConfig, conn: ExplainConnection): Explanation {
  const hops: PathHop[] = iptables.hops.map((h) => ({ kind: 'iptables', ...h }));
  const dst = `${conn.dst.ip}:${conn.dst.port}`;
  // Not redirected, but to a port the pod's own Envoy listens on (the app dialing 127.0.0.1:15001):
  // Envoy takes it on that listener, with its own address as the original destination.
  const direct = iptables.effect.kind === 'not-redirected' ? directListenerPort(envoy, conn) : undefined;
  if (iptables.effect.kind === 'not-redirected' && direct === undefined) {
    // A connection a process of the pod makes to a loopback address or to the pod's own never
    // reaches eth0: the kernel delivers it on lo. One arriving from elsewhere came in on eth0.
    const local = !arriving(conn) && staysInPod(conn.dst.ip, conn);
    if (!local) hops.push({ kind: 'wire', dst: conn.dst, reason: `not redirected (${iptables.effect.reason}): the kernel sends it to ${dst}, Envoy never sees it` });
    return {
      hops,
      listener: null,
      filterChain: null,
      cluster: null,
      outcome: {
        kind: 'passthrough',
        clientSees: `whatever ${dst} answers (${local ? 'inside the pod, over lo; ' : ''}no sidecar on the path, no Envoy access log line)`,
        upstreamConnection: true,
        upstream: dst,
        responseFlag: '-',
      },
    };
  }
  const m = matchConnection(envoy, {
    src: conn.src,
    ...(conn.srcPort !== undefined ? { srcPort: conn.srcPort } : {}),
    dst: conn.dst,
    capturePort: iptables.effect.kind === 'redirected' ? iptables.effect.port : direct!,
    payload: conn.payload,
  });
  for (const h of m.hops) {
    hops.push({
      kind: 'envoy',
      listener: h.listener,
      ...(h.chain !== undefined ? { chain: h.chain } : {}),
      ...(h.cluster !== undefined ? { cluster: h.cluster } : {}),
      reason: h.reason,
    });
  }
  const o = m.outcome;
  const inbound = (iptables.effect.kind === 'redirected' ? iptables.effect.port : direct) === INBOUND_CAPTURE_PORT;
  if (o.upstreamConnection && o.upstream && inbound) {
    hops.push({ kind: 'app', port: conn.dst.port, reason: `Envoy connects to the app on ${o.upstream}${o.kind === 'passthrough' ? ' from 127.0.0.6' : ''}` });
  } else if (o.upstreamConnection && o.upstream) {
    // Where Envoy's upstream connection goes: the original destination, or the cluster's endpoints.
    // Only an upstream outside the pod is on eth0; one endpoint names the hop's address.
    const to = o.kind === 'passthrough' ? [conn.dst] : o.upstreamEndpoints?.map(endpointOf);
    const reason = `Envoy (uid 1337) opens a new connection to ${o.upstream}`;
    if (to === undefined || to.length === 0 || to.some((e) => e === undefined)) hops.push({ kind: 'wire', reason });
    else if (!to.some((e) => staysInPod(e!.ip, conn))) hops.push(to.length === 1 ? { kind: 'wire', dst: to[0]!, reason } : { kind: 'wire', reason });
  } else if (o.status !== undefined) {
    hops.push({ kind: 'reply', statusLine: `HTTP/1.1 ${o.status}${REASON_PHRASES[o.status] ? ` ${REASON_PHRASES[o.status]}` : ''}`, reason: `${o.clientSees} (response flag ${o.responseFlag})` });
  } else if (o.kind === 'closed') {
    hops.push({ kind: 'reply', closed: true, reason: `${o.clientSees}${o.responseFlag !== '-' ? ` (response flag ${o.responseFlag})` : ''}` });
  }
  return {
    hops,
    listener: m.listener,
    filterChain: m.filterChain,
    cluster: m.cluster,
    ...(m.route ? { route: m.route } : {}),
    outcome: o,
  };
}

const loopback = (ip: string) => ip.startsWith('127.') || ip === '::1';

/** Whether a connection from the pod to `ip` stays in it: a loopback address, or the pod's own (the kernel delivers both on lo). */
function staysInPod(ip: string, conn: ExplainConnection): boolean {
  return loopback(ip) || ip === conn.src || ip === conn.podIp;
}

/** A connection arriving at the pod from another host (the kernel's PREROUTING), not one a process in the pod makes. */
export function arriving(conn: Pick<ExplainConnection, 'src' | 'dst' | 'podIp'>): boolean {
  return conn.podIp !== undefined && conn.dst.ip === conn.podIp && conn.src !== conn.podIp && !loopback(conn.src);
}

/** `10.64.0.20:8080` (or an IPv6 address and port, as Envoy's config_dump writes endpoints) as an endpoint; undefined for what is not one (an internal address). */
function endpointOf(text: string): Endpoint | undefined {
  const m = /^(\d{1,3}(?:\.\d{1,3}){3}|\[?[0-9a-fA-F:]*:[0-9a-fA-F:.]*\]?):(\d{1,5})$/.exec(text);
  return m ? { ip: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) } : undefined;
}

/** The port of a listener the pod's Envoy binds that the connection reaches without a redirect: to loopback or to the pod's own address. */
function directListenerPort(envoy: EnvoyConfig, conn: ExplainConnection): number | undefined {
  if (arriving(conn) || !staysInPod(conn.dst.ip, conn)) return undefined;
  const bound = (envoy.listeners ?? []).some((l) => l.bindToPort && !l.internal && l.port === conn.dst.port && (l.address === '0.0.0.0' || l.address === '::' || l.address === conn.dst.ip));
  return bound ? conn.dst.port : undefined;
}
