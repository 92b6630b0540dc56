// Envoy access log lines in Istio's default TEXT format (meshConfig.accessLogFile with no
// accessLogFormat), parsed into fields. Istio's default format string is:
//   [%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%"
//   %RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS%
//   "%UPSTREAM_TRANSPORT_FAILURE_REASON%" %BYTES_RECEIVED% %BYTES_SENT% %DURATION%
//   %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%"
//   "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER%
//   %UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS%
//   %REQUESTED_SERVER_NAME% %ROUTE_NAME%
// (Istio ≥1.25 writes %UPSTREAM_CLUSTER_RAW% in place of %UPSTREAM_CLUSTER%: the same field.)
// A TCP connection (tcp_proxy) logs "- - -" and response code 0. "-" means "not set": it
// becomes undefined here.
//
// The labs append one field, %FILTER_CHAIN_NAME% (labs/kind-istio/istio-operator.yaml, the netns lab's Envoys):
// Envoy has no listener-name operator (1.38 refuses %LISTENER_NAME%), but the filter chain's name (PassthroughFilterChain,
// virtualOutbound-catchall-tcp, ...) is what tells a hand-off from a catch-all. Lines with 22
// fields (Istio's default) and 23 (the lab's) both parse.
import type { EnvoyConfig } from '../mesh/envoy/envoy-config.ts';
import { findListenerForOriginalDst, receivingListener } from '../mesh/envoy/match-connection.ts';
import type { AccessLogLine } from './observe.ts';

/** The operators of the lab's access log format, in order (Istio's default, then the chain). */
export const LAB_ACCESS_LOG_FIELDS = [
  'START_TIME', 'REQ(:METHOD) REQ(X-ENVOY-ORIGINAL-PATH?:PATH) PROTOCOL', 'RESPONSE_CODE', 'RESPONSE_FLAGS', 'RESPONSE_CODE_DETAILS',
  'CONNECTION_TERMINATION_DETAILS', 'UPSTREAM_TRANSPORT_FAILURE_REASON', 'BYTES_RECEIVED', 'BYTES_SENT', 'DURATION',
  'RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)', 'REQ(X-FORWARDED-FOR)', 'REQ(USER-AGENT)', 'REQ(X-REQUEST-ID)', 'REQ(:AUTHORITY)', 'UPSTREAM_HOST',
  'UPSTREAM_CLUSTER_RAW', 'UPSTREAM_LOCAL_ADDRESS', 'DOWNSTREAM_LOCAL_ADDRESS', 'DOWNSTREAM_REMOTE_ADDRESS', 'REQUESTED_SERVER_NAME', 'ROUTE_NAME',
  'FILTER_CHAIN_NAME',
] as const;

/**
 * The lab's format string (both backends): Istio's default TEXT format, %FILTER_CHAIN_NAME%
 * appended. The kind lab's IstioOperator carries the same string (a test holds them equal).
 */
export const LAB_ACCESS_LOG_FORMAT =
  '[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% %RESPONSE_FLAGS% ' +
  '%RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS% "%UPSTREAM_TRANSPORT_FAILURE_REASON%" %BYTES_RECEIVED% ' +
  '%BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" ' +
  '"%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER_RAW% %UPSTREAM_LOCAL_ADDRESS% ' +
  '%DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME% %ROUTE_NAME% %FILTER_CHAIN_NAME%';

export interface AccessLogEntry {
  startTime: string;
  /** undefined for TCP (tcp_proxy) lines. */
  method?: string;
  path?: string;
  protocol?: string;
  /** 0 for TCP. */
  responseCode: number;
  /** Envoy's response flags, e.g. ["UH"], ["NR"], ["UF","URX"]; [] when none. */
  responseFlags: string[];
  responseCodeDetails?: string;
  connectionTerminationDetails?: string;
  upstreamTransportFailureReason?: string;
  bytesReceived: number;
  bytesSent: number;
  durationMs?: number;
  upstreamServiceTimeMs?: number;
  xForwardedFor?: string;
  userAgent?: string;
  requestId?: string;
  authority?: string;
  upstreamHost?: string;
  /** e.g. outbound|8000||httpbin.foo.svc.cluster.local, PassthroughCluster, BlackHoleCluster. */
  upstreamCluster?: string;
  upstreamLocalAddress?: string;
  downstreamLocalAddress?: string;
  downstreamRemoteAddress?: string;
  requestedServerName?: string;
  routeName?: string;
  /** The lab's extra field: the network filter chain that took the connection. */
  filterChainName?: string;
}

/** A line split into its fields: "quoted", [bracketed] and bare. */
export function accessLogTokens(line: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < line.length) {
    if (line[i] === ' ') {
      i++;
      continue;
    }
    if (line[i] === '"') {
      const end = line.indexOf('"', i + 1);
      if (end < 0) throw new Error(`unclosed quote at column ${i + 1}`);
      out.push(line.slice(i + 1, end));
      i = end + 1;
    } else if (line[i] === '[') {
      const end = line.indexOf(']', i + 1);
      if (end < 0) throw new Error(`unclosed [ at column ${i + 1}`);
      out.push(line.slice(i + 1, end));
      i = end + 1;
    } else {
      let end = line.indexOf(' ', i);
      if (end < 0) end = line.length;
      out.push(line.slice(i, end));
      i = end;
    }
  }
  return out;
}

const opt = (s: string | undefined) => (s === undefined || s === '-' ? undefined : s);
const num = (s: string | undefined) => (opt(s) === undefined ? undefined : Number(s));

/** Parses one line; throws on a line that is not in Istio's default format. */
export function parseAccessLogLine(line: string): AccessLogEntry {
  const t = accessLogTokens(line.trimEnd());
  if (t.length !== 22 && t.length !== 23) throw new Error(`not an Istio default access log line: ${t.length} fields, expected 22 (or 23 with the filter chain)`);
  const [start, request, code, flags, details, term, utfr, rx, tx, dur, ust, xff, ua, rid, auth, uhost, ucluster, ula, dla, dra, sni, route, chain] = t;
  if (!/^\d{4}-\d\d-\d\dT/.test(start ?? '')) throw new Error(`not an Istio default access log line: no [START_TIME] first`);
  const [method, path, protocol] = (request ?? '').split(' ');
  const e: AccessLogEntry = {
    startTime: start!,
    responseCode: Number(code),
    responseFlags: opt(flags)?.split(',') ?? [],
    bytesReceived: Number(rx),
    bytesSent: Number(tx),
  };
  const set = <K extends keyof AccessLogEntry>(k: K, v: AccessLogEntry[K] | undefined) => {
    if (v !== undefined) e[k] = v;
  };
  set('method', opt(method));
  set('path', opt(path));
  set('protocol', opt(protocol));
  set('responseCodeDetails', opt(details));
  set('connectionTerminationDetails', opt(term));
  set('upstreamTransportFailureReason', opt(utfr));
  set('durationMs', num(dur));
  set('upstreamServiceTimeMs', num(ust));
  set('xForwardedFor', opt(xff));
  set('userAgent', opt(ua));
  set('requestId', opt(rid));
  set('authority', opt(auth));
  set('upstreamHost', opt(uhost));
  set('upstreamCluster', opt(ucluster));
  set('upstreamLocalAddress', opt(ula));
  set('downstreamLocalAddress', opt(dla));
  set('downstreamRemoteAddress', opt(dra));
  set('requestedServerName', opt(sni));
  set('routeName', opt(route));
  set('filterChainName', opt(chain));
  if (Number.isNaN(e.responseCode) || Number.isNaN(e.bytesReceived) || Number.isNaN(e.bytesSent)) throw new Error('not an Istio default access log line: a number field is not a number');
  return e;
}

function hostPort(s: string | undefined): { ip: string; port: number } | undefined {
  const m = s === undefined ? null : /^\[?([^\]]+?)\]?:(\d+)$/.exec(s);
  return m ? { ip: m[1]!, port: Number(m[2]) } : undefined;
}

/**
 * A sidecar's access log entry in the runner's terms (paths/observe.ts), with the listener
 * named. Envoy logs no listener name; the listener is the one Envoy itself hands the
 * connection to: the listener that received it (bound to the capture port), or, for an
 * outbound connection, the listener its original destination (%DOWNSTREAM_LOCAL_ADDRESS%)
 * selects by use_original_dst in `config`, the sidecar's own config_dump.
 */
export function accessLogLineOf(e: AccessLogEntry, config: EnvoyConfig, capturePort: number): AccessLogLine {
  const receiving = receivingListener(config.listeners ?? [], capturePort);
  const dst = hostPort(e.downstreamLocalAddress);
  const handedTo = receiving?.useOriginalDst && dst && capturePort !== 15006 ? findListenerForOriginalDst(config.listeners ?? [], dst, receiving)?.listener : undefined;
  const line: AccessLogLine = {
    listener: (handedTo ?? receiving)?.name ?? null,
    filter_chain: e.filterChainName ?? null,
    response_flags: e.responseFlags.length ? e.responseFlags.join(',') : '-',
    response_code: e.responseCode,
  };
  if (receiving && capturePort !== 15006) line.receiving = receiving.name;
  if (e.upstreamCluster !== undefined) line.upstream_cluster = e.upstreamCluster;
  line.upstream_host = e.upstreamHost ?? '-';
  if (e.downstreamLocalAddress !== undefined) line.downstream_local_address = e.downstreamLocalAddress;
  if (e.routeName !== undefined) line.route_name = e.routeName;
  return line;
}

/**
 * Which capture port took a logged connection, when one log holds both directions (kind's
 * istio-proxy stdout): inbound when its cluster or chain is virtualInbound's (Istio before 1.20
 * named the cluster InboundPassthroughClusterIpv4), or, for a line with neither (a connection no
 * chain took, NR), when it was addressed to the pod itself; else outbound.
 */
export function capturePortOf(e: AccessLogEntry, podIp?: string): number {
  const inbound =
    e.upstreamCluster?.startsWith('inbound|') === true ||
    e.upstreamCluster?.startsWith('InboundPassthroughCluster') === true ||
    e.filterChainName?.startsWith('virtualInbound') === true ||
    (e.upstreamCluster === undefined && e.filterChainName === undefined && podIp !== undefined && hostPort(e.downstreamLocalAddress)?.ip === podIp);
  return inbound ? 15006 : 15001;
}
