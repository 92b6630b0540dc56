// From a mesh description to the listeners, clusters and routes Istio would push to one sidecar,
// rendered as an Envoy admin config_dump document (v3, snake_case) so that the same parser and
// matcher serve real and synthesized configurations.
//
// Istio sources followed (istio/istio, pilot/pkg/networking/core unless noted):
// - listener.go buildSidecarOutboundListener: one listener per service port; HTTP ports bind
//   0.0.0.0 and share RDS route `<port>`; TCP/auto ports bind the service address, 0.0.0.0 when
//   there is none (ServiceEntry without addresses, ExternalName), with a CIDR address as prefix_ranges.
// - listener_builder.go buildVirtualOutboundListener / buildOutboundCatchAllNetworkFiltersOnly:
//   virtualOutbound, its blackhole and catch-all chains, PassthroughFilterChain (from 1.6.0,
//   commit 31b35eb73dc "Let TCP traffic fail through").
// - 1.5.0 v1alpha3/listener.go and listener_builder.go: the legacy shapes (match-all HTTP chain,
//   the pod-IP /32 BlackHoleCluster chain of PILOT_RESTRICT_POD_UP_TRAFFIC_LOOP).
// - listener_inbound.go: virtualInbound chains per port and PeerAuthentication mode.
// - httproute.go: the `allow_any` / `block_all` catch-all virtual host.
import type { Mesh, MeshResource, PeerAuthentication, Service, ServiceEntry, Sidecar } from './mesh.ts';
import {
  BLACKHOLE_CLUSTER,
  INBOUND_CAPTURE_PORT,
  INBOUND_PASSTHROUGH_CLUSTER,
  OUTBOUND_CAPTURE_PORT,
  PASSTHROUGH_CLUSTER,
  PASSTHROUGH_FILTER_CHAIN,
  VIRTUAL_INBOUND,
  VIRTUAL_INBOUND_BLACKHOLE,
  VIRTUAL_INBOUND_CATCHALL_HTTP,
  VIRTUAL_OUTBOUND,
  VIRTUAL_OUTBOUND_BLACKHOLE,
  VIRTUAL_OUTBOUND_CATCHALL_TCP,
} from './envoy-config.ts';
import { parseCidr } from './ip.ts';
import { kubeServicePortProtocol, listenerProtocol, parseProtocol, type IstioProtocol, type ListenerProtocol } from './service-protocol.ts';

type Json = Record<string, unknown>;

const T = {
  listener: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  cluster: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  route: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
  tcp: 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
  hcm: 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
  tlsInspector: 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector',
  httpInspector: 'type.googleapis.com/envoy.extensions.filters.listener.http_inspector.v3.HttpInspector',
  originalDst: 'type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst',
  downstreamTls: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
};

const HTTP_ALPNS = ['http/1.1', 'h2c'];
const MTLS_TCP_ALPNS = ['istio-peer-exchange', 'istio'];
const MTLS_HTTP_ALPNS = ['istio-http/1.0', 'istio-http/1.1', 'istio-h2'];
const DOMAIN_SUFFIX = 'svc.cluster.local';

/** A service port as the registry sees it (pilot model.Service × Port). */
interface RegistryService {
  hostname: string;
  namespace: string;
  /** Kubernetes Service name (for short domains), absent for ServiceEntries. */
  kubeName?: string;
  /** VIP or CIDR; undefined = no address. */
  addresses: string[];
  ports: Array<{ port: number; name: string; protocol: IstioProtocol }>;
  resolution: 'ClientSideLB' | 'DNS' | 'DNSRoundRobin' | 'Passthrough';
  headless: boolean;
  endpoints: string[];
  source: string;
}

export interface SynthesisResult {
  /** An Envoy admin config_dump document; feed it to parseConfigDump. */
  configDump: Json;
  /** What Istio would log or what pathlab does not model, in words. */
  warnings: string[];
}

function ns(r: { metadata?: { namespace?: string } | undefined }): string {
  return r.metadata?.namespace ?? 'default';
}

function fromService(s: Service, warnings: string[]): RegistryService {
  const namespace = ns(s);
  const name = s.metadata.name;
  const external = s.spec.type === 'ExternalName';
  const headless = s.spec.clusterIP === 'None';
  const vip = !external && !headless && s.spec.clusterIP && s.spec.clusterIP !== '' ? [s.spec.clusterIP] : [];
  if (!external && !headless && vip.length === 0) {
    warnings.push(`Service ${namespace}/${name} has no spec.clusterIP: pathlab treats it as having no address (listeners on 0.0.0.0)`);
  }
  return {
    hostname: `${name}.${namespace}.${DOMAIN_SUFFIX}`,
    namespace,
    kubeName: name,
    addresses: vip,
    ports: s.spec.ports.map((p) => ({ port: p.port, name: p.name ?? '', protocol: kubeServicePortProtocol(p) })),
    resolution: external ? 'DNS' : headless ? 'Passthrough' : 'ClientSideLB',
    headless,
    endpoints: external && s.spec.externalName ? [s.spec.externalName] : [],
    source: `Service ${namespace}/${name}`,
  };
}

function fromServiceEntry(se: ServiceEntry): RegistryService[] {
  const namespace = ns(se);
  const res = se.spec.resolution ?? 'NONE';
  return se.spec.hosts.map((host) => ({
    hostname: host,
    namespace,
    addresses: se.spec.addresses ?? [],
    ports: se.spec.ports.map((p) => ({ port: p.number, name: p.name, protocol: parseProtocol(p.protocol ?? p.name.split('-', 1)[0]) })),
    resolution: res === 'DNS' ? 'DNS' : res === 'DNS_ROUND_ROBIN' ? 'DNSRoundRobin' : res === 'STATIC' ? 'ClientSideLB' : 'Passthrough',
    headless: false,
    endpoints: res === 'DNS' || res === 'DNS_ROUND_ROBIN' ? (se.spec.endpoints?.map((e) => e.address) ?? [host]) : (se.spec.endpoints?.map((e) => e.address) ?? []),
    source: `ServiceEntry ${namespace}/${se.metadata.name}`,
  }));
}

function labelsMatch(selector: Record<string, string> | undefined, labels: Record<string, string>): boolean {
  if (!selector) return true;
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

/** The Sidecar resource that applies to the proxy: selector match in its namespace, else namespace default, else the root namespace's. */
function sidecarFor(mesh: Mesh, sidecars: Sidecar[]): Sidecar | undefined {
  const mine = sidecars.filter((s) => ns(s) === mesh.proxy.namespace);
  return (
    mine.find((s) => s.spec.workloadSelector && labelsMatch(s.spec.workloadSelector.labels, mesh.proxy.labels)) ??
    mine.find((s) => !s.spec.workloadSelector) ??
    sidecars.find((s) => ns(s) === mesh.meshConfig.rootNamespace && !s.spec.workloadSelector)
  );
}

function hostMatches(pattern: string, host: string): boolean {
  if (pattern === '*') return true;
  if (pattern.startsWith('*.')) return host.endsWith(pattern.slice(1));
  return pattern === host;
}

/** Is a service imported by this proxy under the Sidecar's egress hosts (`namespace/dnsName`)? */
function visible(svc: RegistryService, sidecar: Sidecar | undefined, proxyNs: string): boolean {
  if (!sidecar?.spec.egress) return true;
  return sidecar.spec.egress.some((e) =>
    e.hosts.some((h) => {
      const [n, dns] = h.split('/') as [string, string];
      const nsOk = n === '*' || (n === '.' ? svc.namespace === proxyNs : n === svc.namespace);
      return n !== '~' && nsOk && hostMatches(dns, svc.hostname);
    }),
  );
}

type MtlsMode = 'DISABLE' | 'PERMISSIVE' | 'STRICT';

/**
 * The proxy's effective PeerAuthentication, as istiod composes it (security/authn
 * ComposePeerAuthentication): the mesh-wide policy (root namespace, no selector), then the
 * namespace's (no selector), then the workload's (selector matching), each UNSET or absent mode
 * inheriting the one before, PERMISSIVE when none says; the workload policy's portLevelMtls
 * overrides it per port (the pod's port), an UNSET port inheriting the workload's mode.
 */
function peerAuthModes(mesh: Mesh, pas: PeerAuthentication[]): { mode: MtlsMode; ports: Map<number, MtlsMode> } {
  const forced = mesh.proxy.peerAuthentication;
  if (forced) return { mode: forced, ports: new Map() };
  const set = (m: string | undefined): MtlsMode | undefined => (m === undefined || m === 'UNSET' ? undefined : (m as MtlsMode));
  const first = (list: PeerAuthentication[]) => list[0];
  const inNs = pas.filter((p) => ns(p) === mesh.proxy.namespace);
  const meshWide = first(pas.filter((p) => ns(p) === mesh.meshConfig.rootNamespace && !p.spec.selector));
  const namespace = first(inNs.filter((p) => !p.spec.selector));
  const workload = first(inNs.filter((p) => p.spec.selector && labelsMatch(p.spec.selector.matchLabels, mesh.proxy.labels)));
  let mode: MtlsMode = 'PERMISSIVE';
  for (const p of [meshWide, namespace, workload]) mode = set(p?.spec.mtls?.mode) ?? mode;
  const ports = new Map<number, MtlsMode>();
  for (const [port, m] of Object.entries(workload?.spec.portLevelMtls ?? {})) ports.set(Number(port), set(m.mode) ?? mode);
  return { mode, ports };
}

function clusterName(port: number, hostname: string): string {
  return `outbound|${port}||${hostname}`;
}

function tcpProxy(cluster: string): Json {
  return { name: 'envoy.filters.network.tcp_proxy', typed_config: { '@type': T.tcp, stat_prefix: cluster, cluster } };
}

function hcmRds(rds: string): Json {
  return {
    name: 'envoy.filters.network.http_connection_manager',
    typed_config: { '@type': T.hcm, stat_prefix: `outbound_${rds}`, rds: { route_config_name: rds, config_source: { ads: {} } } },
  };
}

function hcmInline(routeConfig: Json): Json {
  return {
    name: 'envoy.filters.network.http_connection_manager',
    typed_config: { '@type': T.hcm, stat_prefix: 'inbound', route_config: routeConfig },
  };
}

function prefix(cidr: string): Json {
  const c = parseCidr(cidr)!;
  return { address_prefix: c.addressPrefix, prefix_len: c.prefixLen };
}

function socket(address: string, port: number): Json {
  return { socket_address: { address, port_value: port } };
}

/**
 * A service's virtual host domains. Current era (checked against istiod 1.30's own generation):
 * the FQDN with and without its trailing dot, the short name in the proxy's namespace,
 * `name.ns.svc`, `name.ns`, the VIP, no `:port` variants (the route configuration ignores the
 * Host's port instead). Legacy era: each name also with `:port`, and `name.ns.svc.cluster`.
 */
function vhostDomains(svc: RegistryService, port: number, proxyNs: string, legacy: boolean): string[] {
  const out: string[] = [];
  const add = (d: string) => (legacy ? out.push(d, `${d}:${port}`) : out.push(d));
  add(svc.hostname);
  if (!legacy) out.push(`${svc.hostname}.`);
  if (svc.kubeName) {
    const base = `${svc.kubeName}.${svc.namespace}`;
    if (svc.namespace === proxyNs) add(svc.kubeName);
    if (legacy) {
      add(base);
      add(`${base}.svc.cluster`);
      add(`${base}.svc`);
    } else {
      add(`${base}.svc`);
      add(base);
    }
  }
  for (const a of svc.addresses) if (!a.includes('/')) add(a);
  return out;
}

function catchAllVhost(mode: 'ALLOW_ANY' | 'REGISTRY_ONLY'): Json {
  return mode === 'ALLOW_ANY'
    ? { name: 'allow_any', domains: ['*'], routes: [{ name: 'allow_any', match: { prefix: '/' }, route: { cluster: PASSTHROUGH_CLUSTER } }] }
    : { name: 'block_all', domains: ['*'], routes: [{ name: 'block_all', match: { prefix: '/' }, direct_response: { status: 502 } }] };
}

interface Contribution {
  svc: RegistryService;
  port: number;
  protocol: ListenerProtocol;
  /** A CIDR address on a wildcard bind, matched by prefix_ranges. */
  cidr?: string;
  /** A TLS or HTTPS port: on a wildcard bind istiod matches it by SNI (server_names), not by port alone. */
  tls?: boolean;
}

/**
 * Builds the configuration Istio would push to the sidecar of `mesh.proxy`, for `mesh.era`
 * (`current` = Istio 1.6 and later, `legacy` = 1.3–1.5).
 */
export function synthesizeSidecar(mesh: Mesh): SynthesisResult {
  const warnings: string[] = [];
  const mode0 = mesh.meshConfig.outboundTrafficPolicy.mode;
  const resources: MeshResource[] = mesh.resources;
  const sidecars = resources.filter((r): r is Sidecar => r.kind === 'Sidecar');
  const sidecar = sidecarFor(mesh, sidecars);
  const mode = sidecar?.spec.outboundTrafficPolicy?.mode ?? mode0;
  const catchAllCluster = mode === 'ALLOW_ANY' ? PASSTHROUGH_CLUSTER : BLACKHOLE_CLUSTER;
  const legacy = mesh.era === 'legacy';
  const podIp = mesh.proxy.ip;
  const wildcard = podIp.includes(':') ? '::' : '0.0.0.0';

  const registry: RegistryService[] = [];
  for (const r of resources) {
    if (r.kind === 'Service') registry.push(fromService(r as Service, warnings));
    else if (r.kind === 'ServiceEntry') registry.push(...fromServiceEntry(r as ServiceEntry));
    else if (r.kind !== 'Sidecar' && r.kind !== 'PeerAuthentication') {
      warnings.push(`${r.kind} ${r.metadata?.name ?? ''}: not used by the Envoy synthesis`);
    }
  }
  const services = registry.filter((s) => visible(s, sidecar, mesh.proxy.namespace));
  const imported = new Set(services);
  for (const s of registry) {
    if (!imported.has(s)) warnings.push(`${s.source} (${s.hostname}) is not imported: the Sidecar's egress hosts leave it out`);
  }

  // Outbound listeners, keyed by `<bind>_<port>` (getListenerName).
  const byKey = new Map<string, { bind: string; port: number; parts: Contribution[] }>();
  const contribute = (bind: string, c: Contribution) => {
    const key = `${bind}_${c.port}`;
    const entry = byKey.get(key) ?? { bind, port: c.port, parts: [] };
    entry.parts.push(c);
    byKey.set(key, entry);
  };
  const clusters: Json[] = [];
  for (const svc of services) {
    for (const p of svc.ports) {
      const protocol = listenerProtocol(p.protocol);
      if (protocol === 'NONE') continue;
      const tls = p.protocol === 'TLS' || p.protocol === 'HTTPS';
      // One cluster per name: a ServiceEntry for a Kubernetes Service's host adds none (Envoy
      // refuses a CDS update with two clusters of one name; the Service, listed first, is kept).
      const cluster = outboundCluster(svc, p.port);
      if (clusters.some((c) => c.name === cluster.name)) {
        warnings.push(`${svc.source}: ${String(cluster.name)} exists already (another service has that host and port): kept the first`);
      } else clusters.push(cluster);
      if (protocol === 'HTTP') {
        contribute(wildcard, { svc, port: p.port, protocol });
        continue;
      }
      if (svc.headless) {
        if (svc.endpoints.length === 0) {
          warnings.push(`${svc.source} is headless with no endpoints in the mesh description: no listener for port ${p.port}`);
        }
        for (const ep of svc.endpoints) contribute(ep, { svc, port: p.port, protocol });
        continue;
      }
      if (svc.addresses.length === 0) {
        if (svc.resolution === 'Passthrough' && svc.endpoints.length > 0) {
          for (const ep of svc.endpoints) contribute(ep, { svc, port: p.port, protocol });
        } else {
          contribute(wildcard, { svc, port: p.port, protocol, ...(tls ? { tls } : {}) });
        }
        continue;
      }
      for (const a of svc.addresses) {
        const c = parseCidr(a);
        const full = c && c.prefixLen === (a.includes(':') ? 128 : 32);
        if (!c) warnings.push(`${svc.source}: address ${a} is not an IP or CIDR, ignored`);
        else if (full || !a.includes('/')) contribute(c.addressPrefix, { svc, port: p.port, protocol });
        else contribute(wildcard, { svc, port: p.port, protocol, cidr: a, ...(tls ? { tls } : {}) });
      }
    }
  }

  const listeners: Json[] = [];
  const routes: Json[] = [];
  const httpRoutes = new Map<number, Json[]>();
  for (const [key, { bind, port, parts }] of byKey) {
    listeners.push(outboundListener(key, bind, port, parts));
  }
  for (const [port, vhosts] of httpRoutes) {
    routes.push({ '@type': T.route, name: String(port), virtual_hosts: [...vhosts, catchAllVhost(mode)], validate_clusters: false, ...(legacy ? {} : { ignore_port_in_host_matching: true }) });
  }

  function outboundListener(name: string, bind: string, port: number, parts: Contribution[]): Json {
    const isWildcard = bind === wildcard;
    const http = parts.filter((c) => c.protocol === 'HTTP' || (c.protocol === 'AUTO' && isWildcard));
    // TLS on a wildcard bind (current era, checked against istiod 1.30): a chain per host matching
    // its SNI, and what matches none (other names, no TLS) falls to PassthroughFilterChain.
    const sniParts = !legacy && isWildcard ? parts.filter((c) => c.tls && c.protocol === 'TCP') : [];
    const tcpParts = parts.filter((c) => (c.protocol === 'TCP' || c.protocol === 'AUTO') && !sniParts.includes(c));
    const cidrParts = tcpParts.filter((c) => c.cidr);
    let tcpAll = tcpParts.filter((c) => !c.cidr);
    if (tcpAll.length > 1) {
      const [first, ...rest] = tcpAll;
      warnings.push(
        `listener ${name}: ${rest.map((c) => c.svc.hostname).join(', ')} conflict with ${first!.svc.hostname} on port ${port}; Istio keeps one TCP route`,
      );
      tcpAll = [first!];
    }
    const chains: Json[] = [];
    let defaultChain: Json | undefined;
    for (const c of sniParts) {
      chains.push({
        filter_chain_match: { ...(c.cidr ? { prefix_ranges: [prefix(c.cidr)] } : {}), server_names: [c.svc.hostname] },
        filters: [tcpProxy(clusterName(port, c.svc.hostname))],
      });
    }
    if (legacy && isWildcard) {
      chains.push({ filter_chain_match: { prefix_ranges: [prefix(podIp)] }, filters: [tcpProxy(BLACKHOLE_CLUSTER)] });
    }
    for (const c of cidrParts) {
      chains.push({ filter_chain_match: { prefix_ranges: [prefix(c.cidr!)] }, filters: [tcpProxy(clusterName(port, c.svc.hostname))] });
    }
    const sniff = http.length > 0 && (!legacy || tcpAll.length > 0 || http.some((c) => c.protocol === 'AUTO'));
    if (http.length > 0) {
      const rds = isWildcard ? String(port) : `${http[0]!.svc.hostname}:${port}`;
      const vhosts = httpRoutes.get(port) ?? [];
      if (isWildcard) {
        for (const c of http) {
          if (vhosts.some((v) => v.name === `${c.svc.hostname}:${port}`)) continue; // as its cluster: the first service of a host
          vhosts.push({
            name: `${c.svc.hostname}:${port}`,
            domains: vhostDomains(c.svc, port, mesh.proxy.namespace, legacy),
            routes: [{ name: 'default', match: { prefix: '/' }, route: { cluster: clusterName(port, c.svc.hostname) } }],
          });
        }
        httpRoutes.set(port, vhosts);
      }
      chains.push({
        ...(sniff ? { filter_chain_match: { transport_protocol: 'raw_buffer', application_protocols: HTTP_ALPNS } } : {}),
        filters: [hcmRds(rds)],
      });
    }
    // AUTO on a VIP: HTTP chain by sniffing, the service's TCP chain as default.
    const autoVip = !isWildcard ? tcpParts.filter((c) => c.protocol === 'AUTO') : [];
    if (autoVip.length > 0) {
      const svc = autoVip[0]!.svc;
      const rdsName = `${svc.hostname}:${port}`;
      routes.push({
        '@type': T.route,
        name: rdsName,
        virtual_hosts: [
          {
            name: rdsName,
            domains: vhostDomains(svc, port, mesh.proxy.namespace, legacy),
            routes: [{ name: 'default', match: { prefix: '/' }, route: { cluster: clusterName(port, svc.hostname) } }],
          },
          catchAllVhost(mode),
        ],
        ...(legacy ? {} : { ignore_port_in_host_matching: true }),
      });
      chains.push({ filter_chain_match: { transport_protocol: 'raw_buffer', application_protocols: HTTP_ALPNS }, filters: [hcmRds(rdsName)] });
    }
    const tcpTarget = tcpAll[0];
    if (tcpTarget) {
      const chain = { filters: [tcpProxy(clusterName(port, tcpTarget.svc.hostname))] };
      if (chains.length > 0 && !legacy) defaultChain = chain;
      else chains.push(chain);
    } else if (isWildcard && !legacy) {
      defaultChain = { name: PASSTHROUGH_FILTER_CHAIN, filters: [tcpProxy(catchAllCluster)] };
    }
    const sniffing = chains.some((c) => (c.filter_chain_match as Json | undefined)?.application_protocols);
    // istiod adds tls_inspector only where a chain matches on TLS (populateListenerFilters: transport_protocol tls; SNI
    // chains): a listener of HTTP and TCP chains has http_inspector alone, and a short client preface is not held back.
    const bySni = chains.some((c) => (c.filter_chain_match as Json | undefined)?.server_names || (c.filter_chain_match as Json | undefined)?.transport_protocol === 'tls');
    return {
      '@type': T.listener,
      name,
      address: socket(bind, port),
      filter_chains: chains,
      ...(defaultChain ? { default_filter_chain: defaultChain } : {}),
      ...(sniffing || bySni
        ? {
            listener_filters: [
              ...(bySni ? [{ name: 'envoy.filters.listener.tls_inspector', typed_config: { '@type': T.tlsInspector } }] : []),
              ...(sniffing ? [{ name: 'envoy.filters.listener.http_inspector', typed_config: { '@type': T.httpInspector } }] : []),
            ],
            listener_filters_timeout: '0s',
            continue_on_listener_filters_timeout: true,
          }
        : {}),
      traffic_direction: 'OUTBOUND',
      bind_to_port: false,
    };
  }

  // virtualOutbound.
  listeners.push({
    '@type': T.listener,
    name: VIRTUAL_OUTBOUND,
    address: socket(wildcard, OUTBOUND_CAPTURE_PORT),
    filter_chains: legacy
      ? [
          { filter_chain_match: { prefix_ranges: [prefix(podIp)] }, filters: [tcpProxy(BLACKHOLE_CLUSTER)] },
          { filters: [tcpProxy(catchAllCluster)] },
        ]
      : [
          { name: VIRTUAL_OUTBOUND_BLACKHOLE, filter_chain_match: { destination_port: OUTBOUND_CAPTURE_PORT }, filters: [tcpProxy(BLACKHOLE_CLUSTER)] },
          { name: VIRTUAL_OUTBOUND_CATCHALL_TCP, filters: [tcpProxy(catchAllCluster)] },
        ],
    use_original_dst: true,
    traffic_direction: 'OUTBOUND',
  });

  // virtualInbound.
  const paModes = peerAuthModes(mesh, resources.filter((r): r is PeerAuthentication => r.kind === 'PeerAuthentication'));
  listeners.push(virtualInbound(mesh, paModes, clusters, warnings));

  clusters.push(
    { '@type': T.cluster, name: PASSTHROUGH_CLUSTER, type: 'ORIGINAL_DST', lb_policy: 'CLUSTER_PROVIDED' },
    { '@type': T.cluster, name: BLACKHOLE_CLUSTER, type: 'STATIC' },
    { '@type': T.cluster, name: INBOUND_PASSTHROUGH_CLUSTER, type: 'ORIGINAL_DST', lb_policy: 'CLUSTER_PROVIDED', upstream_bind_config: { source_address: socket('127.0.0.6', 0).socket_address } },
  );

  const configDump = {
    configs: [
      {
        '@type': 'type.googleapis.com/envoy.admin.v3.BootstrapConfigDump',
        bootstrap: {
          node: {
            id: `sidecar~${podIp}~${mesh.proxy.name}.${mesh.proxy.namespace}~${mesh.proxy.namespace}.${DOMAIN_SUFFIX}`,
            metadata: { ISTIO_VERSION: legacy ? 'pathlab-synthesized-1.3-1.5' : 'pathlab-synthesized-1.6+', INTERCEPTION_MODE: 'REDIRECT' },
          },
        },
      },
      {
        '@type': 'type.googleapis.com/envoy.admin.v3.ClustersConfigDump',
        dynamic_active_clusters: clusters.map((cluster) => ({ cluster })),
      },
      {
        '@type': 'type.googleapis.com/envoy.admin.v3.ListenersConfigDump',
        dynamic_listeners: listeners.map((listener) => ({ name: listener.name, active_state: { listener } })),
      },
      {
        '@type': 'type.googleapis.com/envoy.admin.v3.RoutesConfigDump',
        dynamic_route_configs: routes.map((route_config) => ({ route_config })),
      },
    ],
  };
  return { configDump, warnings };
}

function outboundCluster(svc: RegistryService, port: number): Json {
  const name = clusterName(port, svc.hostname);
  switch (svc.resolution) {
    case 'Passthrough':
      return { '@type': T.cluster, name, type: 'ORIGINAL_DST', lb_policy: 'CLUSTER_PROVIDED' };
    case 'DNS':
    case 'DNSRoundRobin':
      return {
        '@type': T.cluster,
        name,
        type: svc.resolution === 'DNS' ? 'STRICT_DNS' : 'LOGICAL_DNS',
        load_assignment: {
          cluster_name: name,
          endpoints: [{ lb_endpoints: svc.endpoints.map((e) => ({ endpoint: { address: socket(e, port) } })) }],
        },
      };
    case 'ClientSideLB':
      // EDS; a STATIC ServiceEntry's endpoints are what EDS would deliver, shown inline for explain.
      return {
        '@type': T.cluster,
        name,
        type: 'EDS',
        eds_cluster_config: { service_name: name, eds_config: { ads: {} } },
        ...(svc.endpoints.length
          ? { load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: svc.endpoints.map((e) => ({ endpoint: { address: socket(e, port) } })) }] } }
          : {}),
      };
  }
}

function virtualInbound(mesh: Mesh, modes: { mode: MtlsMode; ports: Map<number, MtlsMode> }, clusters: Json[], _warnings: string[]): Json {
  const mode = modes.mode;
  const tls = { transport_socket: { name: 'envoy.transport_sockets.tls', typed_config: { '@type': T.downstreamTls } } };
  const all = [prefix('0.0.0.0/0')];
  const passthroughHttp = (): Json =>
    hcmInline({
      name: 'InboundPassthroughCluster',
      virtual_hosts: [{ name: 'inbound|http|0', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: INBOUND_PASSTHROUGH_CLUSTER } }] }],
    });
  const chains: Json[] = [
    { name: VIRTUAL_INBOUND_BLACKHOLE, filter_chain_match: { destination_port: INBOUND_CAPTURE_PORT }, filters: [tcpProxy(BLACKHOLE_CLUSTER)] },
  ];
  const httpPorts: number[] = [];
  for (const p of mesh.proxy.ports) {
    const proto = listenerProtocol(parseProtocol(p.protocol ?? p.name?.split('-', 1)[0]));
    if (proto === 'NONE') continue;
    const cluster = `inbound|${p.port}||`;
    // Istio's inbound clusters (1.10 and later) reach the app at the original destination, from 127.0.0.6.
    clusters.push({ '@type': T.cluster, name: cluster, type: 'ORIGINAL_DST', lb_policy: 'CLUSTER_PROVIDED', upstream_bind_config: { source_address: socket('127.0.0.6', 0).socket_address } });
    const terminal =
      proto === 'HTTP'
        ? hcmInline({ name: cluster, virtual_hosts: [{ name: `inbound|http|${p.port}`, domains: ['*'], routes: [{ name: 'default', match: { prefix: '/' }, route: { cluster } }] }] })
        : tcpProxy(cluster);
    if (proto === 'HTTP') httpPorts.push(p.port);
    const name = `0.0.0.0_${p.port}`;
    const portMode = modes.ports.get(p.port) ?? mode;
    if (portMode !== 'DISABLE') {
      chains.push({
        name,
        filter_chain_match: { destination_port: p.port, transport_protocol: 'tls', application_protocols: ['istio', ...MTLS_TCP_ALPNS.filter((a) => a !== 'istio'), ...MTLS_HTTP_ALPNS] },
        filters: [terminal],
        ...tls,
      });
    }
    if (portMode !== 'STRICT') {
      chains.push({ name, filter_chain_match: { destination_port: p.port, transport_protocol: 'raw_buffer' }, filters: [terminal] });
    }
  }
  if (mode !== 'DISABLE') {
    chains.push(
      { name: VIRTUAL_INBOUND_CATCHALL_HTTP, filter_chain_match: { prefix_ranges: all, transport_protocol: 'tls', application_protocols: MTLS_HTTP_ALPNS }, filters: [passthroughHttp()], ...tls },
      { name: VIRTUAL_INBOUND, filter_chain_match: { prefix_ranges: all, transport_protocol: 'tls', application_protocols: MTLS_TCP_ALPNS }, filters: [tcpProxy(INBOUND_PASSTHROUGH_CLUSTER)], ...tls },
    );
  }
  if (mode !== 'STRICT') {
    chains.push(
      { name: VIRTUAL_INBOUND_CATCHALL_HTTP, filter_chain_match: { prefix_ranges: all, transport_protocol: 'raw_buffer', application_protocols: HTTP_ALPNS }, filters: [passthroughHttp()] },
      { name: VIRTUAL_INBOUND, filter_chain_match: { prefix_ranges: all, transport_protocol: 'raw_buffer' }, filters: [tcpProxy(INBOUND_PASSTHROUGH_CLUSTER)] },
    );
  }
  if (mode === 'PERMISSIVE') {
    chains.push({ name: VIRTUAL_INBOUND, filter_chain_match: { prefix_ranges: all, transport_protocol: 'tls' }, filters: [tcpProxy(INBOUND_PASSTHROUGH_CLUSTER)] });
  }
  const range = (start: number) => ({ destination_port_range: { start, end: start + 1 } });
  const anyOf = (ports: number[]) => (ports.length === 1 ? range(ports[0]!) : { or_match: { rules: ports.map(range) } });
  // The TLS inspector, as istiod writes it: off for the ports whose mode is DISABLE (and 15006);
  // when the workload's mode is DISABLE, on only for the ports that still take mTLS, or absent.
  function tlsInspector(): Json[] {
    const filter = (disabled: Json) => [{ name: 'envoy.filters.listener.tls_inspector', typed_config: { '@type': T.tlsInspector }, filter_disabled: disabled }];
    const portModes = mesh.proxy.ports.map((p) => ({ port: p.port, mode: modes.ports.get(p.port) ?? mode }));
    if (mode === 'DISABLE') {
      const tlsPorts = portModes.filter((p) => p.mode !== 'DISABLE').map((p) => p.port).sort((a, b) => a - b);
      return tlsPorts.length === 0 ? [] : filter({ not_match: anyOf(tlsPorts) });
    }
    const off = portModes.filter((p) => p.mode === 'DISABLE').map((p) => p.port).sort((a, b) => a - b);
    return filter(anyOf([...off, INBOUND_CAPTURE_PORT]));
  }
  return {
    '@type': T.listener,
    name: VIRTUAL_INBOUND,
    address: socket('0.0.0.0', INBOUND_CAPTURE_PORT),
    filter_chains: chains,
    listener_filters: [
      { name: 'envoy.filters.listener.original_dst', typed_config: { '@type': T.originalDst } },
      ...tlsInspector(),
      {
        name: 'envoy.filters.listener.http_inspector',
        typed_config: { '@type': T.httpInspector },
        // An or_match needs two rules at least: with no HTTP port, Istio writes the one rule alone.
        filter_disabled: httpPorts.length === 0 ? range(INBOUND_CAPTURE_PORT) : { or_match: { rules: [...httpPorts.map(range), range(INBOUND_CAPTURE_PORT)] } },
      },
    ],
    listener_filters_timeout: '0s',
    continue_on_listener_filters_timeout: true,
    traffic_direction: 'INBOUND',
  };
}
