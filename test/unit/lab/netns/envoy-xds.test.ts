// What the netns lab hands a real Envoy (src/lab/netns/envoy-xds.ts), rendered from the Envoy
// model's synthesis of a mesh with an HTTP Service, a TCP Service, DNS and STATIC ServiceEntries
// (two of them sharing a VIP) and a mesh-wide STRICT PeerAuthentication: the properties Envoy
// needs to load it (test/netns/envoy-xds-validate.test.ts loads it into the real binary) and
// the ones the lab's observation reads (access logs, the lab's log format, auto mTLS).
import test from 'ava';
import { XDS_FILES, renderBootstrap, renderResources, type SidecarFacts } from '../../../../src/lab/netns/envoy-xds.ts';
import { LAB_ACCESS_LOG_FORMAT } from '../../../../src/paths/access-log.ts';
import { DB, FACTS, SHARED_VIP, STATIC_SE, WEB, sidecarPathsIn, synthesizedDump as synthesized, type Json } from '../../../helpers/sidecar-xds.ts';

// The type URLs written out, not imported from the renderer: a typo there must fail here.
const T = {
  tcp: 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
  hcm: 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
  router: 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router',
  fileLog: 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog',
  downstreamTls: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
  upstreamTls: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
  rawBuffer: 'type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer',
  secret: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret',
  originalSrc: 'type.googleapis.com/envoy.extensions.filters.listener.original_src.v3.OriginalSrc',
  getaddrinfo: 'type.googleapis.com/envoy.extensions.network.dns_resolver.getaddrinfo.v3.GetAddrInfoDnsResolverConfig',
};

const PATHS = sidecarPathsIn('/run/pathlab/test-pod');
const VERSION = '42';
const render = (facts: SidecarFacts = FACTS, version = VERSION) => renderResources(synthesized(), facts, PATHS, version);

const resources = (files: Map<string, Json>, name: string) => (files.get(name)!.resources as Json[]);
const listenersOf = (files: Map<string, Json>) => resources(files, XDS_FILES.lds);
const clustersOf = (files: Map<string, Json>) => resources(files, XDS_FILES.cds);
const chainsOf = (l: Json) => [...((l.filter_chains as Json[] | undefined) ?? []), ...(l.default_filter_chain ? [l.default_filter_chain as Json] : [])];
const filtersOf = (l: Json, type: string) =>
  chainsOf(l).flatMap((c) => (c.filters as Json[]).map((f) => f.typed_config as Json).filter((tc) => tc['@type'] === type));
const at = (o: unknown, ...keys: Array<string | number>): unknown => keys.reduce<unknown>((x, k) => (x as Record<string | number, unknown> | undefined)?.[k], o);

/** Every key anywhere under `v` named `key`. */
function keysNamed(v: unknown, key: string): number {
  if (Array.isArray(v)) return v.reduce<number>((n, x) => n + keysNamed(x, key), 0);
  if (v === null || typeof v !== 'object') return 0;
  return Object.entries(v).reduce((n, [k, x]) => n + (k === key ? 1 : 0) + keysNamed(x, key), 0);
}

test('one push: the listeners, the clusters and both secrets, all of the version given', (t) => {
  const files = render();
  t.deepEqual([...files.keys()].sort(), [XDS_FILES.cds, XDS_FILES.lds, XDS_FILES.secretCert, XDS_FILES.secretRoot].sort());
  for (const [name, body] of files) t.is(body.version_info, VERSION, name);
  for (const [name, body] of render(FACTS, '43')) t.is(body.version_info, '43', name);
  // As many listeners and clusters as the synthesis has, by name.
  const dump = synthesized();
  const section = (t: string) => dump.configs.find((c) => String(c['@type']).endsWith(t))!;
  t.deepEqual(listenersOf(files).map((l) => l.name), (section('.ListenersConfigDump').dynamic_listeners as Json[]).map((l) => l.name));
  t.deepEqual(clustersOf(files).map((c) => c.name), (section('.ClustersConfigDump').dynamic_active_clusters as Json[]).map((c) => at(c, 'cluster', 'name')));
  t.deepEqual(listenersOf(files).map((l) => l.name).sort(), ['0.0.0.0_443', '0.0.0.0_8080', '10.96.0.40_5432', 'virtualInbound', 'virtualOutbound']);
});

test('rendering leaves the synthesized config_dump as it was', (t) => {
  const dump = synthesized();
  const before = structuredClone(dump);
  renderResources(dump, { ...FACTS, interception: 'TPROXY' }, PATHS, VERSION);
  t.deepEqual(dump, before);
});

test('every HTTP connection manager has its route configuration inline (no rds, no @type), clusters not validated, one virtual host per domain, and the router', (t) => {
  const files = render();
  const hcms = listenersOf(files).flatMap((l) => filtersOf(l, T.hcm).map((tc) => ({ l: String(l.name), tc })));
  // The outbound 0.0.0.0_8080 (RDS in the synthesis) and virtualInbound's HTTP chains (inline there).
  t.true(hcms.some((h) => h.l === '0.0.0.0_8080'));
  t.true(hcms.filter((h) => h.l === 'virtualInbound').length >= 2);
  for (const { l, tc } of hcms) {
    t.false('rds' in tc, l);
    const rc = tc.route_config as Json;
    t.truthy(rc, l);
    t.is(keysNamed(rc, '@type'), 0, `${l}: a route_config inline has no @type`);
    t.is(rc.validate_clusters, false, l);
    const domains = (rc.virtual_hosts as Json[]).flatMap((v) => (v.domains as string[]).map((d) => d.toLowerCase()));
    t.true(domains.length > 0, l);
    t.is(new Set(domains).size, domains.length, `${l}: a domain in two virtual hosts: ${domains.join(' ')}`);
    t.deepEqual(tc.http_filters, [{ name: 'envoy.filters.http.router', typed_config: { '@type': T.router } }], l);
  }
});

test('the outbound HTTP route is the synthesized RDS route, inlined; a domain two virtual hosts share stays with the first', (t) => {
  const dump = synthesized();
  const rds = at(dump.configs.find((c) => String(c['@type']).endsWith('.RoutesConfigDump')), 'dynamic_route_configs', 0, 'route_config') as Json;
  const vhostsWith = (rc: Json, d: string) => (rc.virtual_hosts as Json[]).filter((v) => (v.domains as string[]).includes(d)).map((v) => v.name);
  // The premise: the synthesis gives the shared VIP to both ServiceEntries' virtual hosts.
  t.deepEqual(vhostsWith(rds, SHARED_VIP), ['a.example.com:8080', 'b.example.com:8080']);
  const l = listenersOf(render()).find((x) => x.name === '0.0.0.0_8080')!;
  const rc = filtersOf(l, T.hcm)[0]!.route_config as Json;
  t.is(rc.name, rds.name);
  t.deepEqual((rc.virtual_hosts as Json[]).map((v) => v.name), (rds.virtual_hosts as Json[]).map((v) => v.name));
  t.deepEqual(vhostsWith(rc, SHARED_VIP), ['a.example.com:8080']);
  t.deepEqual(vhostsWith(rc, 'b.example.com'), ['b.example.com:8080']);
});

test('every tcp_proxy and HTTP connection manager logs to a file in the lab format: virtualInbound to the inbound log, the others to the outbound log', (t) => {
  let seen = 0;
  for (const l of listenersOf(render())) {
    const want = l.name === 'virtualInbound' ? PATHS.accessLog.inbound : PATHS.accessLog.outbound;
    for (const tc of [...filtersOf(l, T.tcp), ...filtersOf(l, T.hcm)]) {
      seen++;
      const logs = tc.access_log as Json[];
      t.is(logs.length, 1, String(l.name));
      t.is(logs[0]!.name, 'envoy.access_loggers.file');
      t.false('filter' in logs[0]!, `${String(l.name)}: a filter's log takes every connection`);
      const cfg = logs[0]!.typed_config as Json;
      t.is(cfg['@type'], T.fileLog);
      t.is(cfg.path, want, String(l.name));
      t.is(at(cfg, 'log_format', 'text_format_source', 'inline_string'), `${LAB_ACCESS_LOG_FORMAT}\n`);
    }
  }
  t.true(seen >= 10, `only ${seen} filters`);
});

test('every listener logs the connections no chain takes (response flag NR) to its direction\'s log', (t) => {
  for (const l of listenersOf(render())) {
    const want = l.name === 'virtualInbound' ? PATHS.accessLog.inbound : PATHS.accessLog.outbound;
    const logs = l.access_log as Json[];
    t.is(logs.length, 1, String(l.name));
    t.deepEqual(logs[0]!.filter, { response_flag_filter: { flags: ['NR'] } }, String(l.name));
    t.is(at(logs[0], 'typed_config', 'path'), want, String(l.name));
    t.is(at(logs[0], 'typed_config', 'log_format', 'text_format_source', 'inline_string'), `${LAB_ACCESS_LOG_FORMAT}\n`);
  }
});

// Every file subscription is an inotify instance of the proxy uid (the kernel allows 128 per
// user): endpoints come inline in their cluster, which keeps it to 4 per Envoy.
test('the synthesis\'s EDS clusters carry their endpoints inline (STATIC): the lab\'s, else the synthesis\'s', (t) => {
  const files = render();
  const synthesizedEds = ((synthesized().configs.find((c) => String(c['@type']).endsWith('.ClustersConfigDump'))!.dynamic_active_clusters as Json[]).map((c) => c.cluster as Json))
    .filter((c) => c.type === 'EDS')
    .map((c) => String(c.name));
  t.true(synthesizedEds.length >= 3, 'web, db and the STATIC ServiceEntry are EDS clusters in the synthesis');
  for (const name of synthesizedEds) {
    const c = clustersOf(files).find((x) => x.name === name)!;
    t.is(c.type, 'STATIC', name);
    t.false('eds_cluster_config' in c, name);
    t.is(at(c, 'load_assignment', 'cluster_name'), name);
  }
  t.false(keysNamed(files.get(XDS_FILES.cds), 'eds_config') > 0, 'no EDS subscription at all');
  const endpointsOf = (name: string) =>
    (at(clustersOf(files).find((c) => c.name === name), 'load_assignment', 'endpoints', 0, 'lb_endpoints') as Json[]).map((e) => {
      const a = at(e, 'endpoint', 'address', 'socket_address') as { address: string; port_value: number };
      return `${a.address}:${a.port_value}`;
    });
  t.deepEqual(endpointsOf(WEB), FACTS.endpoints[WEB]);
  t.deepEqual(endpointsOf(DB), FACTS.endpoints[DB]);
  // A cluster the lab has no endpoints for keeps the synthesis's (a STATIC ServiceEntry's).
  t.deepEqual(endpointsOf(STATIC_SE), ['192.0.2.7:8080']);
});

test('auto mTLS: meshed endpoints are labelled tlsMode=istio; their cluster matches them to Istio mTLS with their exact SPIFFE names and the ALPN of how the cluster is reached', (t) => {
  const files = render();
  const cluster = (name: string) => clustersOf(files).find((c) => c.name === name)!;
  const lbEndpoints = (name: string) => at(cluster(name), 'load_assignment', 'endpoints', 0, 'lb_endpoints') as Json[];
  const ISTIO = { filter_metadata: { 'envoy.transport_socket_match': { tlsMode: 'istio' } } };
  t.deepEqual(lbEndpoints(WEB).map((e) => e.metadata), [ISTIO, undefined], '10.64.0.30 is meshed, 10.64.0.31 is not');
  t.deepEqual(lbEndpoints(DB).map((e) => e.metadata), [ISTIO]);
  t.deepEqual(lbEndpoints(STATIC_SE).map((e) => e.metadata), [undefined]);
  t.false('transport_socket_matches' in cluster(STATIC_SE), 'no meshed endpoint: plaintext only');

  const cases = [
    { name: WEB, san: ['spiffe://cluster.local/ns/default/sa/web'], alpn: ['istio-http/1.1'], sni: 'outbound_.8080_._.web.default.svc.cluster.local' },
    { name: DB, san: ['spiffe://cluster.local/ns/data/sa/db'], alpn: ['istio-peer-exchange', 'istio'], sni: 'outbound_.5432_._.db.data.svc.cluster.local' },
  ];
  for (const c of cases) {
    const m = cluster(c.name).transport_socket_matches as Json[];
    t.is(m.length, 2, c.name);
    t.deepEqual(m[0]!.match, { tlsMode: 'istio' });
    const tls = at(m[0], 'transport_socket', 'typed_config') as Json;
    t.is(tls['@type'], T.upstreamTls);
    t.is(tls.sni, c.sni);
    const ctx = tls.common_tls_context as Json;
    t.deepEqual(ctx.alpn_protocols, c.alpn, c.name);
    t.deepEqual(at(ctx, 'combined_validation_context', 'default_validation_context', 'match_typed_subject_alt_names'), c.san.map((s) => ({ san_type: 'URI', matcher: { exact: s } })));
    t.is(at(ctx, 'combined_validation_context', 'validation_context_sds_secret_config', 'sds_config', 'path_config_source', 'path'), `${PATHS.xdsDir}/${XDS_FILES.secretRoot}`);
    t.is(at(ctx, 'tls_certificate_sds_secret_configs', 0, 'sds_config', 'path_config_source', 'path'), `${PATHS.xdsDir}/${XDS_FILES.secretCert}`);
    // Everything else plaintext.
    t.deepEqual(m[1], { name: 'tlsMode-disabled', match: {}, transport_socket: { name: 'envoy.transport_sockets.raw_buffer', typed_config: { '@type': T.rawBuffer } } });
  }
});

test('a cluster with two meshed endpoints accepts both identities, each once', (t) => {
  const facts: SidecarFacts = {
    ...FACTS,
    endpoints: { ...FACTS.endpoints, [WEB]: ['10.64.0.30:8080', '10.64.0.32:8080', '10.64.0.33:8080'] },
    identities: { ...FACTS.identities, '10.64.0.32': 'spiffe://cluster.local/ns/default/sa/web-v2', '10.64.0.33': 'spiffe://cluster.local/ns/default/sa/web' },
  };
  const web = clustersOf(render(facts)).find((c) => c.name === WEB)!;
  const sans = at(web, 'transport_socket_matches', 0, 'transport_socket', 'typed_config', 'common_tls_context', 'combined_validation_context', 'default_validation_context', 'match_typed_subject_alt_names') as Json[];
  t.deepEqual(sans.map((s) => at(s, 'matcher', 'exact')), ['spiffe://cluster.local/ns/default/sa/web', 'spiffe://cluster.local/ns/default/sa/web-v2']);
});

test('inbound mTLS chains (STRICT) require a client certificate of the trust domain, with the certificate and the root from the SDS files', (t) => {
  const files = render();
  const vi = listenersOf(files).find((l) => l.name === 'virtualInbound')!;
  const tls = chainsOf(vi).filter((c) => c.transport_socket);
  t.true(tls.length >= 3, `${tls.length} TLS chains`);
  for (const c of tls) {
    const ctx = at(c, 'transport_socket', 'typed_config') as Json;
    t.is(ctx['@type'], T.downstreamTls, String(c.name));
    t.is(ctx.require_client_certificate, true);
    t.deepEqual(at(ctx, 'common_tls_context', 'tls_certificate_sds_secret_configs'), [
      { name: 'default', sds_config: { resource_api_version: 'V3', path_config_source: { path: `${PATHS.xdsDir}/${XDS_FILES.secretCert}`, watched_directory: { path: PATHS.xdsDir } } } },
    ]);
    const v = at(ctx, 'common_tls_context', 'combined_validation_context') as Json;
    t.deepEqual(at(v, 'default_validation_context', 'match_typed_subject_alt_names'), [{ san_type: 'URI', matcher: { prefix: 'spiffe://cluster.local/' } }]);
    t.deepEqual(v.validation_context_sds_secret_config, { name: 'ROOTCA', sds_config: { resource_api_version: 'V3', path_config_source: { path: `${PATHS.xdsDir}/${XDS_FILES.secretRoot}`, watched_directory: { path: PATHS.xdsDir } } } });
  }
  // Inline: a secret naming files makes Envoy watch their folder (an inotify instance each).
  t.deepEqual(resources(files, XDS_FILES.secretCert), [{ '@type': T.secret, name: 'default', tls_certificate: { certificate_chain: { inline_string: FACTS.pem.cert }, private_key: { inline_string: FACTS.pem.key } } }]);
  t.deepEqual(resources(files, XDS_FILES.secretRoot), [{ '@type': T.secret, name: 'ROOTCA', validation_context: { trusted_ca: { inline_string: FACTS.pem.ca } } }]);
});

test('DNS clusters resolve with getaddrinfo (the pod\'s hosts file), IPv4, no retries', (t) => {
  const clusters = clustersOf(render());
  const dns = clusters.filter((c) => c.type === 'STRICT_DNS' || c.type === 'LOGICAL_DNS');
  t.deepEqual(dns.map((c) => c.name).sort(), ['outbound|443||api.example.com', 'outbound|8080||b.example.com']);
  for (const c of dns) {
    t.is(c.dns_lookup_family, 'V4_ONLY');
    t.deepEqual(c.typed_dns_resolver_config, { name: 'envoy.network.dns_resolver.getaddrinfo', typed_config: { '@type': T.getaddrinfo, num_retries: 0 } });
  }
  for (const c of clusters.filter((x) => !dns.includes(x))) t.false('typed_dns_resolver_config' in c, String(c.name));
});

test('every cluster opens one upstream connection per request', (t) => {
  for (const c of clustersOf(render())) {
    t.is(at(c, 'typed_extension_protocol_options', 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions', 'common_http_protocol_options', 'max_requests_per_connection'), 1, String(c.name));
  }
});

test('TPROXY: virtualInbound and virtualOutbound are transparent, virtualInbound ends with original_src marking 1337; REDIRECT has neither', (t) => {
  const tproxy = listenersOf(render({ ...FACTS, interception: 'TPROXY' }));
  const redirect = listenersOf(render());
  for (const l of tproxy) t.is(l.transparent, l.name === 'virtualInbound' || l.name === 'virtualOutbound' ? true : undefined, String(l.name));
  const vi = tproxy.find((l) => l.name === 'virtualInbound')!;
  const filters = vi.listener_filters as Json[];
  t.deepEqual(filters.at(-1), { name: 'envoy.filters.listener.original_src', typed_config: { '@type': T.originalSrc, mark: 1337 } });
  // The synthesis's own listener filters stay ahead of it.
  const viRedirect = redirect.find((l) => l.name === 'virtualInbound')!;
  t.deepEqual(filters.slice(0, -1), viRedirect.listener_filters);
  for (const l of redirect) {
    t.false('transparent' in l, String(l.name));
    t.false(((l.listener_filters as Json[] | undefined) ?? []).some((f) => f.name === 'envoy.filters.listener.original_src'), String(l.name));
  }
  t.false(((tproxy.find((l) => l.name === 'virtualOutbound')!.listener_filters as Json[] | undefined) ?? []).some((f) => f.name === 'envoy.filters.listener.original_src'));
});

test('the bootstrap subscribes to the LDS and CDS files of the watched directory and keeps the node', (t) => {
  const node = { id: 'sidecar~10.64.0.10~client.default~default.svc.cluster.local', cluster: 'client.default' };
  const b = renderBootstrap(node, PATHS);
  t.deepEqual(b.node, node);
  t.deepEqual(at(b, 'admin', 'address'), { socket_address: { address: '127.0.0.1', port_value: 15000 } });
  for (const [k, file] of [['lds_config', XDS_FILES.lds], ['cds_config', XDS_FILES.cds]] as const) {
    t.deepEqual(at(b, 'dynamic_resources', k), { resource_api_version: 'V3', path_config_source: { path: `${PATHS.xdsDir}/${file}`, watched_directory: { path: PATHS.xdsDir } } });
  }
  const ports = (at(b, 'static_resources', 'listeners') as Json[]).map((l) => at(l, 'address', 'socket_address', 'port_value'));
  t.deepEqual(ports, [15090, 15021, 15020, 15004]);
});
