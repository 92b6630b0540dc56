// Which listener, filter chain, route and cluster a connection hits, following Envoy:
// - the listener bound to the capture port receives it; with use_original_dst it hands the
//   connection to the listener bound exactly to the original ip:port, else to 0.0.0.0:port,
//   else keeps it (Envoy listener docs, use_original_dst; Istio pilot/pkg/simulation/traffic.go matchListener);
// - the filter chain by Envoy's FilterChainMatch sieve (destination port, destination IP longest
//   prefix, server names, transport protocol, application protocols, direct source IP, source type,
//   source IP longest prefix, source port), the default_filter_chain when nothing matches, a
//   closed connection when there is none (Envoy filter_chain_match docs; traffic.go matchFilterChain);
// - tcp_proxy's cluster, or for an HTTP connection manager the route configuration's virtual host
//   by Host (exact, `*.suffix`, `prefix*`, `*`) and its first matching route (Envoy route docs).
import { RE2JS } from 're2js';
import type { Cluster, EnvoyConfig, FilterChain, Listener, RouteConfiguration, VirtualHost, Route } from './envoy-config.ts';
import {
  BLACKHOLE_CLUSTER,
  INBOUND_CAPTURE_PORT,
  OUTBOUND_CAPTURE_PORT,
  PASSTHROUGH_CLUSTER,
} from './envoy-config.ts';
import { detectFirstBytes, type Detected, type Payload } from './first-bytes.ts';
import { cidrContains, isIPv6 } from './ip.ts';

/** A connection as Envoy sees it after the kernel redirected it. */
export interface Connection {
  /** Client address. */
  src: string;
  srcPort?: number;
  /** Original destination (SO_ORIGINAL_DST). */
  dst: { ip: string; port: number };
  /** Where iptables redirected it: 15001 outbound, 15006 inbound. */
  capturePort: number;
  payload: Payload;
}

/** One Envoy hop in the path notation, with a one-line reason. */
export interface EnvoyHop {
  listener: string;
  chain?: string;
  cluster?: string;
  reason: string;
}

export type OutcomeKind =
  | 'passthrough' // bytes go to the original destination (PassthroughCluster, ORIGINAL_DST)
  | 'service' // bytes go to a service's endpoints
  | 'closed' // accepted, then closed without a reply
  | 'http-response' // Envoy itself answers with an HTTP status
  | 'waiting' // Envoy waits for the client's first bytes; nothing happens until it speaks
  | 'unknown'; // the dump lacks what is needed to tell

export interface Outcome {
  kind: OutcomeKind;
  /** What the client sees, in words: `HTTP/1.1 400 Bad Request, then the connection closes`. */
  clientSees: string;
  /** Something leaves the sidecar towards an upstream. */
  upstreamConnection: boolean;
  /** Where bytes go: `10.0.0.6:7000`, or `endpoints of outbound|7000||redis.db.svc.cluster.local`. */
  upstream?: string;
  /** The cluster's endpoints when the configuration names them (STATIC, DNS, inline load_assignment, or EDS in a config_dump with include_eds). */
  upstreamEndpoints?: string[];
  status?: number;
  /** %RESPONSE_FLAGS% in the access log ('-' for none). */
  responseFlag: string;
  /** %RESPONSE_CODE_DETAILS% for HTTP answers Envoy generates. */
  responseCodeDetails?: string;
}

export interface EnvoyMatch {
  hops: EnvoyHop[];
  listener: string | null;
  filterChain: string | null;
  cluster: string | null;
  route?: { routeConfiguration: string; virtualHost: string | null; route: string | null };
  detected: Detected;
  outcome: Outcome;
}

/**
 * A chain's name for the path notation: its own name, else `#<n>` (1-based) or `#default` (an
 * unnamed default_filter_chain). The `#` says the chain has no name, which Envoy's log cannot give.
 */
export function chainLabel(chain: FilterChain): string {
  if (chain.name) return chain.name;
  return chain.position === 'default' ? '#default' : `#${chain.position + 1}`;
}

const WILDCARDS = new Set(['0.0.0.0', '::']);
const INNER_HTTP_ALPNS = new Set(['http/1.0', 'http/1.1', 'h2', 'istio-http/1.0', 'istio-http/1.1', 'istio-h2']);

function listenerFilterEnabled(l: Listener, suffix: string, port: number): boolean {
  const f = l.listenerFilters.find((x) => x.name.endsWith(suffix));
  if (!f) return false;
  const within = (r: { start: number; end: number }) => port >= r.start && port < r.end;
  return (f.onlyPorts === undefined || f.onlyPorts.some(within)) && !f.disabledPorts.some(within);
}

/** The listener bound to the capture port (virtualOutbound / virtualInbound / 1.1's `virtual`). */
export function receivingListener(listeners: Listener[], port: number): Listener | undefined {
  const bound = listeners.filter((l) => l.port === port && WILDCARDS.has(l.address) && l.bindToPort);
  return bound[0] ?? listeners.find((l) => l.port === port && WILDCARDS.has(l.address));
}

/** Envoy's use_original_dst hand-off: exact ip:port, else the wildcard address on that port. */
export function findListenerForOriginalDst(
  listeners: Listener[],
  dst: { ip: string; port: number },
  receiving?: Listener,
): { listener: Listener; how: 'exact' | 'wildcard' } | undefined {
  const wildcard = isIPv6(dst.ip) ? '::' : '0.0.0.0';
  let exact: Listener | undefined;
  let any: Listener | undefined;
  for (const l of listeners) {
    if (l === receiving || l.port !== dst.port || l.internal) continue;
    if (l.address === dst.ip || l.additionalAddresses.includes(dst.ip)) exact ??= l;
    else if (l.address === wildcard) any ??= l;
  }
  if (exact) return { listener: exact, how: 'exact' };
  if (any) return { listener: any, how: 'wildcard' };
  return undefined;
}

interface Stage {
  name: string;
  /** Rank of a chain's criterion against the connection: undefined = not set, -1 = no match, ≥0 = match (higher wins). */
  rank(chain: FilterChain): number | undefined;
}

function cidrRank(ranges: Array<{ addressPrefix: string; prefixLen: number }>, ip: string): number | undefined {
  if (ranges.length === 0) return undefined;
  let best = -1;
  for (const r of ranges) if (cidrContains(r.addressPrefix, r.prefixLen, ip)) best = Math.max(best, r.prefixLen);
  return best;
}

function serverNameRank(names: string[], sni: string | undefined): number | undefined {
  if (names.length === 0) return undefined;
  if (!sni) return -1;
  let best = -1;
  for (const n of names) {
    if (n === sni) return Number.MAX_SAFE_INTEGER;
    if (n.startsWith('*.') && sni.endsWith(n.slice(1))) best = Math.max(best, n.length);
  }
  return best;
}

export interface ChainSelection {
  chain?: FilterChain;
  /** Envoy found more than one chain: a config error, Envoy would have rejected the listener. */
  ambiguous?: FilterChain[];
  /** The stage that eliminated the last named candidates, for the reason text. */
  decidedBy?: string;
  usedDefault: boolean;
}

/** Envoy's filter chain sieve over a listener's chains. */
export function selectFilterChain(l: Listener, conn: Connection, detected: Detected): ChainSelection {
  const tlsInspector = listenerFilterEnabled(l, 'tls_inspector', conn.dst.port);
  const httpInspector = listenerFilterEnabled(l, 'http_inspector', conn.dst.port);
  const transport = tlsInspector && detected.tls ? 'tls' : 'raw_buffer';
  const alpn = detected.tls ? (tlsInspector ? detected.alpn : []) : httpInspector ? detected.alpn : [];
  const sni = tlsInspector ? detected.sni : undefined;
  const srcIsLocal = conn.src === conn.dst.ip || conn.src.startsWith('127.') || conn.src === '::1';
  const stages: Stage[] = [
    {
      name: 'destination_port',
      rank: (c) => (c.match.destinationPort === undefined ? undefined : c.match.destinationPort === conn.dst.port ? 0 : -1),
    },
    { name: 'destination prefix_ranges', rank: (c) => cidrRank(c.match.prefixRanges, conn.dst.ip) },
    { name: 'server_names', rank: (c) => serverNameRank(c.match.serverNames, sni) },
    {
      name: 'transport_protocol',
      rank: (c) => (c.match.transportProtocol === undefined ? undefined : c.match.transportProtocol === transport ? 0 : -1),
    },
    {
      name: 'application_protocols',
      rank: (c) =>
        c.match.applicationProtocols.length === 0
          ? undefined
          : c.match.applicationProtocols.some((p) => alpn.includes(p))
            ? 0
            : -1,
    },
    { name: 'direct_source_prefix_ranges', rank: (c) => cidrRank(c.match.directSourcePrefixRanges, conn.src) },
    {
      name: 'source_type',
      rank: (c) => {
        const t = c.match.sourceType;
        if (t === undefined || t === 'ANY') return undefined;
        return (t === 'SAME_IP_OR_LOOPBACK') === srcIsLocal ? 0 : -1;
      },
    },
    { name: 'source_prefix_ranges', rank: (c) => cidrRank(c.match.sourcePrefixRanges, conn.src) },
    {
      name: 'source_ports',
      rank: (c) =>
        c.match.sourcePorts.length === 0 ? undefined : conn.srcPort !== undefined && c.match.sourcePorts.includes(conn.srcPort) ? 0 : -1,
    },
  ];
  let candidates = l.filterChains;
  let decidedBy: string | undefined;
  for (const stage of stages) {
    if (candidates.length === 0) break;
    const ranks = candidates.map((c) => stage.rank(c));
    const best = Math.max(-1, ...ranks.map((r) => (r === undefined ? -1 : r)));
    const before = candidates.length;
    candidates = best >= 0 ? candidates.filter((_, i) => ranks[i] === best) : candidates.filter((_, i) => ranks[i] === undefined);
    if (candidates.length < before) decidedBy = stage.name;
  }
  if (candidates.length > 1) return { ambiguous: candidates, usedDefault: false, ...(decidedBy ? { decidedBy } : {}) };
  if (candidates.length === 1) return { chain: candidates[0]!, usedDefault: false, ...(decidedBy ? { decidedBy } : {}) };
  if (l.defaultFilterChain) return { chain: l.defaultFilterChain, usedDefault: true, ...(decidedBy ? { decidedBy } : {}) };
  return { usedDefault: false, ...(decidedBy ? { decidedBy } : {}) };
}

/**
 * Envoy's virtual host choice: exact domain, then longest `*.suffix`, then longest `prefix*`, then
 * `*`. With the route configuration's ignore_port_in_host_matching (Istio 1.30 sets it, and lists
 * no `host:port` domains), the Host's port is dropped first.
 */
export function selectVirtualHost(rc: RouteConfiguration, host: string): VirtualHost | undefined {
  const h = (rc.ignorePortInHostMatching ? host.replace(/:\d+$/, '') : host).toLowerCase();
  let suffix: { vh: VirtualHost; len: number } | undefined;
  let prefix: { vh: VirtualHost; len: number } | undefined;
  let star: VirtualHost | undefined;
  for (const vh of rc.virtualHosts) {
    for (const raw of vh.domains) {
      const d = raw.toLowerCase();
      if (d === '*') star ??= vh;
      else if (d.startsWith('*')) {
        if (h.endsWith(d.slice(1)) && h.length > d.length - 1 && (!suffix || d.length > suffix.len)) suffix = { vh, len: d.length };
      } else if (d.endsWith('*')) {
        if (h.startsWith(d.slice(0, -1)) && h.length > d.length - 1 && (!prefix || d.length > prefix.len)) prefix = { vh, len: d.length };
      } else if (d === h) return vh;
    }
  }
  return suffix?.vh ?? prefix?.vh ?? star;
}

function routeMatches(r: Route, path: string): boolean {
  const m = r.match;
  const p = path.split('?', 1)[0]!;
  if (m.prefix !== undefined) return p.startsWith(m.prefix);
  if (m.path !== undefined) return p === m.path;
  if (m.pathSeparatedPrefix !== undefined) {
    return p === m.pathSeparatedPrefix || p.startsWith(`${m.pathSeparatedPrefix}/`);
  }
  if (m.safeRegex !== undefined) {
    try {
      // Envoy's safe_regex is RE2, matched against the whole path.
      return RE2JS.compile(m.safeRegex).matcher(p).matches();
    } catch {
      return false;
    }
  }
  return false;
}

/** The cluster a route sends to (the first of weighted clusters), if one. */
function routeCluster(route: Route): string | undefined {
  const a = route.action;
  return a.kind === 'cluster' ? a.cluster : a.kind === 'weighted_clusters' ? a.clusters[0] : undefined;
}

function clusterOutcome(config: EnvoyConfig, clusterName: string, conn: Connection, http: boolean): Outcome {
  const dst = `${conn.dst.ip}:${conn.dst.port}`;
  if (clusterName === BLACKHOLE_CLUSTER) {
    return {
      kind: 'closed',
      clientSees: http ? 'HTTP/1.1 503 Service Unavailable (no healthy upstream)' : 'the connection is accepted, then closed without a reply',
      upstreamConnection: false,
      responseFlag: 'UH',
      ...(http ? { status: 503 } : {}),
    };
  }
  const cluster: Cluster | undefined = config.clusters?.find((c) => c.name === clusterName);
  const isPassthrough =
    clusterName === PASSTHROUGH_CLUSTER || clusterName.startsWith('InboundPassthroughCluster') || cluster?.type === 'ORIGINAL_DST';
  if (isPassthrough && (clusterName.startsWith('inbound|') || clusterName.startsWith('InboundPassthroughCluster'))) {
    return {
      kind: 'passthrough',
      clientSees: `whatever the app listening on ${dst} answers (Envoy connects to it from 127.0.0.6)`,
      upstreamConnection: true,
      upstream: dst,
      responseFlag: '-',
    };
  }
  if (isPassthrough) {
    return {
      kind: 'passthrough',
      clientSees: `whatever ${dst} answers (Envoy connects to the original destination)`,
      upstreamConnection: true,
      upstream: dst,
      responseFlag: '-',
    };
  }
  if (config.clusters && !cluster) {
    return {
      kind: 'http-response',
      clientSees: http ? 'HTTP/1.1 503 Service Unavailable (cluster not found)' : 'the connection is closed (cluster not found)',
      upstreamConnection: false,
      responseFlag: 'NC',
      ...(http ? { status: 503 } : {}),
    };
  }
  // A config_dump with endpoints (include_eds) says what the cluster has now: none (an EDS
  // cluster without endpoints, a DNS name that did not resolve) is Envoy's "no healthy upstream".
  const assignment = config.endpoints?.find((e) => e.clusterName === clusterName);
  if (config.endpoints && assignment && assignment.endpoints.every((l) => l.lbEndpoints.length === 0)) {
    return {
      kind: 'closed',
      clientSees: http ? `HTTP/1.1 503 Service Unavailable (no healthy upstream in ${clusterName})` : `the connection is accepted, then closed: ${clusterName} has no endpoint`,
      upstreamConnection: false,
      responseFlag: 'UH',
      ...(http ? { status: 503 } : {}),
    };
  }
  // The cluster's endpoints: its own (STATIC, DNS, inline load_assignment), else what EDS gave it.
  const endpoints = cluster?.endpoints.length ? cluster.endpoints : (assignment?.endpoints.flatMap((l) => l.lbEndpoints.flatMap((e) => e.addresses.slice(0, 1))) ?? []);
  const where = endpoints.length ? ` (${endpoints.join(', ')})` : '';
  const dnsNote = cluster && /DNS/.test(cluster.type) ? `, resolved by DNS — not ${dst}` : '';
  return {
    kind: 'service',
    clientSees: `whatever the endpoints of ${clusterName} answer`,
    upstreamConnection: true,
    upstream: `endpoints of ${clusterName}${where}${dnsNote}`,
    ...(endpoints.length ? { upstreamEndpoints: endpoints } : {}),
    responseFlag: '-',
  };
}

function describeListenerHop(l: Listener, how: 'received' | 'exact' | 'wildcard' | 'stayed', conn: Connection): string {
  const dst = `${conn.dst.ip}:${conn.dst.port}`;
  switch (how) {
    case 'received':
      return `${l.name} is bound to ${l.address}:${l.port}, where iptables redirected the connection` +
        (l.useOriginalDst ? `; use_original_dst hands it to the listener for ${dst}` : '');
    case 'exact':
      return `${l.name}: a listener for exactly ${dst} exists`;
    case 'wildcard':
      return `${l.name}: no listener for ${dst}; the one on ${l.address}:${l.port} takes it`;
    case 'stayed':
      return `no listener for ${dst} or ${isIPv6(conn.dst.ip) ? '[::]' : '0.0.0.0'}:${conn.dst.port}: ${l.name} keeps it`;
  }
}

/** Who put this listener there, from its route configuration (the HTTP services on that port). */
function httpServicesOn(config: EnvoyConfig, chain: FilterChain | undefined): string[] {
  for (const f of chain?.filters ?? []) {
    if (f.kind !== 'http_connection_manager') continue;
    const rc = f.routeConfig ?? config.routes?.find((r) => r.name === f.rds);
    if (!rc) return [];
    return rc.virtualHosts.map((v) => v.name).filter((n) => n !== 'allow_any' && n !== 'block_all');
  }
  return [];
}

function chainReason(l: Listener, sel: ChainSelection, detected: Detected, config: EnvoyConfig): string {
  const what = detected.summary;
  if (!sel.chain) return `no filter chain matches ${what} and there is no default_filter_chain → connection closed`;
  const label = chainLabel(sel.chain);
  if (sel.usedDefault) {
    const httpChain = l.filterChains.find((c) => c.filters.some((f) => f.kind === 'http_connection_manager'));
    const services = httpServicesOn(config, httpChain);
    const named = services.length ? ` (${services.slice(0, 3).join(', ')}${services.length > 3 ? ', …' : ''})` : '';
    const owner = !httpChain
      ? ''
      : WILDCARDS.has(l.address)
        ? `an HTTP service on port ${l.port} exists${named}; `
        : `its HTTP chain wants HTTP${named}; `;
    return `${owner}the payload is ${what}, no filter chain matches → default_filter_chain ${label}`;
  }
  const m = sel.chain.match;
  const crit: string[] = [];
  if (m.destinationPort !== undefined) crit.push(`destination_port ${m.destinationPort}`);
  if (m.prefixRanges.length) crit.push(`prefix_ranges ${m.prefixRanges.map((r) => `${r.addressPrefix}/${r.prefixLen}`).join(',')}`);
  if (m.serverNames.length) crit.push(`server_names ${m.serverNames.join(',')}`);
  if (m.transportProtocol) crit.push(`transport_protocol ${m.transportProtocol}`);
  if (m.applicationProtocols.length) crit.push(`application_protocols ${m.applicationProtocols.join(',')}`);
  if (m.sourcePrefixRanges.length) crit.push(`source_prefix_ranges ${m.sourcePrefixRanges.map((r) => `${r.addressPrefix}/${r.prefixLen}`).join(',')}`);
  const matched = crit.length ? `matches ${crit.join(', ')}` : 'matches everything (no filter_chain_match)';
  return `${what}; chain ${label} ${matched}`;
}

/** The bytes of a TLS record header: tls_inspector decides nothing on fewer. */
const TLS_RECORD_HEADER = 5;

/**
 * Follows a connection through an Envoy configuration: listener, filter chain, route, cluster,
 * and what the client sees. Pure: the same input always gives the same answer.
 */
export function matchConnection(config: EnvoyConfig, conn: Connection): EnvoyMatch {
  const listeners = config.listeners ?? [];
  const detected = detectFirstBytes(conn.payload);
  const hops: EnvoyHop[] = [];
  const result = (
    outcome: Outcome,
    extra: Partial<Pick<EnvoyMatch, 'listener' | 'filterChain' | 'cluster' | 'route'>> = {},
  ): EnvoyMatch => ({
    hops,
    listener: extra.listener ?? null,
    filterChain: extra.filterChain ?? null,
    cluster: extra.cluster ?? null,
    ...(extra.route ? { route: extra.route } : {}),
    detected,
    outcome,
  });

  const receiving = receivingListener(listeners, conn.capturePort);
  if (!receiving) {
    const which = conn.capturePort === OUTBOUND_CAPTURE_PORT ? 'virtualOutbound' : conn.capturePort === INBOUND_CAPTURE_PORT ? 'virtualInbound' : 'a listener';
    hops.push({ listener: `0.0.0.0_${conn.capturePort}`, reason: `no listener is bound to port ${conn.capturePort} (expected ${which}): the kernel refuses the connection` });
    return result({ kind: 'closed', clientSees: 'connection refused (RST)', upstreamConnection: false, responseFlag: '-' });
  }
  let listener = receiving;
  if (receiving.useOriginalDst) {
    const handoff = findListenerForOriginalDst(listeners, conn.dst, receiving);
    hops.push({ listener: receiving.name, reason: describeListenerHop(receiving, 'received', conn) });
    if (handoff) {
      listener = handoff.listener;
      hops.push({ listener: listener.name, reason: describeListenerHop(listener, handoff.how, conn) });
    } else {
      hops[hops.length - 1]!.reason = describeListenerHop(receiving, 'stayed', conn);
    }
  } else {
    hops.push({ listener: receiving.name, reason: describeListenerHop(receiving, 'received', conn).replace(/;.*$/, '') });
  }
  const last = hops[hops.length - 1]!;

  if (conn.payload.kind === 'none') {
    const inspectors = ['tls_inspector', 'http_inspector'].filter((n) => listenerFilterEnabled(listener, n, conn.dst.port));
    if (inspectors.length > 0 && listener.listenerFiltersTimeout === 0) {
      last.reason += `; ${inspectors.join(' and ')} wait for the client's first bytes (listener_filters_timeout 0s): a server-first protocol hangs here`;
      return result(
        { kind: 'waiting', clientSees: 'nothing: the connection is open but nothing leaves the pod until the client sends', upstreamConnection: false, responseFlag: '-' },
        { listener: listener.name },
      );
    }
  }
  // Fewer bytes than a TLS record header (5): tls_inspector cannot tell yet whether they are TLS and
  // waits for more; with no listener filter timeout, no chain is ever chosen (seen on Envoy 1.38:
  // "hi\n" to Istio's 0.0.0.0_9080 waits, "hi!!\n" does not; test/netns/replay-live.test.ts).
  const sent = conn.payload.kind === 'bytes' ? new TextEncoder().encode(conn.payload.text).length : 0;
  if (sent > 0 && sent < TLS_RECORD_HEADER && listenerFilterEnabled(listener, 'tls_inspector', conn.dst.port) && listener.listenerFiltersTimeout === 0) {
    last.reason += `; tls_inspector waits for more than the ${sent} byte(s) the client sent (a TLS record header is ${TLS_RECORD_HEADER}; listener_filters_timeout 0s): no filter chain is chosen`;
    return result(
      { kind: 'waiting', clientSees: `nothing: the ${sent} byte(s) sent are too few for the listener's tls_inspector, which waits for more; nothing leaves the pod`, upstreamConnection: false, responseFlag: '-' },
      { listener: listener.name },
    );
  }
  const sel = selectFilterChain(listener, conn, detected);
  if (sel.ambiguous) {
    last.reason = `${listener.name}: ${sel.ambiguous.length} filter chains match (${sel.ambiguous.map(chainLabel).join(', ')}) — Envoy rejects such a listener`;
    return result(
      { kind: 'unknown', clientSees: 'undefined: the listener is invalid', upstreamConnection: false, responseFlag: '-' },
      { listener: listener.name },
    );
  }
  last.reason = `${last.reason}; ${chainReason(listener, sel, detected, config)}`;
  if (!sel.chain) {
    return result(
      { kind: 'closed', clientSees: 'the connection is accepted, then closed without a reply', upstreamConnection: false, responseFlag: 'NR' },
      { listener: listener.name },
    );
  }
  const chain = sel.chain;
  last.chain = chainLabel(chain);
  const base = { listener: listener.name, filterChain: chainLabel(chain) };

  const tcp = chain.filters.find((f) => f.kind === 'tcp_proxy');
  const hcm = chain.filters.find((f) => f.kind === 'http_connection_manager');
  // The first terminal filter decides (Istio puts exactly one of them last in each chain).
  const terminal = chain.filters.filter((f) => f.kind !== 'other').at(-1);
  if (terminal?.kind === 'tcp_proxy' && tcp?.kind === 'tcp_proxy') {
    last.cluster = tcp.cluster;
    const outcome = clusterOutcome(config, tcp.cluster, conn, false);
    last.reason += ` → tcp_proxy to ${tcp.cluster}`;
    return result(outcome, { ...base, cluster: tcp.cluster });
  }
  // A chain with a TLS transport socket terminates TLS: what the HCM then reads is the inner
  // protocol, which the client announced in ALPN (Istio mTLS: istio-http/1.1, istio-h2).
  const innerHttp = chain.tls && detected.tls && detected.alpn.some((a) => INNER_HTTP_ALPNS.has(a));
  const http = detected.http || innerHttp;
  if (terminal?.kind === 'http_connection_manager' && hcm?.kind === 'http_connection_manager') {
    if (conn.payload.kind === 'none') {
      last.reason += ' → HTTP connection manager waits for a request';
      return result(
        { kind: 'waiting', clientSees: 'nothing: the HTTP connection manager waits for a request; nothing leaves the pod', upstreamConnection: false, responseFlag: '-' },
        base,
      );
    }
    if (!http) {
      const services = httpServicesOn(config, chain);
      const owner = services.length ? ` of ${services.slice(0, 3).join(', ')}${services.length > 3 ? ', …' : ''}` : '';
      last.reason += ` → HTTP connection manager${owner}; the bytes are not HTTP: Envoy answers 400 and closes`;
      return result(
        {
          kind: 'http-response',
          clientSees: 'HTTP/1.1 400 Bad Request (content-length: 0, connection: close); nothing leaves the pod',
          upstreamConnection: false,
          status: 400,
          responseFlag: 'DPE',
          responseCodeDetails: 'http1.codec_error',
        },
        base,
      );
    }
    const rc = hcm.routeConfig ?? config.routes?.find((r) => r.name === hcm.rds);
    const rcName = hcm.routeConfig?.name ?? hcm.rds ?? '';
    if (!rc) {
      last.reason += ` → HTTP connection manager, route configuration "${rcName}" (not in this dump)`;
      return result(
        { kind: 'unknown', clientSees: `decided by route configuration "${rcName}", which this dump does not contain`, upstreamConnection: false, responseFlag: '-' },
        { ...base, route: { routeConfiguration: rcName, virtualHost: null, route: null } },
      );
    }
    const host = detected.host ?? detected.sni ?? `${conn.dst.ip}:${conn.dst.port}`;
    const path = detected.path ?? '/';
    const vh = selectVirtualHost(rc, host);
    if (!vh) {
      last.reason += ` → route "${rcName}": no virtual host for Host ${host} → 404`;
      return result(
        { kind: 'http-response', clientSees: 'HTTP/1.1 404 Not Found', upstreamConnection: false, status: 404, responseFlag: 'NR', responseCodeDetails: 'route_not_found' },
        { ...base, route: { routeConfiguration: rcName, virtualHost: null, route: null } },
      );
    }
    const route = vh.routes.find((r) => routeMatches(r, path));
    if (!route) {
      last.reason += ` → route "${rcName}", virtual host ${vh.name}: no route for ${path} → 404`;
      return result(
        { kind: 'http-response', clientSees: 'HTTP/1.1 404 Not Found', upstreamConnection: false, status: 404, responseFlag: 'NR', responseCodeDetails: 'route_not_found' },
        { ...base, route: { routeConfiguration: rcName, virtualHost: vh.name, route: null } },
      );
    }
    const routeInfo = { routeConfiguration: rcName, virtualHost: vh.name, route: route.name ?? null };
    // The fault filter acts before the router: an abort for every request answers in place of the route (flag FI).
    if (route.faultAbort && route.faultAbort.percent >= 100) {
      const status = route.faultAbort.status;
      // Envoy logs the route's cluster, although no connection is made to it.
      const routed = routeCluster(route);
      if (routed !== undefined) last.cluster = routed;
      last.reason += ` → route "${rcName}", virtual host ${vh.name} (Host ${host}): the fault filter aborts every request with ${status}`;
      return result(
        { kind: 'http-response', clientSees: `HTTP/1.1 ${status} from Envoy's fault filter ("fault filter abort")`, upstreamConnection: false, status, responseFlag: 'FI', responseCodeDetails: 'fault_filter_abort' },
        { ...base, ...(routed !== undefined ? { cluster: routed } : {}), route: routeInfo },
      );
    }
    const a = route.action;
    if (a.kind === 'direct_response') {
      last.reason += ` → route "${rcName}", virtual host ${vh.name} (Host ${host}): direct_response ${a.status}`;
      return result(
        { kind: 'http-response', clientSees: `HTTP/1.1 ${a.status}${a.status === 502 ? ' Bad Gateway' : ''} from Envoy`, upstreamConnection: false, status: a.status, responseFlag: '-', responseCodeDetails: 'direct_response' },
        { ...base, route: routeInfo },
      );
    }
    const clusterName = routeCluster(route);
    if (clusterName === undefined) {
      last.reason += ` → route "${rcName}", virtual host ${vh.name}: a ${a.kind} action`;
      return result({ kind: 'unknown', clientSees: `a ${a.kind} route action`, upstreamConnection: false, responseFlag: '-' }, { ...base, route: routeInfo });
    }
    last.cluster = clusterName;
    last.reason += ` → route "${rcName}", virtual host ${vh.name} (Host ${host}) → ${clusterName}`;
    return result(clusterOutcome(config, clusterName, conn, true), { ...base, cluster: clusterName, route: routeInfo });
  }
  last.reason += ' → no tcp_proxy or HTTP connection manager in this chain';
  return result({ kind: 'unknown', clientSees: 'decided by a filter pathlab does not model', upstreamConnection: false, responseFlag: '-' }, base);
}
