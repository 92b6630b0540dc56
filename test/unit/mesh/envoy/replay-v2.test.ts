// The v2 → v3 restatement of Istio 1.1.1's productpage dump (a real v2 dump), field by field
// where Envoy's migration renamed one, and the refusals of what it does not upgrade. That the
// result loads into real Envoy is test/netns/replay-load.test.ts's.
import test from 'ava';
import { isV2Dump, protoNames, upgradeV2Dump, V2UpgradeError } from '../../../../src/mesh/envoy/replay-v2.ts';
import { readFixture } from '../../../helpers/shared-fixtures.ts';

type O = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const PRODUCTPAGE = JSON.parse(readFixture('envoy', 'productpage_config_dump.json')) as O;
const istioOnly = (name: string) => ['mixer', 'istio_authn', 'jwt-auth'].includes(name);
const up = upgradeV2Dump(PRODUCTPAGE, istioOnly);
const section = (d: O, kind: string) => (d.configs as O[]).find((c) => String(c['@type']).endsWith(kind))!;
const listener = (d: O, name: string) => (section(d, 'ListenersConfigDump').dynamic_listeners as O[]).map((l) => l.active_state.listener).find((l: O) => l.name === name) as O;

test('a v2 dump is told from a v3 one, and nothing of v2 is left after the upgrade', (t) => {
  t.true(isV2Dump(PRODUCTPAGE));
  t.false(isV2Dump(JSON.parse(readFixture('envoy', 'configdump.yaml'))));
  t.false(isV2Dump(up.dump));
  // Untyped configs are left on Istio's own filters, which replay removes whatever their shape, and on the bootstrap's tracer, which replay does not take.
  const untyped = new Set<string>();
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      const o = v as O;
      if (typeof o.name === 'string' && o.config !== undefined) untyped.add(o.name);
      Object.values(o).forEach(walk);
    }
  };
  walk(up.dump);
  t.deepEqual([...untyped].sort(), ['envoy.zipkin', 'istio_authn', 'jwt-auth', 'mixer']);
});

test('the HTTP port listener: its filter typed, its v1 bind_to_port a field, its one match-all chain kept', (t) => {
  const before = listener(PRODUCTPAGE, '0.0.0.0_9080');
  const after = listener(up.dump as O, '0.0.0.0_9080');
  t.is(after['@type'], 'type.googleapis.com/envoy.config.listener.v3.Listener');
  t.is(after.bind_to_port, false);
  t.is(after.deprecated_v1, undefined);
  t.is(after.filter_chains.length, before.filter_chains.length);
  const hcm = after.filter_chains[0].filters[0];
  t.is(hcm.typed_config['@type'], 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager');
  t.is(hcm.typed_config.rds.route_config_name, '9080');
  t.is(hcm.typed_config.tracing.operation_name, undefined);
  t.deepEqual(hcm.typed_config.http_filters.map((f: O) => f.name), ['mixer', 'envoy.cors', 'envoy.fault', 'envoy.router']);
  t.is(hcm.typed_config.http_filters[3].typed_config['@type'], 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router');
  const log = hcm.typed_config.access_log[0].typed_config;
  t.is(log.path, '/dev/stdout');
  t.is(log.log_format.text_format_source.inline_string, before.filter_chains[0].filters[0].config.access_log[0].config.format);
});

test('the inbound listener: tls_context becomes a downstream TLS transport socket with the same context; RBAC regexes become RE2', (t) => {
  const before = listener(PRODUCTPAGE, '10.52.2.21_9080').filter_chains[0];
  const after = listener(up.dump as O, '10.52.2.21_9080').filter_chains[0];
  t.is(after.tls_context, undefined);
  t.is(after.transport_socket.name, 'envoy.transport_sockets.tls');
  t.is(after.transport_socket.typed_config['@type'], 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext');
  t.deepEqual(after.transport_socket.typed_config.common_tls_context, before.tls_context.common_tls_context);
  t.is(after.transport_socket.typed_config.require_client_certificate, true);
  const rbac = JSON.stringify(after.filters[0].typed_config.http_filters.find((f: O) => f.name === 'envoy.filters.http.rbac'));
  t.true(rbac.includes('"safe_regex":{"google_re2":{},"regex":".*/ns/istio-system/.*"}'));
});

test('a cluster\'s hosts become its load assignment; verify_subject_alt_name becomes match_subject_alt_names', (t) => {
  const clusters = (d: O) => [...(section(d, 'ClustersConfigDump').static_clusters as O[]), ...(section(d, 'ClustersConfigDump').dynamic_active_clusters as O[])].map((c) => c.cluster as O);
  const withHosts = clusters(PRODUCTPAGE).find((c) => Array.isArray(c.hosts))!;
  const after = clusters(up.dump as O).find((c) => c.name === withHosts.name)!;
  t.is(after.hosts, undefined);
  t.deepEqual(after.load_assignment.endpoints[0].lb_endpoints.map((e: O) => e.endpoint.address), withHosts.hosts);
  const san = clusters(PRODUCTPAGE).find((c) => JSON.stringify(c).includes('verify_subject_alt_name'))!;
  const sanAfter = JSON.stringify(clusters(up.dump as O).find((c) => c.name === san.name));
  const names = JSON.stringify(san).match(/"verify_subject_alt_name":(\[[^\]]*\])/)![1]!;
  t.true(sanAfter.includes(`"match_subject_alt_names":${JSON.stringify((JSON.parse(names) as string[]).map((exact) => ({ exact })))}`));
});

test('each upgrade is said once', (t) => {
  t.true(up.changes.includes('v2 type URLs → v3 (envoy.api.v2.X → envoy.config.*.v3.X)'));
  t.is(new Set(up.changes).size, up.changes.length);
});

test('what it does not upgrade is refused by name: a filter of unknown v3 type, a per-route config of one, a v1 tcp_proxy of several routes', (t) => {
  const dump = (filters: O[], extra: O = {}) => ({ configs: [{ '@type': 'type.googleapis.com/envoy.admin.v3.ListenersConfigDump', dynamic_listeners: [{ active_state: { listener: { '@type': 'type.googleapis.com/envoy.api.v2.Listener', name: 'l', filter_chains: [{ filters }], ...extra } } }] }] });
  t.throws(() => upgradeV2Dump(dump([{ name: 'envoy.mongo_proxy', config: {} }]), istioOnly), { instanceOf: V2UpgradeError, message: /filter envoy\.mongo_proxy of the v2 API: not upgraded/ });
  t.throws(() => upgradeV2Dump(dump([{ name: 'envoy.tcp_proxy', config: { deprecated_v1: true, value: { stat_prefix: 's', route_config: { routes: [{ cluster: 'a', destination_ports: '80' }, { cluster: 'b' }] } } } }]), istioOnly), { instanceOf: V2UpgradeError, message: /a v1 tcp_proxy with 2 route\(s\)/ });
  const route = { configs: [{ '@type': 'type.googleapis.com/envoy.admin.v3.RoutesConfigDump', dynamic_route_configs: [{ route_config: { '@type': 'type.googleapis.com/envoy.api.v2.RouteConfiguration', name: 'r', virtual_hosts: [{ name: 'v', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'c' }, per_filter_config: { 'envoy.lua': {} } }] }] } }] }] };
  t.throws(() => upgradeV2Dump(route, istioOnly), { instanceOf: V2UpgradeError, message: /per_filter_config of envoy\.lua/ });
});

test('protojson camelCase names become the protos\' own; map keys (labels, metadata) stay', (t) => {
  const changes: string[] = [];
  const d = protoNames({ configs: [{ '@type': 'x.ListenersConfigDump', dynamicListeners: [{ activeState: { listener: { filterChains: [], metadata: { filterMetadata: { istio: { 'pod-template-hash': '1', POD_NAME: 'p' } } } } } }] }] }, changes) as O;
  const l = d.configs[0].dynamic_listeners[0].active_state.listener;
  t.deepEqual(l.filter_chains, []);
  t.deepEqual(l.metadata.filter_metadata.istio, { 'pod-template-hash': '1', POD_NAME: 'p' });
  t.is(changes.length, 1);
});

test('a v2alpha admin dump (Envoy 1.12 and before) with untyped resources: typed by their place, then upgraded; typed v2 filters by name; RE2 matchers left alone; a v2 type left over refused', (t) => {
  const dump = {
    configs: [
      {
        '@type': 'type.googleapis.com/envoy.admin.v2alpha.ListenersConfigDump',
        dynamic_active_listeners: [
          {
            listener: {
              name: '0.0.0.0_9080',
              address: { socket_address: { address: '0.0.0.0', port_value: 9080 } },
              filter_chains: [{ filters: [{ name: 'envoy.http_connection_manager', typed_config: { '@type': 'type.googleapis.com/envoy.config.filter.network.http_connection_manager.v2.HttpConnectionManager', stat_prefix: 's', route_config: { name: 'r', virtual_hosts: [{ name: 'v', domains: ['*'], routes: [{ match: { prefix: '/', headers: [{ name: 'x', safe_regex_match: { google_re2: {}, regex: 'a.*' } }] }, route: { cluster: 'c' } }] }] }, http_filters: [{ name: 'envoy.router', typed_config: { '@type': 'type.googleapis.com/envoy.config.filter.http.router.v2.Router' } }] } }] }],
            },
          },
        ],
      },
      { '@type': 'type.googleapis.com/envoy.admin.v2alpha.ClustersConfigDump', dynamic_active_clusters: [{ cluster: { name: 'c', connect_timeout: '1s', tls_context: { sni: 'x' }, hosts: [{ socket_address: { address: '10.0.0.9', port_value: 80 } }] } }] },
    ],
  };
  t.true(isV2Dump(dump));
  const out = upgradeV2Dump(dump, istioOnly).dump as O;
  const l = section(out, 'ListenersConfigDump').dynamic_active_listeners[0].listener;
  t.is(l['@type'], 'type.googleapis.com/envoy.config.listener.v3.Listener');
  const hcm = l.filter_chains[0].filters[0].typed_config;
  t.is(hcm.http_filters[0].typed_config['@type'], 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router');
  t.deepEqual(hcm.route_config.virtual_hosts[0].routes[0].match.headers[0].safe_regex_match, { google_re2: {}, regex: 'a.*' });
  const c = section(out, 'ClustersConfigDump').dynamic_active_clusters[0].cluster;
  t.is(c.transport_socket.typed_config['@type'], 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext', 'an untyped cluster\'s TLS is upstream TLS');
  t.deepEqual(c.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address, { socket_address: { address: '10.0.0.9', port_value: 80 } });
  const leftover = { configs: [{ '@type': 'type.googleapis.com/envoy.admin.v3.ClustersConfigDump', dynamic_active_clusters: [{ cluster: { '@type': 'type.googleapis.com/envoy.api.v2.Cluster', name: 'c', cluster_type: { typed_config: { '@type': 'type.googleapis.com/envoy.config.cluster.redis.v2.RedisClusterConfig' } } } }] }] };
  t.throws(() => upgradeV2Dump(leftover, istioOnly), { instanceOf: V2UpgradeError, message: /envoy\.config\.cluster\.redis\.v2\.RedisClusterConfig: a v2 type not upgraded by pathlab/ });
});
