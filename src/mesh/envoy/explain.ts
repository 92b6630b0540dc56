// The whole predicted path of one connection: the iptables hops (supplied by the caller — the
// iptables engine of issue 3 produces them), then, if the kernel redirected the connection to
// Envoy, the Envoy hops from matchConnection, then where the bytes go and what the client sees.
import type { EnvoyConfig } from './envoy-config.ts';
import { INBOUND_CAPTURE_PORT } from './envoy-config.ts';
import type { Payload } from './first-bytes.ts';
import { formatEnvoyHop } from './format-envoy-path.ts';
import { matchConnection, type EnvoyMatch, type Outcome } from './match-connection.ts';

/** The status lines Envoy writes for the answers it makes itself. */
export const REASON_PHRASES: Record<number, string> = { 400: 'Bad Request', 404: 'Not Found', 502: 'Bad Gateway', 503: 'Service Unavailable' };

export interface IptablesHop {
  /** In the path notation: `nat/OUTPUT#1 -> nat/ISTIO_OUTPUT#9 -> nat/ISTIO_REDIRECT#1 REDIRECT:15001`. */
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
  payload: Payload;
}

export type PathHop =
  | { kind: 'iptables'; text: string; reason: string }
  | { kind: 'envoy'; text: string; listener: string; chain?: string; cluster?: string; reason: string }
  | { kind: 'wire'; text: string; reason: string }
  | { kind: 'app'; text: string; reason: string }
  | { kind: 'reply'; text: string; reason: string };

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
    hops.push({ kind: 'wire', text: `wire iface=eth0 dst=${dst}`, reason: `not redirected (${iptables.effect.reason}): the kernel sends it to ${dst}, Envoy never sees it` });
    return {
      hops,
      listener: null,
      filterChain: null,
      cluster: null,
      outcome: {
        kind: 'passthrough',
        clientSees: `whatever ${dst} answers (no sidecar on the path, no Envoy access log line)`,
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
      text: formatEnvoyHop(h),
      listener: h.listener,
      ...(h.chain !== undefined ? { chain: h.chain } : {}),
      ...(h.cluster !== undefined ? { cluster: h.cluster } : {}),
      reason: h.reason,
    });
  }
  const o = m.outcome;
  const inbound = (iptables.effect.kind === 'redirected' ? iptables.effect.port : direct) === INBOUND_CAPTURE_PORT;
  if (o.upstreamConnection && o.upstream && inbound && o.kind === 'passthrough') {
    hops.push({ kind: 'app', text: `app port=${conn.dst.port}`, reason: `Envoy connects to the app on ${o.upstream} from 127.0.0.6` });
  } else if (o.upstreamConnection && o.upstream) {
    const target = o.kind === 'passthrough' ? `dst=${o.upstream}` : o.upstreamEndpoints?.length === 1 ? `dst=${o.upstreamEndpoints[0]}` : `cluster=${m.cluster}`;
    hops.push({ kind: 'wire', text: `wire iface=eth0 ${target}`, reason: `Envoy (uid 1337) opens a new connection to ${o.upstream}` });
  } else if (o.status !== undefined) {
    hops.push({ kind: 'reply', text: `reply "HTTP/1.1 ${o.status}${REASON_PHRASES[o.status ?? 0] ? ` ${REASON_PHRASES[o.status ?? 0]}` : ''}"`, reason: `${o.clientSees} (response flag ${o.responseFlag})` });
  } else if (o.kind === 'closed') {
    hops.push({ kind: 'reply', text: 'reply closed', reason: `${o.clientSees}${o.responseFlag !== '-' ? ` (response flag ${o.responseFlag})` : ''}` });
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

/** The port of a listener the pod's Envoy binds that the connection reaches without a redirect: to loopback or to the pod's own address. */
function directListenerPort(envoy: EnvoyConfig, conn: ExplainConnection): number | undefined {
  const local = conn.dst.ip.startsWith('127.') || conn.dst.ip === conn.src;
  if (!local) return undefined;
  const bound = (envoy.listeners ?? []).some((l) => l.bindToPort && !l.internal && l.port === conn.dst.port && (l.address === '0.0.0.0' || l.address === '::' || l.address === conn.dst.ip));
  return bound ? conn.dst.port : undefined;
}
