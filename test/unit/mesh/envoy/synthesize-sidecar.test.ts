// Synthesis names and shapes, checked against Istio's rules (notes/istio-envoy.md §2-§6) and,
// where the ~1.19 sidecar dump shows the same kind of service, against that real dump's rows.
import test from 'ava';
import { parseConfigDump } from '../../../../src/mesh/envoy/config-dump-parser.ts';
import { parseMesh, type MeshInput } from '../../../../src/mesh/envoy/mesh.ts';
import { synthesizeSidecar } from '../../../../src/mesh/envoy/synthesize-sidecar.ts';
import { formatListeners } from '../../../../src/mesh/envoy/proxy-config-tables.ts';
import type { EnvoyConfig } from '../../../../src/mesh/envoy/envoy-config.ts';
import { fixtureJson } from '../../../helpers/fixtures.ts';
import { incidentMesh, synthesize } from '../../../helpers/mesh.ts';

function rowsFor(cfg: EnvoyConfig, names: string[]): string[] {
  const only: EnvoyConfig = { listeners: cfg.listeners!.filter((l) => names.includes(l.name)) };
  return formatListeners(only).split('\n').slice(1).filter(Boolean).map((l) => l.replace(/ +/g, ' ').trim());
}

test('kube-dns (TCP 53, auto 9153) and an HTTP 9080 service give the same listener rows as the real 1.19 sidecar', (t) => {
  const mesh: MeshInput = {
    apiVersion: 'pathlab/v1',
    kind: 'Mesh',
    proxy: { ip: '10.244.0.7', namespace: 'default' },
    resources: [
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'kube-dns', namespace: 'kube-system' },
        spec: { clusterIP: '10.96.0.10', ports: [{ name: 'dns', port: 53, protocol: 'UDP' }, { name: 'dns-tcp', port: 53, protocol: 'TCP' }, { name: 'metrics', port: 9153, protocol: 'TCP' }] },
      },
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'productpage', namespace: 'default' }, spec: { clusterIP: '10.96.200.1', ports: [{ name: 'http', port: 9080 }] } },
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'kubernetes', namespace: 'default' }, spec: { clusterIP: '10.96.0.1', ports: [{ name: 'https', port: 443 }] } },
    ],
  };
  const names = ['10.96.0.10_53', '10.96.0.10_9153', '0.0.0.0_9080', '10.96.0.1_443', 'virtualOutbound'];
  const real = parseConfigDump(fixtureJson('envoy/configdump.yaml'));
  t.deepEqual(rowsFor(synthesize(mesh), names), rowsFor(real, names));
});

test('names as Istio gives them: listeners, clusters, the RDS route per HTTP port', (t) => {
  const { configDump } = synthesizeSidecar(parseMesh(incidentMesh()));
  const cfg = parseConfigDump(configDump);
  const listeners = cfg.listeners!.map((l) => l.name).sort();
  t.deepEqual(listeners, ['0.0.0.0_7000', '10.96.5.5_6379', 'virtualInbound', 'virtualOutbound']);
  const clusters = cfg.clusters!.map((c) => c.name).sort();
  t.deepEqual(clusters, [
    'BlackHoleCluster',
    'InboundPassthroughCluster',
    'PassthroughCluster',
    'inbound|8080||',
    'outbound|6379||redis.db.svc.cluster.local',
    'outbound|7000||frontend.web.svc.cluster.local',
  ]);
  const r7000 = cfg.routes!.find((r) => r.name === '7000')!;
  t.deepEqual(r7000.virtualHosts.map((v) => v.name), ['frontend.web.svc.cluster.local:7000', 'allow_any']);
  t.true(r7000.virtualHosts[0]!.domains.includes('frontend.web'));
  // As istiod 1.30 generates them (test/conformance/istiod-model.test.ts): no `:port` domains, the port ignored instead.
  t.true(r7000.virtualHosts[0]!.domains.includes('10.96.7.7'));
  t.false(r7000.virtualHosts[0]!.domains.includes('10.96.7.7:7000'));
  t.true(r7000.virtualHosts[0]!.domains.includes('frontend.web.svc.cluster.local.'));
  t.true(r7000.ignorePortInHostMatching);
  const vo = cfg.listeners!.find((l) => l.name === 'virtualOutbound')!;
  t.deepEqual(vo.filterChains.map((c) => c.name), ['virtualOutbound-blackhole', 'virtualOutbound-catchall-tcp']);
});

const svc = (name: string, spec: Record<string, unknown>) => ({ apiVersion: 'v1' as const, kind: 'Service' as const, metadata: { name, namespace: 'ns1' }, spec });
const se = (name: string, spec: Record<string, unknown>) => ({ apiVersion: 'networking.istio.io/v1' as const, kind: 'ServiceEntry' as const, metadata: { name, namespace: 'ns1' }, spec });

const listenerCases: Array<{ name: string; source: string; resource: unknown; listeners: string[] }> = [
  { name: 'tcp- named ClusterIP port → VIP listener', source: 'listener.go buildSidecarOutboundListener', resource: svc('redis', { clusterIP: '10.96.5.5', ports: [{ name: 'tcp-redis', port: 7000 }] }), listeners: ['10.96.5.5_7000'] },
  { name: 'unnamed ClusterIP port (auto) → VIP listener, not 0.0.0.0', source: 'conversion.go ConvertProtocol (Unsupported → AUTO)', resource: svc('x', { clusterIP: '10.96.5.5', ports: [{ port: 7000 }] }), listeners: ['10.96.5.5_7000'] },
  { name: 'appProtocol http wins over the name → 0.0.0.0 listener', source: 'conversion.go ConvertProtocol (appProtocol first)', resource: svc('x', { clusterIP: '10.96.5.5', ports: [{ name: 'tcp-x', appProtocol: 'http', port: 7000 }] }), listeners: ['0.0.0.0_7000'] },
  { name: 'grpc → HTTP listener on 0.0.0.0', source: 'networking.go ModelProtocolToListenerProtocol', resource: svc('x', { clusterIP: '10.96.5.5', ports: [{ name: 'grpc', port: 7000 }] }), listeners: ['0.0.0.0_7000'] },
  { name: 'UDP port → no listener', source: 'networking.go (UDP is not proxied)', resource: svc('x', { clusterIP: '10.96.5.5', ports: [{ name: 'dns', port: 53, protocol: 'UDP' }] }), listeners: [] },
  { name: 'ExternalName TCP → 0.0.0.0 listener', source: 'istio.io traffic-routing (ExternalName: all IPs on the port)', resource: svc('x', { type: 'ExternalName', externalName: 'db.example.com', ports: [{ name: 'tcp', port: 7000 }] }), listeners: ['0.0.0.0_7000'] },
  { name: 'headless without endpoints → no listener', source: 'listener.go (per-endpoint listeners for Passthrough services)', resource: svc('x', { clusterIP: 'None', ports: [{ name: 'tcp', port: 7000 }] }), listeners: [] },
  { name: 'ServiceEntry with addresses → <address>_<port>', source: 'serviceentry_simulation_test.go (2.2.2.2_9999)', resource: se('x', { hosts: ['x.example'], addresses: ['2.2.2.2'], ports: [{ number: 9999, name: 'tcp', protocol: 'TCP' }], resolution: 'STATIC', endpoints: [{ address: '2.2.2.2' }] }), listeners: ['2.2.2.2_9999'] },
  { name: 'ServiceEntry with a CIDR → 0.0.0.0 listener with a prefix_ranges chain', source: 'listener.go (CIDR address → wildcard bind + destination prefix)', resource: se('x', { hosts: ['x.example'], addresses: ['10.0.0.0/24'], ports: [{ number: 9999, name: 'tcp', protocol: 'TCP' }] }), listeners: ['0.0.0.0_9999'] },
  { name: 'ServiceEntry without addresses, resolution DNS → 0.0.0.0 listener', source: 'listener.go (no address → wildcard)', resource: se('x', { hosts: ['x.example'], ports: [{ number: 9999, name: 'tcp', protocol: 'TCP' }], resolution: 'DNS' }), listeners: ['0.0.0.0_9999'] },
];
for (const c of listenerCases) {
  test(`${c.name} [${c.source}]`, (t) => {
    const cfg = synthesize({ apiVersion: 'pathlab/v1', kind: 'Mesh', proxy: { ip: '10.64.0.9' }, resources: [c.resource as never] });
    t.deepEqual(cfg.listeners!.map((l) => l.name).filter((n) => !n.startsWith('virtual')), c.listeners);
  });
}

test('legacy era: 0.0.0.0_<http port> = pod-IP /32 BlackHoleCluster chain, then a match-all HTTP chain, no default', (t) => {
  const cfg = synthesize(incidentMesh({ era: 'legacy' }));
  const l = cfg.listeners!.find((x) => x.name === '0.0.0.0_7000')!;
  t.is(l.defaultFilterChain, undefined);
  t.deepEqual(l.filterChains[0]!.match.prefixRanges, [{ addressPrefix: '10.64.192.14', prefixLen: 32 }]);
  t.deepEqual(l.filterChains[1]!.match.applicationProtocols, []);
  t.is(l.filterChains[1]!.filters[0]!.kind, 'http_connection_manager');
});

test('a Sidecar in the proxy namespace hides services outside its egress hosts; a warning says which', (t) => {
  const r = synthesizeSidecar(parseMesh(incidentMesh({ add: ['fix-sidecar.yaml'] })));
  const cfg = parseConfigDump(r.configDump);
  t.false(cfg.listeners!.some((l) => l.name === '0.0.0.0_7000'));
  t.true(cfg.listeners!.some((l) => l.name === '10.96.5.5_6379'));
  t.true(r.warnings.some((w) => w.includes('web/frontend') && w.includes('egress hosts')));
});

test('REGISTRY_ONLY: catch-all chains and the PassthroughFilterChain go to BlackHoleCluster; the route gets block_all', (t) => {
  const cfg = synthesize(incidentMesh({ mode: 'REGISTRY_ONLY' }));
  const l = cfg.listeners!.find((x) => x.name === '0.0.0.0_7000')!;
  t.deepEqual(l.defaultFilterChain?.filters.at(-1), { kind: 'tcp_proxy', name: 'envoy.filters.network.tcp_proxy', cluster: 'BlackHoleCluster' });
  t.true(cfg.routes!.find((r) => r.name === '7000')!.virtualHosts.some((v) => v.name === 'block_all'));
});

test('PeerAuthentication STRICT in the root namespace leaves only TLS chains for the pod\'s ports', (t) => {
  const cfg = synthesize({
    apiVersion: 'pathlab/v1',
    kind: 'Mesh',
    proxy: { ip: '10.64.0.9', ports: [{ port: 8080, name: 'http' }] },
    resources: [{ apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication', metadata: { name: 'default', namespace: 'istio-system' }, spec: { mtls: { mode: 'STRICT' } } }],
  });
  const vi = cfg.listeners!.find((l) => l.name === 'virtualInbound')!;
  t.deepEqual([...new Set(vi.filterChains.filter((c) => c.name !== 'virtualInbound-blackhole').map((c) => c.match.transportProtocol))], ['tls']);
});
