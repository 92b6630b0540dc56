// One case per Envoy selection rule, on real dumps where one shows the rule, else on a
// synthesized or small hand-written listener. Each case names the Envoy or Istio source it follows.
import test from 'ava';
import { parseConfigDump } from '../../../../src/mesh/envoy/config-dump-parser.ts';
import type { EnvoyConfig } from '../../../../src/mesh/envoy/envoy-config.ts';
import { matchConnection, selectVirtualHost, type Connection } from '../../../../src/mesh/envoy/match-connection.ts';
import { parseRouteConfiguration } from '../../../../src/mesh/envoy/config-dump-parser.ts';
import type { Payload } from '../../../../src/mesh/envoy/first-bytes.ts';
import { fixtureJson } from '../../../helpers/fixtures.ts';
import { synthesize } from '../../../helpers/mesh.ts';

const sidecar119 = parseConfigDump(fixtureJson('envoy/configdump.yaml'));
const productpage111 = parseConfigDump(fixtureJson('envoy/productpage_config_dump.json'));

const keys: Payload = { kind: 'bytes', text: 'keys *\n' };
const http = (host: string, path = '/'): Payload => ({ kind: 'http', host, path });
const tls = (alpn: string[], sni?: string): Payload => ({ kind: 'tls', alpn, ...(sni ? { sni } : {}) });

/** A hand-written listener dump (snake_case v3) for rules no real dump shows. */
function handWritten(chains: unknown[], extra: Record<string, unknown> = {}): EnvoyConfig {
  return parseConfigDump({
    configs: [
      {
        '@type': 'type.googleapis.com/envoy.admin.v3.ListenersConfigDump',
        dynamic_listeners: [
          {
            name: 'virtualOutbound',
            active_state: {
              listener: {
                '@type': 'type.googleapis.com/envoy.config.listener.v3.Listener',
                name: 'virtualOutbound',
                address: { socket_address: { address: '0.0.0.0', port_value: 15001 } },
                use_original_dst: true,
                filter_chains: [{ name: 'virtualOutbound-catchall-tcp', filters: [tcp('PassthroughCluster')] }],
              },
            },
          },
          {
            name: '0.0.0.0_443',
            active_state: {
              listener: {
                '@type': 'type.googleapis.com/envoy.config.listener.v3.Listener',
                name: '0.0.0.0_443',
                address: { socket_address: { address: '0.0.0.0', port_value: 443 } },
                listener_filters: [{ name: 'envoy.filters.listener.tls_inspector' }],
                filter_chains: chains,
                ...extra,
              },
            },
          },
        ],
      },
    ],
  });
}

function tcp(cluster: string) {
  return { name: 'envoy.filters.network.tcp_proxy', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy', cluster } };
}

const sniListener = handWritten([
  { name: 'wildcard', filter_chain_match: { server_names: ['*.example.com'] }, filters: [tcp('outbound|443||wildcard')] },
  { name: 'exact', filter_chain_match: { server_names: ['api.example.com'] }, filters: [tcp('outbound|443||api')] },
]);
const sourceListener = handWritten(
  [
    { name: 'from-10.1', filter_chain_match: { source_prefix_ranges: [{ address_prefix: '10.1.0.0', prefix_len: 16 }] }, filters: [tcp('outbound|443||a')] },
    { name: 'from-10.1.2', filter_chain_match: { source_prefix_ranges: [{ address_prefix: '10.1.2.0', prefix_len: 24 }] }, filters: [tcp('outbound|443||b')] },
  ],
  { default_filter_chain: { name: 'PassthroughFilterChain', filters: [tcp('PassthroughCluster')] } },
);

const cidrMesh = synthesize({
  apiVersion: 'pathlab/v1',
  kind: 'Mesh',
  proxy: { ip: '10.64.0.9' },
  resources: [
    { apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: { name: 'wide' }, spec: { hosts: ['wide.example'], addresses: ['10.0.0.0/8'], ports: [{ number: 5432, name: 'tcp-pg', protocol: 'TCP' }], resolution: 'NONE' } },
    { apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: { name: 'narrow' }, spec: { hosts: ['narrow.example'], addresses: ['10.0.0.0/24'], ports: [{ number: 5432, name: 'tcp-pg', protocol: 'TCP' }], resolution: 'NONE' } },
  ],
});
const strictMesh = synthesize({
  apiVersion: 'pathlab/v1',
  kind: 'Mesh',
  proxy: { ip: '10.64.0.9', ports: [{ port: 8080, name: 'http-app' }] },
  resources: [{ apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication', metadata: { name: 'default', namespace: 'istio-system' }, spec: { mtls: { mode: 'STRICT' } } }],
});

interface Case {
  rule: string;
  source: string;
  config: EnvoyConfig;
  conn: Partial<Connection> & { dst: Connection['dst']; payload: Payload };
  listener: string | null;
  chain: string | null;
  cluster?: string | null;
  outcome?: string;
}

const cases: Case[] = [
  {
    rule: 'use_original_dst: the listener bound exactly to ip:port wins over 0.0.0.0:port',
    source: 'Envoy Listener.use_original_dst; istio pilot/pkg/simulation/traffic.go matchListener',
    config: sidecar119,
    conn: { dst: { ip: '10.96.0.10', port: 9153 }, payload: keys },
    listener: '10.96.0.10_9153',
    chain: '#default',
    cluster: 'outbound|9153||kube-dns.kube-system.svc.cluster.local',
  },
  {
    rule: 'use_original_dst: no exact listener → the 0.0.0.0:port listener',
    source: 'Envoy Listener.use_original_dst; traffic.go matchListener',
    config: sidecar119,
    conn: { dst: { ip: '10.0.0.6', port: 9080 }, payload: http('10.0.0.6:9080') },
    listener: '0.0.0.0_9080',
    chain: '#1',
  },
  {
    rule: 'use_original_dst: no listener for the port → virtualOutbound keeps it',
    source: 'Envoy docs: "If there is no listener associated with the original destination address, the connection is handled by the listener that receives it"',
    config: sidecar119,
    conn: { dst: { ip: '10.0.0.6', port: 7000 }, payload: keys },
    listener: 'virtualOutbound',
    chain: 'virtualOutbound-catchall-tcp',
    cluster: 'PassthroughCluster',
  },
  {
    rule: 'destination_port: a connection to 15001 itself hits virtualOutbound-blackhole',
    source: 'Envoy FilterChainMatch.destination_port; istio listener_builder.go buildVirtualOutboundListener',
    config: sidecar119,
    conn: { dst: { ip: '10.64.0.9', port: 15001 }, payload: keys },
    listener: 'virtualOutbound',
    chain: 'virtualOutbound-blackhole',
    cluster: 'BlackHoleCluster',
    outcome: 'closed',
  },
  {
    rule: 'destination_port beats prefix_ranges on virtualInbound: port 80 plaintext → 0.0.0.0_80 chain',
    source: 'Envoy filter chain match order (destination port first); istio listener_inbound.go',
    config: sidecar119,
    conn: { capturePort: 15006, dst: { ip: '10.244.0.7', port: 80 }, payload: http('httpbin') },
    listener: 'virtualInbound',
    chain: '0.0.0.0_80',
    cluster: 'inbound|80||',
  },
  {
    rule: 'longest destination prefix: 10.0.0.0/24 beats 10.0.0.0/8',
    source: 'Envoy FilterChainMatch.prefix_ranges ("the most specific, longest prefix wins"); traffic.go filterRank PrefixRanges',
    config: cidrMesh,
    conn: { dst: { ip: '10.0.0.5', port: 5432 }, payload: keys },
    listener: '0.0.0.0_5432',
    chain: '#2',
    cluster: 'outbound|5432||narrow.example',
  },
  {
    rule: 'longest destination prefix: outside the /24 the /8 chain matches',
    source: 'Envoy FilterChainMatch.prefix_ranges; traffic.go filterRank PrefixRanges',
    config: cidrMesh,
    conn: { dst: { ip: '10.9.0.5', port: 5432 }, payload: keys },
    listener: '0.0.0.0_5432',
    chain: '#1',
    cluster: 'outbound|5432||wide.example',
  },
  {
    rule: 'legacy pod-IP /32 chain: a connection to the pod\'s own IP on an HTTP port is blackholed',
    source: 'istio 1.5.0 v1alpha3/listener.go (PILOT_RESTRICT_POD_UP_TRAFFIC_LOOP)',
    config: synthesize({ apiVersion: 'pathlab/v1', kind: 'Mesh', era: 'legacy', proxy: { ip: '10.64.0.9' }, resources: [{ apiVersion: 'v1', kind: 'Service', metadata: { name: 'web' }, spec: { clusterIP: '10.96.1.1', ports: [{ name: 'http', port: 7000 }] } }] }),
    conn: { dst: { ip: '10.64.0.9', port: 7000 }, payload: http('x') },
    listener: '0.0.0.0_7000',
    chain: '#1',
    cluster: 'BlackHoleCluster',
  },
  {
    rule: 'server_names: an exact name beats a wildcard',
    source: 'Envoy FilterChainMatch.server_names (exact before wildcard); traffic.go filterRank ServerNames',
    config: sniListener,
    conn: { dst: { ip: '1.2.3.4', port: 443 }, payload: tls([], 'api.example.com') },
    listener: '0.0.0.0_443',
    chain: 'exact',
  },
  {
    rule: 'server_names: a wildcard matches a sub-domain',
    source: 'Envoy FilterChainMatch.server_names',
    config: sniListener,
    conn: { dst: { ip: '1.2.3.4', port: 443 }, payload: tls([], 'www.example.com') },
    listener: '0.0.0.0_443',
    chain: 'wildcard',
  },
  {
    rule: 'server_names: no SNI and no chain without server_names → no chain, connection closed',
    source: 'Envoy: no matching filter chain and no default_filter_chain closes the connection (response flag NR)',
    config: sniListener,
    conn: { dst: { ip: '1.2.3.4', port: 443 }, payload: keys },
    listener: '0.0.0.0_443',
    chain: null,
    outcome: 'closed',
  },
  {
    rule: 'transport_protocol: TLS without an Istio ALPN → the plain `tls` passthrough chain',
    source: 'Envoy tls_inspector sets transport_protocol "tls"; istio listener_inbound.go passthrough chains',
    config: sidecar119,
    conn: { capturePort: 15006, dst: { ip: '10.244.0.7', port: 9999 }, payload: tls(['h2']) },
    listener: 'virtualInbound',
    chain: 'virtualInbound',
    cluster: 'InboundPassthroughClusterIpv4',
  },
  {
    rule: 'application_protocols: Istio mTLS HTTP ALPN → virtualInbound-catchall-http',
    source: 'Envoy FilterChainMatch.application_protocols; istio listener_inbound.go',
    config: sidecar119,
    conn: { capturePort: 15006, dst: { ip: '10.244.0.7', port: 9999 }, payload: tls(['istio-http/1.1']) },
    listener: 'virtualInbound',
    chain: 'virtualInbound-catchall-http',
    cluster: 'InboundPassthroughClusterIpv4',
  },
  {
    rule: 'application_protocols: http_inspector finds HTTP/1.1 → the HTTP chain of an auto port',
    source: 'Envoy http_inspector; istio listener.go (auto protocol: HTTP chain with ALPN http/1.1,h2c)',
    config: sidecar119,
    conn: { dst: { ip: '10.96.0.10', port: 9153 }, payload: { kind: 'bytes', text: 'GET /metrics HTTP/1.1\r\nHost: kube-dns\r\n\r\n' } },
    listener: '10.96.0.10_9153',
    chain: '#1',
  },
  {
    rule: 'default_filter_chain: non-HTTP bytes on an HTTP port → PassthroughFilterChain (1.6+)',
    source: 'Envoy Listener.default_filter_chain; istio commit 31b35eb73dc (Let TCP traffic fail through)',
    config: sidecar119,
    conn: { dst: { ip: '10.0.0.6', port: 9080 }, payload: keys },
    listener: '0.0.0.0_9080',
    chain: 'PassthroughFilterChain',
    cluster: 'PassthroughCluster',
  },
  {
    rule: 'source_prefix_ranges: the longest source prefix wins',
    source: 'Envoy FilterChainMatch.source_prefix_ranges (most specific)',
    config: sourceListener,
    conn: { src: '10.1.2.3', dst: { ip: '1.2.3.4', port: 443 }, payload: keys },
    listener: '0.0.0.0_443',
    chain: 'from-10.1.2',
  },
  {
    rule: 'source_prefix_ranges: no source matches → default_filter_chain',
    source: 'Envoy FilterChainMatch.source_prefix_ranges; Listener.default_filter_chain',
    config: sourceListener,
    conn: { src: '192.168.0.1', dst: { ip: '1.2.3.4', port: 443 }, payload: keys },
    listener: '0.0.0.0_443',
    chain: 'PassthroughFilterChain',
  },
  {
    rule: 'no chain: STRICT inbound gets plaintext → closed without reply',
    source: 'istio listener_inbound.go (STRICT: TLS chains only); Envoy: no chain → close, flag NR',
    config: strictMesh,
    conn: { capturePort: 15006, dst: { ip: '10.64.0.9', port: 8080 }, payload: http('app') },
    listener: 'virtualInbound',
    chain: null,
    outcome: 'closed',
  },
  {
    rule: 'HTTP connection manager with a match-all chain (Istio 1.1.1) given non-HTTP bytes → 400',
    source: 'Envoy HTTP/1 codec error → 400, flag DPE; istio ≤1.5 match-all HCM chain (productpage dump)',
    config: productpage111,
    conn: { dst: { ip: '10.0.0.6', port: 9080 }, payload: keys },
    listener: '0.0.0.0_9080',
    chain: '#1',
    outcome: 'http-response',
  },
  {
    rule: 'route by Host: an exact domain of the route configuration picks the service',
    source: 'Envoy VirtualHost.domains; istio httproute.go (domains per service)',
    config: productpage111,
    conn: { dst: { ip: '10.0.0.6', port: 9080 }, payload: http('details:9080') },
    listener: '0.0.0.0_9080',
    chain: '#1',
    cluster: 'outbound|9080||details.default.svc.cluster.local',
  },
  {
    rule: 'route by Host: no virtual host (1.1.1 has no allow_any on 9080) → 404 NR',
    source: 'Envoy router: no route → 404, response flag NR',
    config: productpage111,
    conn: { dst: { ip: '10.0.0.6', port: 9080 }, payload: http('unknown.example:9080') },
    listener: '0.0.0.0_9080',
    chain: '#1',
    outcome: 'http-response',
  },
];

for (const c of cases) {
  test(`${c.rule} [${c.source}]`, (t) => {
    const m = matchConnection(c.config, { src: '10.64.0.9', capturePort: 15001, ...c.conn });
    t.is(m.listener, c.listener);
    t.is(m.filterChain, c.chain);
    if (c.cluster !== undefined) t.is(m.cluster, c.cluster);
    if (c.outcome) t.is(m.outcome.kind as string, c.outcome);
  });
}

test('a chain with no match and no default: flag NR; HCM + non-HTTP: DPE; 404: NR; BlackHoleCluster: UH', (t) => {
  t.is(matchConnection(sniListener, { src: '10.64.0.9', capturePort: 15001, dst: { ip: '1.2.3.4', port: 443 }, payload: keys }).outcome.responseFlag, 'NR');
  t.is(matchConnection(productpage111, { src: '10.64.0.9', capturePort: 15001, dst: { ip: '1.2.3.4', port: 9080 }, payload: keys }).outcome.responseFlag, 'DPE');
  const nf = matchConnection(productpage111, { src: '10.64.0.9', capturePort: 15001, dst: { ip: '1.2.3.4', port: 9080 }, payload: http('nope') });
  t.is(nf.outcome.status, 404);
  t.is(nf.outcome.responseFlag, 'NR');
  t.is(matchConnection(sidecar119, { src: '10.64.0.9', capturePort: 15001, dst: { ip: '10.64.0.9', port: 15001 }, payload: keys }).outcome.responseFlag, 'UH');
});

test('a client that sends nothing on a sniffing listener waits (server-first protocols hang)', (t) => {
  const m = matchConnection(sidecar119, { src: '10.64.0.9', capturePort: 15001, dst: { ip: '10.0.0.6', port: 9080 }, payload: { kind: 'none' } });
  t.is(m.outcome.kind, 'waiting');
  t.is(m.listener, '0.0.0.0_9080');
});

const vhostCases: Array<{ host: string; want: string | undefined; source: string }> = [
  { host: 'api.example.com', want: 'exact', source: 'Envoy VirtualHost.domains: exact first' },
  { host: 'www.example.com', want: 'suffix-long', source: 'longest *.suffix wins' },
  { host: 'a.b.com', want: 'suffix-short', source: '*.suffix' },
  { host: 'foo.internal', want: 'prefix', source: 'prefix* after suffixes' },
  { host: 'else', want: 'star', source: '* last' },
];
const rc = parseRouteConfiguration({
  name: 'r',
  virtual_hosts: [
    { name: 'star', domains: ['*'] },
    { name: 'suffix-short', domains: ['*.com'] },
    { name: 'suffix-long', domains: ['*.example.com'] },
    { name: 'prefix', domains: ['foo.*'] },
    { name: 'exact', domains: ['api.example.com'] },
  ],
});
for (const c of vhostCases) {
  test(`virtual host for Host ${c.host} → ${c.want} [${c.source}]`, (t) => {
    t.is(selectVirtualHost(rc, c.host)?.name, c.want);
  });
}
