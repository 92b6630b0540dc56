// What the netns lab hands a real Envoy when the Envoy model is its control plane (the Istio eras
// that cannot be built; istiod's own configuration reaches Envoy through pilot-agent over real
// xDS instead, istio-proxy.ts): the bootstrap (as Istio's: admin on 127.0.0.1:15000, Prometheus
// on 15090, readiness on 15021 through the agent's 15020) and, as file-based dynamic
// configuration, the listeners and clusters the model synthesized for the pod, made loadable:
// each cluster's endpoints, the workload certificate and the lab's root as SDS, the access logs,
// the HTTP router. Pure: MeshControl writes the files.
//
// Where this leaves Istio's shape, and why:
// - Routes are inlined in their HTTP connection manager (Istio uses RDS): a file-based RDS
//   subscription takes one route configuration per file, and explain reads both forms alike.
// - Every cluster allows one request per upstream connection (see renderResources): each
//   probe's path is its own, where Istio's pools would reuse an earlier probe's connection.
// - A service's endpoints come inline in its cluster (type STATIC), not by EDS: every file
//   subscription is an inotify instance of the proxy's uid, the kernel allows 128 per user
//   (fs.inotify.max_user_instances), and one EDS file per cluster took 13 per Envoy, so a second
//   lab's Envoys aborted at start. LDS, CDS and the two SDS secrets (their PEM inline: a secret
//   naming files makes Envoy watch their folder too) take 4 per Envoy.
// - Upstream Envoy has no `istio.alpn` HTTP filter: the ALPN an HTTP cluster's mTLS offers
//   (istio-http/1.1) is set on the cluster's TLS context (mtlsMatches), where the filter would
//   set it per request.
import { VIRTUAL_INBOUND, VIRTUAL_OUTBOUND } from '../../mesh/envoy/envoy-config.ts';
import { LAB_ACCESS_LOG_FORMAT } from '../../paths/access-log.ts';
import { PROMETHEUS_PORT, READINESS_PORT, STATUS_PORT as AGENT_PORT, TPROXY_MARK } from '../../mesh/iptables/constants.ts';

type Json = Record<string, unknown>;

export const ADMIN_PORT = 15000;
/** pilot-agent's debug port; its status port (15020: merged metrics, /healthz/ready) is STATUS_PORT. Static Envoy listeners stand in for both. */
export const AGENT_DEBUG_PORT = 15004;

const T = {
  tcp: 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
  hcm: 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
  router: 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router',
  fileLog: 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog',
  downstreamTls: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
  upstreamTls: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
  rawBuffer: 'type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer',
  secret: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret',
  httpOptions: 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
  originalSrc: 'type.googleapis.com/envoy.extensions.filters.listener.original_src.v3.OriginalSrc',
  getaddrinfo: 'type.googleapis.com/envoy.extensions.network.dns_resolver.getaddrinfo.v3.GetAddrInfoDnsResolverConfig',
};

/** Where the pod's sidecar files live (all readable by the proxy uid, none in the checkout). */
export interface SidecarPaths {
  /** The watched directory of the dynamic configuration. */
  xdsDir: string;
  accessLog: { outbound: string; inbound: string };
}

export interface SidecarFacts {
  pod: string;
  namespace: string;
  ip: string;
  interception: 'REDIRECT' | 'TPROXY';
  /** Endpoints per cluster name ("ip:port"), as EDS would deliver them. */
  endpoints: Record<string, string[]>;
  /** SPIFFE identity per meshed pod IP: upstream legs to them are mTLS (Istio's auto mTLS). */
  identities: Record<string, string>;
  /** The pod's workload certificate chain, its key and the lab's root, PEM (the SDS secrets carry them inline). */
  pem: { cert: string; key: string; ca: string };
}

const TRUST_DOMAIN_PREFIX = 'spiffe://cluster.local/';
const MTLS_TCP_ALPN = ['istio-peer-exchange', 'istio'];
const MTLS_HTTP_ALPN = ['istio-http/1.1'];

const socket = (address: string, port: number): Json => ({ socket_address: { address, port_value: port } });
const fileSource = (paths: SidecarPaths, file: string): Json => ({
  resource_api_version: 'V3',
  path_config_source: { path: `${paths.xdsDir}/${file}`, watched_directory: { path: paths.xdsDir } },
});

export const XDS_FILES = { lds: 'lds.json', cds: 'cds.json', secretCert: 'sds-default.json', secretRoot: 'sds-rootca.json' } as const;

function fileLog(path: string, filter?: Json): Json {
  return {
    name: 'envoy.access_loggers.file',
    ...(filter ? { filter } : {}),
    typed_config: { '@type': T.fileLog, path, log_format: { text_format_source: { inline_string: `${LAB_ACCESS_LOG_FORMAT}\n` } } },
  };
}

/**
 * The bootstrap: node, admin, the file subscriptions, and the static listeners of Istio's
 * bootstrap (15090 Prometheus, 15021 readiness through the agent). pilot-agent's own ports, until
 * the lab runs pilot-agent, are static listeners too: 15020 answers /healthz/ready from Envoy's
 * /ready (200 once LIVE with its first configuration) and /stats/prometheus from Envoy's; 15004
 * (127.0.0.1) answers that it stands in for the agent's debug port.
 */
export function renderBootstrap(node: Json, paths: SidecarPaths): Json {
  const router = { name: 'envoy.filters.http.router', typed_config: { '@type': T.router } };
  const hcmListener = (address: string, port: number, routes: Json[]): Json => ({
    name: `${address}_${port}`,
    address: socket(address, port),
    filter_chains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: {
              '@type': T.hcm,
              stat_prefix: `${address}_${port}`,
              route_config: { virtual_hosts: [{ name: 'backend', domains: ['*'], routes }] },
              http_filters: [router],
            },
          },
        ],
      },
    ],
  });
  const to = (prefix: string, cluster: string, rewrite?: string): Json => ({
    match: { prefix },
    route: { cluster, ...(rewrite ? { prefix_rewrite: rewrite } : {}) },
  });
  const staticCluster = (name: string, port: number): Json => ({
    name,
    type: 'STATIC',
    load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: [{ endpoint: { address: socket('127.0.0.1', port) } }] }] },
  });
  return {
    node,
    admin: { address: socket('127.0.0.1', ADMIN_PORT) },
    dynamic_resources: { lds_config: fileSource(paths, XDS_FILES.lds), cds_config: fileSource(paths, XDS_FILES.cds) },
    static_resources: {
      clusters: [staticCluster('prometheus_stats', ADMIN_PORT), staticCluster('agent', AGENT_PORT)],
      listeners: [
        hcmListener('0.0.0.0', PROMETHEUS_PORT, [to('/stats/prometheus', 'prometheus_stats')]),
        hcmListener('0.0.0.0', READINESS_PORT, [to('/healthz/ready', 'agent')]),
        hcmListener('0.0.0.0', AGENT_PORT, [to('/healthz/ready', 'prometheus_stats', '/ready'), to('/stats/prometheus', 'prometheus_stats')]),
        hcmListener('127.0.0.1', AGENT_DEBUG_PORT, [{ match: { prefix: '/' }, direct_response: { status: 200, body: { inline_string: '{"pilot-agent":"pathlab stand-in: an Envoy listener"}\n' } } }]),
      ],
    },
  };
}

/** The files of one push, by name in the watched directory: each a DiscoveryResponse of `version`. */
export function renderResources(configDump: unknown, facts: SidecarFacts, paths: SidecarPaths, version: string): Map<string, Json> {
  const dump = configDump as { configs: Json[] };
  const section = (t: string) => dump.configs.find((c) => String(c['@type']).endsWith(t)) ?? {};
  const listeners = ((section('.ListenersConfigDump').dynamic_listeners as Json[] | undefined) ?? []).map((d) => (d.active_state as Json).listener as Json);
  const clusters = ((section('.ClustersConfigDump').dynamic_active_clusters as Json[] | undefined) ?? []).map((d) => d.cluster as Json);
  const routes = ((section('.RoutesConfigDump').dynamic_route_configs as Json[] | undefined) ?? []).map((d) => d.route_config as Json);
  const routeByName = new Map(routes.map((r) => [String(r.name), r]));
  // Clusters an HTTP connection manager routes to: their mTLS offers Istio's HTTP ALPN.
  const httpClusters = new Set(
    routes.flatMap((r) => ((r.virtual_hosts as Json[] | undefined) ?? []).flatMap((v) => ((v.routes as Json[] | undefined) ?? []).map((x) => String((x.route as Json | undefined)?.cluster)))),
  );
  const out = new Map<string, Json>();
  const response = (resources: Json[]): Json => ({ version_info: version, resources });

  const renderedListeners = listeners.map((l0) => {
    const l = structuredClone(l0);
    const inbound = l.name === VIRTUAL_INBOUND;
    const log = inbound ? paths.accessLog.inbound : paths.accessLog.outbound;
    const chains = [...((l.filter_chains as Json[] | undefined) ?? []), ...(l.default_filter_chain ? [l.default_filter_chain as Json] : [])];
    for (const chain of chains) {
      for (const f of (chain.filters as Json[] | undefined) ?? []) {
        const tc = f.typed_config as Json;
        if (tc['@type'] === T.tcp) tc.access_log = [fileLog(log)];
        if (tc['@type'] === T.hcm) {
          const rds = tc.rds as { route_config_name: string } | undefined;
          if (rds) {
            const rc = routeByName.get(rds.route_config_name);
            if (!rc) throw new Error(`listener ${String(l.name)}: no route configuration ${rds.route_config_name}`);
            const { '@type': _type, ...inline } = rc;
            tc.route_config = inline;
            delete tc.rds;
          }
          // As Istio's RDS routes: clusters are not checked when the listener loads (an inline
          // route is, by default), so a listener that arrives before its cluster is not refused.
          tc.route_config = { ...uniqueDomains(tc.route_config as Json), validate_clusters: false };
          // The model names no HTTP filter: the router.
          tc.http_filters = [{ name: 'envoy.filters.http.router', typed_config: { '@type': T.router } }];
          tc.access_log = [fileLog(log)];
        }
      }
      const ts = chain.transport_socket as Json | undefined;
      if (ts && (ts.typed_config as Json)['@type'] === T.downstreamTls) ts.typed_config = downstreamTls(paths);
    }
    // Connections no chain takes are logged by the listener (response flag NR), as Istio does.
    l.access_log = [fileLog(log, { response_flag_filter: { flags: ['NR'] } })];
    // TPROXY (Istio's listener builder): both catch-all listeners are transparent, and
    // virtualInbound's original_src filter makes the connection to the app keep the caller's
    // address, marked 1337 so that istio-init's policy route sends the app's answer back to Envoy.
    if (facts.interception === 'TPROXY' && (inbound || l.name === VIRTUAL_OUTBOUND)) l.transparent = true;
    if (facts.interception === 'TPROXY' && inbound) {
      l.listener_filters = [...((l.listener_filters as Json[] | undefined) ?? []), { name: 'envoy.filters.listener.original_src', typed_config: { '@type': T.originalSrc, mark: TPROXY_MARK } }];
    }
    return l;
  });

  const renderedClusters = clusters.map((c0) => {
    const c = structuredClone(c0);
    const name = String(c.name);
    // One request per upstream connection: Envoy would otherwise reuse a connection an earlier
    // probe opened, and the SYN (the wire hop, the kernel's rule trace) would belong to that probe.
    const options = (c.typed_extension_protocol_options ??= {}) as Json;
    const http = (options['envoy.extensions.upstreams.http.v3.HttpProtocolOptions'] ??= { '@type': T.httpOptions, use_downstream_protocol_config: {} }) as Json;
    http.common_http_protocol_options = { ...((http.common_http_protocol_options as Json | undefined) ?? {}), max_requests_per_connection: 1 };
    if (c.type === 'EDS') {
      const inline = (((c.load_assignment as Json | undefined)?.endpoints as Json[] | undefined) ?? []).flatMap((e) =>
        ((e.lb_endpoints as Json[]) ?? []).map((x) => {
          const a = ((x.endpoint as Json).address as Json).socket_address as { address: string; port_value: number };
          return `${a.address}:${a.port_value}`;
        }),
      );
      const eps = facts.endpoints[name] ?? inline;
      // The endpoints EDS would deliver, inline (see the header: every file subscription costs an inotify instance).
      c.type = 'STATIC';
      delete c.eds_cluster_config;
      c.load_assignment = { cluster_name: name, endpoints: [{ lb_endpoints: eps.map((e) => lbEndpoint(e, facts)) }] };
      const sans = [...new Set(eps.map((e) => facts.identities[hostOf(e)]).filter((s): s is string => s !== undefined))];
      if (sans.length > 0) c.transport_socket_matches = mtlsMatches(name, sans, httpClusters.has(name), paths);
    }
    if (c.type === 'STRICT_DNS' || c.type === 'LOGICAL_DNS') {
      // The lab's names are in the pod's hosts file: the system resolver reads it. A name it does
      // not have fails at once (no retries: the lab has no DNS server), as an NXDOMAIN would.
      c.dns_lookup_family = 'V4_ONLY';
      c.typed_dns_resolver_config = { name: 'envoy.network.dns_resolver.getaddrinfo', typed_config: { '@type': T.getaddrinfo, num_retries: 0 } };
    }
    return c;
  });

  // The secrets' PEM inline, not by file name: Envoy would watch each named file's folder (two
  // more inotify instances). The file holding the key is readable by the proxy's group only
  // (MeshControl writes it 0640).
  out.set(XDS_FILES.secretCert, response([{ '@type': T.secret, name: 'default', tls_certificate: { certificate_chain: { inline_string: facts.pem.cert }, private_key: { inline_string: facts.pem.key } } }]));
  out.set(XDS_FILES.secretRoot, response([{ '@type': T.secret, name: 'ROOTCA', validation_context: { trusted_ca: { inline_string: facts.pem.ca } } }]));
  out.set(XDS_FILES.cds, response(renderedClusters));
  out.set(XDS_FILES.lds, response(renderedListeners));
  return out;

  function lbEndpoint(hostPort: string, f: SidecarFacts): Json {
    const i = hostPort.lastIndexOf(':');
    const ip = hostPort.slice(0, i);
    return {
      endpoint: { address: socket(ip, Number(hostPort.slice(i + 1))) },
      ...(f.identities[ip] ? { metadata: { filter_metadata: { 'envoy.transport_socket_match': { tlsMode: 'istio' } } } } : {}),
    };
  }
}

/** Where a pod's configuration comes from: the Envoy model's synthesis (file-based xDS), istiod's own generation (go/istiod-gen, over real xDS to pilot-agent), or a capture's dump, replayed as a static bootstrap. */
export type ConfigSource = 'model' | 'istiod' | 'capture';

function hostOf(hostPort: string): string {
  return hostPort.slice(0, hostPort.lastIndexOf(':'));
}

/** Envoy refuses a route configuration whose virtual hosts share a domain; Istio keeps the first. */
function uniqueDomains(rc: Json): Json {
  const seen = new Set<string>();
  const vhosts = ((rc.virtual_hosts as Json[] | undefined) ?? []).map((v) => {
    const domains = (v.domains as string[]).filter((d) => !seen.has(d.toLowerCase()));
    for (const d of domains) seen.add(d.toLowerCase());
    return { ...v, domains };
  });
  return { ...rc, virtual_hosts: vhosts.filter((v) => v.domains.length > 0) };
}

function sdsCertificate(paths: SidecarPaths): Json {
  return { name: 'default', sds_config: fileSource(paths, XDS_FILES.secretCert) };
}

function validation(paths: SidecarPaths, san: Json[]): Json {
  return {
    default_validation_context: { match_typed_subject_alt_names: san },
    validation_context_sds_secret_config: { name: 'ROOTCA', sds_config: fileSource(paths, XDS_FILES.secretRoot) },
  };
}

/** The server side of mTLS: the pod's certificate, a client certificate of the mesh's trust domain required. */
function downstreamTls(paths: SidecarPaths): Json {
  return {
    '@type': T.downstreamTls,
    common_tls_context: {
      tls_certificate_sds_secret_configs: [sdsCertificate(paths)],
      combined_validation_context: validation(paths, [{ san_type: 'URI', matcher: { prefix: TRUST_DOMAIN_PREFIX } }]),
    },
    require_client_certificate: true,
  };
}

/** Istio's auto mTLS: endpoints labelled tlsMode=istio get ISTIO_MUTUAL, the others plaintext. */
function mtlsMatches(cluster: string, sans: string[], http: boolean, paths: SidecarPaths): Json[] {
  const [, port, subset, host] = cluster.split('|');
  return [
    {
      name: 'tlsMode-istio',
      match: { tlsMode: 'istio' },
      transport_socket: {
        name: 'envoy.transport_sockets.tls',
        typed_config: {
          '@type': T.upstreamTls,
          common_tls_context: {
            tls_certificate_sds_secret_configs: [sdsCertificate(paths)],
            combined_validation_context: validation(paths, sans.map((s) => ({ san_type: 'URI', matcher: { exact: s } }))),
            alpn_protocols: http ? MTLS_HTTP_ALPN : MTLS_TCP_ALPN,
          },
          sni: `outbound_.${port}_.${subset}_.${host}`,
        },
      },
    },
    { name: 'tlsMode-disabled', match: {}, transport_socket: { name: 'envoy.transport_sockets.raw_buffer', typed_config: { '@type': T.rawBuffer } } },
  ];
}
