import test from 'ava';
import { ConfigDumpError, parseConfigDump } from '../../../../src/mesh/envoy/config-dump-parser.ts';
import { fixtureJson } from '../../../helpers/fixtures.ts';

test('v3 snake_case sidecar listeners (~1.19): dynamic and static listeners, default_filter_chain, listener filters', (t) => {
  const cfg = parseConfigDump(fixtureJson('envoy/configdump.yaml'));
  t.is(cfg.listeners?.length, 29);
  const vo = cfg.listeners!.find((l) => l.name === 'virtualOutbound')!;
  t.true(vo.useOriginalDst);
  t.deepEqual(vo.filterChains.map((c) => c.name), ['virtualOutbound-blackhole', 'virtualOutbound-catchall-tcp']);
  t.is(vo.filterChains[0]!.match.destinationPort, 15001);
  const l9080 = cfg.listeners!.find((l) => l.name === '0.0.0.0_9080')!;
  t.is(l9080.defaultFilterChain?.name, 'PassthroughFilterChain');
  t.deepEqual(l9080.filterChains[0]!.match.applicationProtocols, ['http/1.1', 'h2c']);
  t.false(l9080.bindToPort);
  const vi = cfg.listeners!.find((l) => l.name === 'virtualInbound')!;
  t.deepEqual(vi.listenerFilters.find((f) => f.name.endsWith('http_inspector'))!.disabledPorts, [
    { start: 80, end: 81 },
    { start: 15006, end: 15007 },
  ]);
  t.is(cfg.clusters, undefined, 'a listeners-only dump has no clusters section');
});

test('v2 type URLs and v2 `config` (Istio 1.1.1 productpage): the `virtual` listener, RDS routes, clusters', (t) => {
  const cfg = parseConfigDump(fixtureJson('envoy/productpage_config_dump.json'));
  const v = cfg.listeners!.find((l) => l.name === 'virtual')!;
  t.true(v.useOriginalDst);
  const hcm = cfg.listeners!.find((l) => l.name === '0.0.0.0_9080')!.filterChains[0]!.filters.find((f) => f.kind === 'http_connection_manager');
  t.deepEqual(hcm, { kind: 'http_connection_manager', name: 'envoy.http_connection_manager', rds: '9080' });
  t.truthy(cfg.clusters!.find((c) => c.name === 'PassthroughCluster' && c.type === 'ORIGINAL_DST'));
  t.truthy(cfg.clusters!.find((c) => c.name === 'BlackHoleCluster'));
  t.is(cfg.routes!.find((r) => r.name === '9080')!.virtualHosts.length, 4);
  t.is(cfg.bootstrap?.istioVersion, '1.1.1');
});

test('camelCase JSON (istioctl/protojson spelling): the 2020 dump', (t) => {
  const cfg = parseConfigDump(fixtureJson('envoy/configdump.json'));
  t.deepEqual(cfg.listeners!.map((l) => `${l.address}:${l.port}`).sort(), ['0.0.0.0:8080', '0.0.0.0:8081', '0.0.0.0:8082', '172.21.134.116:443']);
  t.is(cfg.clusters!.length, 2);
  t.is(cfg.routes!.length, 2);
});

test('waypoint dump: endpoints (incl. envoy internal addresses), secrets, bootstrap versions', (t) => {
  const cfg = parseConfigDump(fixtureJson('envoy/config_dump.json'));
  t.deepEqual(cfg.bootstrap, { istioVersion: '1.21.0-1226', istioProxySha: 'ee85c5f28702f00621aed895915fca565796b9e4', envoyVersion: '0.0.0' });
  t.true(cfg.endpoints!.some((e) => e.endpoints.some((l) => l.lbEndpoints.some((ep) => ep.addresses[0] === 'envoy://connect_originate/192.168.195.248:800'))));
  t.deepEqual(cfg.secrets!.map((s) => [s.name, s.state, s.pem?.startsWith('-----BEGIN CERTIFICATE-----')]), [
    ['default', 'ACTIVE', true],
    ['ROOTCA', 'ACTIVE', true],
  ]);
});

test('istioctl proxy-config listeners|clusters|routes -o json: bare arrays of resources', (t) => {
  const dump = fixtureJson('envoy/configdump.json') as { configs: Array<Record<string, unknown>> };
  const listeners = (dump.configs.find((c) => String(c['@type']).endsWith('ListenersConfigDump'))!.dynamicListeners as Array<{ activeState: { listener: unknown } }>).map((d) => d.activeState.listener);
  const fromArray = parseConfigDump(listeners);
  t.deepEqual(fromArray.listeners!.map((l) => l.name), parseConfigDump(dump).listeners!.map((l) => l.name));
  const clusters = [{ name: 'outbound|80||a.b', type: 'EDS', connectTimeout: '1s' }];
  t.is(parseConfigDump(clusters).clusters![0]!.type, 'EDS');
  const routes = [{ name: '80', virtualHosts: [{ name: 'a', domains: ['*'], routes: [] }] }];
  t.is(parseConfigDump(routes).routes![0]!.name, '80');
});

const bad: Array<[string, unknown, RegExp]> = [
  ['a Kubernetes object', { apiVersion: 'v1', kind: 'Service', metadata: {} }, /not an Envoy config dump: found an object with 3 key\(s\) \(apiVersion, kind, metadata\) and no "configs"/],
  ['a number', 42, /not an Envoy config dump: found number/],
  ['an empty array', [], /empty array/],
  ['an array of strangers', [{ foo: 1 }], /\[0\]: not an Envoy listener, cluster or route configuration/],
  ['configs with unknown sections', { configs: [{ '@type': 'type.googleapis.com/foo.Bar' }] }, /holds no section pathlab reads \(found: type.googleapis.com\/foo.Bar/],
];
for (const [name, doc, msg] of bad) {
  test(`not a dump: ${name} → ConfigDumpError saying what was found and expected`, (t) => {
    const e = t.throws(() => parseConfigDump(doc), { instanceOf: ConfigDumpError });
    t.regex(e!.message, msg);
  });
}

test('a file that is not a dump is not shown: keys that are no identifier are only counted', (t) => {
  const e = t.throws(() => parseConfigDump({ 'root:$y$j9T$secret-hash:19000:0:99999:7::': 1, 'daemon:*:19000::': 2 }), { instanceOf: ConfigDumpError });
  t.regex(e!.message, /found an object with 2 key\(s\) and no "configs"/);
  t.false(e!.message.includes('secret'));
});
