// The tables `istioctl proxy-config listeners|clusters|routes|endpoints|secrets|all` prints, in
// istioctl's current format (istioctl/pkg/writer/envoy/configdump/{listener,cluster,route,endpoint}.go,
// configdump.go PrintBootstrapSummary/PrintFullSummary, istioctl/pkg/writer/compare/sds/writer.go),
// rebuilt from the behaviour those writers document; columns are laid out like Go's text/tabwriter.
import { X509Certificate } from 'node:crypto';
import type { Cluster, ClusterLoadAssignment, EnvoyConfig, FilterChain, FilterChainMatch, Listener, NetworkFilter, Route, RouteConfiguration, VirtualHost } from './envoy-config.ts';
import { BLACKHOLE_CLUSTER, PASSTHROUGH_CLUSTER } from './envoy-config.ts';

/** Go text/tabwriter with flags 0: every tab-terminated cell is padded to its column's width + padding. */
export function tabwrite(rows: string[][], padding: number): string {
  const widths: number[] = [];
  for (const r of rows) {
    r.slice(0, -1).forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, [...cell].length + padding);
    });
  }
  return rows
    .map((r) => r.map((cell, i) => (i < r.length - 1 ? cell.padEnd(widths[i]! - ([...cell].length - cell.length)) : cell)).join(''))
    .map((line) => `${line}\n`)
    .join('');
}

export interface TableOptions {
  /** `istioctl proxy-config all` prefixes each row with `listener/`, `cluster/`, ... and adds a NAME column. */
  includeConfigType?: boolean;
}

// ---- listeners ----------------------------------------------------------------------------

const HCM = new Set(['envoy.filters.network.http_connection_manager', 'envoy.http_connection_manager']);
const TCP = new Set(['envoy.filters.network.tcp_proxy', 'envoy.tcp_proxy']);

function chainsOf(l: Listener): FilterChain[] {
  return l.defaultFilterChain ? [...l.filterChains, l.defaultFilterChain] : l.filterChains;
}

/** istioctl's tcp_proxy test looks for "BlackHoleCluster" anywhere in the filter's config. */
function isBlackHoleTcp(f: NetworkFilter): boolean {
  return f.kind === 'tcp_proxy' && f.cluster.includes(BLACKHOLE_CLUSTER);
}

/** HTTP | TCP | HTTP+TCP | UNKNOWN (retrieveListenerType). */
export function listenerType(l: Listener): string {
  let http = 0;
  let tcp = 0;
  for (const c of chainsOf(l)) {
    for (const f of c.filters) {
      if (f.kind === 'http_connection_manager' && HCM.has(f.name)) http++;
      else if (f.kind === 'tcp_proxy' && TCP.has(f.name) && !isBlackHoleTcp(f)) tcp++;
    }
  }
  if (http > 0) return tcp === 0 ? 'HTTP' : 'HTTP+TCP';
  return tcp > 0 ? 'TCP' : 'UNKNOWN';
}

const PROTOCOL_DESCRIPTIONS: Array<[string, string[]]> = [
  ['App: HTTP TLS', ['http/1.0', 'http/1.1', 'h2c', 'istio-http/1.0', 'istio-http/1.1', 'istio-h2']],
  ['App: Istio HTTP Plain', ['istio', 'istio-http/1.0', 'istio-http/1.1', 'istio-h2']],
  ['App: TCP TLS', ['istio-peer-exchange', 'istio']],
  ['App: HTTP', ['http/1.0', 'http/1.1', 'h2c']],
];

/** The MATCH column (getMatches). */
export function describeFilterChainMatch(m: FilterChainMatch): string {
  const d: string[] = [];
  if (m.serverNames.length) d.push(`SNI: ${m.serverNames.join(',')}`);
  if (m.transportProtocol) d.push(`Trans: ${m.transportProtocol}`);
  if (m.applicationProtocols.length) {
    const known = PROTOCOL_DESCRIPTIONS.find(([, list]) => list.length === m.applicationProtocols.length && list.every((p, i) => p === m.applicationProtocols[i]));
    d.push(known ? known[0] : `App: ${m.applicationProtocols.join(',')}`);
  }
  const port = m.destinationPort !== undefined ? `:${m.destinationPort}` : '';
  if (m.prefixRanges.length) d.push(`Addr: ${m.prefixRanges.map((p) => `${p.addressPrefix}/${p.prefixLen}`).join(',')}${port}`);
  else if (port) d.push(`Addr: *${port}`);
  return d.length ? d.join('; ') : 'ALL';
}

function describeMatch(r: Route): string {
  const c: string[] = [];
  if (r.match.prefix) c.push(`${r.match.prefix}*`);
  if (r.match.pathSeparatedPrefix) c.push(`PathPrefix:${r.match.pathSeparatedPrefix}`);
  if (r.match.path) c.push(r.match.path);
  if (r.match.safeRegex !== undefined) c.push(`regex ${r.match.safeRegex}`);
  return c.join(' ');
}

function clusterWord(name: string): string {
  return name.includes('Cluster') ? name : `Cluster: ${name}`;
}

function describeRouteConfig(rc: RouteConfiguration): string {
  const vh = rc.virtualHosts;
  if (vh.length === 1 && vh[0]!.domains.length === 1 && vh[0]!.domains[0] === '*' && vh[0]!.routes.length === 1) {
    const r = vh[0]!.routes[0]!;
    if (r.match.prefix === '/' && r.action.kind === 'cluster') return clusterWord(r.action.cluster);
  }
  const parts = vh.map((v) => {
    const domains = v.domains.length === 1 && v.domains[0] === '*' ? '' : v.domains.join('/');
    const routes = v.routes.map(describeMatch).join(', ');
    return domains === '' ? routes : `${domains} ${routes}`;
  });
  return `Inline Route: ${parts.join('; ')}`;
}

/** The DESTINATION column (getFilterType). */
export function describeChainDestination(c: FilterChain): string {
  for (const f of c.filters) {
    if (f.kind === 'http_connection_manager' && HCM.has(f.name)) {
      if (f.routeConfig) return describeRouteConfig(f.routeConfig);
      if (f.rds) return `Route: ${f.rds}`;
      return 'HTTP';
    }
    if (f.kind === 'tcp_proxy' && TCP.has(f.name) && !isBlackHoleTcp(f)) return clusterWord(f.cluster);
  }
  return 'Non-HTTP/Non-TCP';
}

function sortListeners(ls: Listener[]): Listener[] {
  return [...ls].sort((a, b) => a.port - b.port || cmp(a.address, b.address) || cmp(listenerType(a), listenerType(b)));
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function formatListeners(cfg: EnvoyConfig, opts: TableOptions = {}): string {
  const rows: string[][] = [[...(opts.includeConfigType ? ['NAME'] : []), 'ADDRESSES', 'PORT', 'MATCH', 'DESTINATION']];
  for (const l of sortListeners(cfg.listeners ?? [])) {
    const addresses = [l.address, ...l.additionalAddresses].join(',');
    const matches = chainsOf(l)
      .map((c) => ({ match: describeFilterChainMatch(c.match), destination: describeChainDestination(c) }))
      .sort((a, b) => cmp(b.destination, a.destination));
    for (const m of matches) {
      rows.push([...(opts.includeConfigType ? [`listener/${l.name}`] : []), addresses, String(l.port), m.match, m.destination]);
    }
  }
  return tabwrite(rows, 1);
}

// ---- clusters -----------------------------------------------------------------------------

/** safelyParseSubsetKey: `dir|port|subset|host`, else the whole name as the host. */
function subsetKey(name: string): { direction: string; subset: string; fqdn: string; port: number; parsed: boolean } {
  const parts = name.split('|');
  if (parts.length > 3) {
    const [direction, port, subset, ...rest] = parts;
    const fqdn = rest.length === 1 ? rest[0]! : '';
    return { direction: direction!, subset: subset!, fqdn, port: Number.parseInt(port!, 10) || 0, parsed: true };
  }
  return { direction: '', subset: '', fqdn: name, port: 0, parsed: false };
}

function bySubsetKey(a: string, b: string): number {
  const x = subsetKey(a);
  const y = subsetKey(b);
  return cmp(x.fqdn, y.fqdn) || cmp(x.subset, y.subset) || x.port - y.port || cmp(x.direction, y.direction);
}

/** describeManagement: `/apis/networking.istio.io/v1/namespaces/NS/destination-rule/NAME` → `NAME.NS`. */
function describeManagement(config: string | undefined): string {
  if (config === undefined) return '';
  if (config.startsWith('/apis/networking.istio.io/')) {
    const p = config.split('/');
    return p.length === 8 ? `${p[7]}.${p[5]}` : '';
  }
  return '<unknown>';
}

export function formatClusters(cfg: EnvoyConfig, opts: TableOptions = {}): string {
  const rows: string[][] = [[...(opts.includeConfigType ? ['NAME'] : []), 'SERVICE FQDN', 'PORT', 'SUBSET', 'DIRECTION', 'TYPE', 'DESTINATION RULE']];
  const clusters: Cluster[] = [...(cfg.clusters ?? [])].sort((a, b) => bySubsetKey(a.name, b.name));
  for (const c of clusters) {
    const k = subsetKey(c.name);
    const dr = describeManagement(c.istioConfig);
    if (k.parsed) {
      rows.push([...(opts.includeConfigType ? [`cluster/${c.name}`] : []), k.fqdn, String(k.port), k.subset || '-', k.direction, c.type, dr]);
    } else {
      const name = opts.includeConfigType && c.name ? `cluster/${c.name}` : c.name;
      rows.push([...(opts.includeConfigType ? [name] : []), name, '-', '-', '-', c.type, dr]);
    }
  }
  return tabwrite(rows, 5);
}

// ---- routes -------------------------------------------------------------------------------

function unexpandDomains(domains: string[]): string[] {
  const unique = new Set(domains);
  const drop = new Set<string>();
  for (const h of domains) {
    const full = h.endsWith('.svc.cluster.local') ? h.slice(0, -'.svc.cluster.local'.length) : h;
    if (full !== h && unique.has(full)) drop.add(h);
    const partial = h.endsWith('.svc') ? h.slice(0, -'.svc'.length) : h;
    if (partial !== h && unique.has(partial)) drop.add(h);
  }
  return domains.filter((h) => !drop.has(h));
}

export function describeRouteDomains(domains: string[]): string {
  if (domains.length === 0) return '';
  if (domains.length === 1) return domains[0]!;
  const withoutPort = unexpandDomains(
    domains.filter((d) => !d.includes(':') || ((d.match(/:/g)?.length ?? 0) > 2 && d.endsWith(']'))),
  );
  if (withoutPort.length > 2) return `${withoutPort.slice(0, 2).join(', ')} + ${withoutPort.length - 2} more...`;
  return withoutPort.join(', ');
}

function isPassthrough(r: Route): boolean {
  return r.action.kind === 'cluster' && r.action.cluster === PASSTHROUGH_CLUSTER;
}

export function formatRoutes(cfg: EnvoyConfig, opts: TableOptions = {}): string {
  const rows: string[][] = [['NAME', 'VHOST NAME', 'DOMAINS', 'MATCH', 'VIRTUAL SERVICE']];
  const numeric = (n: string) => (/^\d+$/.test(n) ? Number(n) : undefined);
  const routes = [...(cfg.routes ?? [])].sort((a, b) => {
    const x = numeric(a.name);
    const y = numeric(b.name);
    return x !== undefined && y !== undefined ? x - y : 0;
  });
  for (const rc of routes) {
    const name = opts.includeConfigType ? `route/${rc.name}` : rc.name;
    for (const vh of rc.virtualHosts as VirtualHost[]) {
      for (const r of vh.routes) {
        if (!isPassthrough(r)) rows.push([name, vh.name, describeRouteDomains(vh.domains), describeMatch(r), describeManagement(r.istioConfig)]);
      }
      if (vh.routes.length === 0) rows.push([name, vh.name, describeRouteDomains(vh.domains), '/*', '404']);
    }
  }
  return tabwrite(rows, 5);
}

// ---- endpoints ----------------------------------------------------------------------------

export function formatEndpoints(cfg: EnvoyConfig, opts: TableOptions = {}): string {
  const rows: string[][] = [['NAME', 'STATUS', 'LOCALITY', 'CLUSTER']];
  const list: ClusterLoadAssignment[] = (cfg.endpoints ?? [])
    .filter((c) => c.endpoints.some((l) => l.lbEndpoints.length > 0))
    .sort((a, b) => bySubsetKey(a.clusterName, b.clusterName));
  for (const cla of list) {
    for (const llb of cla.endpoints) {
      for (const ep of llb.lbEndpoints) {
        const addr = ep.addresses.join(',');
        rows.push([opts.includeConfigType ? `endpoint/${addr}` : addr, ep.healthStatus, llb.locality, cla.clusterName]);
      }
    }
  }
  return tabwrite(rows, 5);
}

// ---- secrets ------------------------------------------------------------------------------

function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function formatSecrets(cfg: EnvoyConfig, opts: TableOptions & { now?: Date } = {}): string {
  const secrets = cfg.secrets ?? [];
  if (secrets.length === 0) return 'No active or warming secrets found.\n';
  const now = opts.now ?? new Date();
  const items = secrets.flatMap((s) => {
    if (!s.pem) return [];
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(s.pem);
    } catch {
      return [];
    }
    const notBefore = new Date(cert.validFrom);
    const notAfter = new Date(cert.validTo);
    let trustDomain = s.trustDomain ?? '';
    if (!trustDomain) {
      const uri = /URI:spiffe:\/\/([^/,\s]+)/.exec(cert.subjectAltName ?? '');
      if (uri) trustDomain = uri[1]!;
    }
    return [
      {
        name: opts.includeConfigType ? `secret/${s.name}` : s.name,
        type: cert.ca ? 'CA' : 'Cert Chain',
        state: s.state,
        valid: now > notBefore && now < notAfter,
        serial: BigInt(`0x${cert.serialNumber}`).toString(16).padStart(32, '0'),
        notAfter: rfc3339(notAfter),
        notBefore: rfc3339(notBefore),
        trustDomain,
      },
    ];
  });
  if (items.length === 0) return 'No secret items to show.\n';
  const withTrustDomain = items.every((i) => i.trustDomain !== '');
  const header = ['RESOURCE NAME', 'TYPE', 'STATUS', 'VALID CERT', 'SERIAL NUMBER', 'NOT AFTER', 'NOT BEFORE', ...(withTrustDomain ? ['TRUST DOMAIN'] : [])];
  const rows = items.map((i) => [i.name, i.type, i.state, String(i.valid), i.serial, i.notAfter, i.notBefore, ...(withTrustDomain ? [i.trustDomain] : [])]);
  return tabwrite([header, ...rows], 5);
}

// ---- bootstrap and all --------------------------------------------------------------------

export function formatBootstrap(cfg: EnvoyConfig): string {
  const b = cfg.bootstrap;
  if (!b) return '';
  const rows: string[][] = [];
  if (b.istioVersion) rows.push(['Istio Version:', b.istioVersion]);
  if (b.istioProxySha) rows.push(['Istio Proxy Version:', b.istioProxySha]);
  rows.push(['Envoy Version:', b.envoyVersion]);
  return tabwrite(rows, 1);
}

/** `istioctl proxy-config all`: bootstrap, clusters, listeners, routes, secrets, endpoints. */
export function formatAll(cfg: EnvoyConfig, opts: { now?: Date } = {}): string {
  const t = { includeConfigType: true };
  return [
    formatBootstrap(cfg),
    formatClusters(cfg, t),
    formatListeners(cfg, t),
    formatRoutes(cfg, t),
    formatSecrets(cfg, { ...t, ...(opts.now ? { now: opts.now } : {}) }),
    formatEndpoints(cfg, t),
  ].join('\n');
}
