// The access log parser on real lines of Istio sidecars and gateways (test/data/kind/access-log,
// copied from istio.io with their places noted in its README).
import { readFileSync } from 'node:fs';
import test from 'ava';
import { parse } from 'yaml';
import { LAB_ACCESS_LOG_FIELDS, LAB_ACCESS_LOG_FORMAT, accessLogLineOf, accessLogTokens, parseAccessLogLine } from '../../../src/paths/access-log.ts';
import { parseConfigDump } from '../../../src/mesh/envoy/config-dump-parser.ts';
import { readFixture } from '../../helpers/shared-fixtures.ts';

const line = (f: string) => readFileSync(`test/data/kind/access-log/${f}`, 'utf8').split('\n')[0]!;

test('outbound HTTP from the client sidecar: method, status, flags, cluster, addresses', (t) => {
  t.deepEqual(parseAccessLogLine(line('outbound-http.txt')), {
    startTime: '2020-11-25T21:26:18.409Z',
    method: 'GET',
    path: '/status/418',
    protocol: 'HTTP/1.1',
    responseCode: 418,
    responseFlags: [],
    responseCodeDetails: 'via_upstream',
    bytesReceived: 0,
    bytesSent: 135,
    durationMs: 4,
    upstreamServiceTimeMs: 4,
    userAgent: 'curl/7.73.0-DEV',
    requestId: '84961386-6d84-929d-98bd-c5aee93b5c88',
    authority: 'httpbin:8000',
    upstreamHost: '10.44.1.27:80',
    upstreamCluster: 'outbound|8000||httpbin.foo.svc.cluster.local',
    upstreamLocalAddress: '10.44.1.23:37652',
    downstreamLocalAddress: '10.0.45.184:8000',
    downstreamRemoteAddress: '10.44.1.23:46520',
    routeName: 'default',
  });
});

test('inbound HTTP on the server sidecar: inbound cluster, 127.0.0.1 upstream, the original destination', (t) => {
  const e = parseAccessLogLine(line('inbound-http.txt'));
  t.is(e.upstreamCluster, 'inbound|8000||');
  t.is(e.upstreamHost, '127.0.0.1:80');
  t.is(e.downstreamLocalAddress, '10.44.1.27:80');
  t.is(e.downstreamRemoteAddress, '10.44.1.23:37652');
  t.is(e.requestedServerName, 'outbound_.8000_._.httpbin.foo.svc.cluster.local');
});

test('a TCP line ("- - -", code 0): no method, bytes both ways, SNI, no route', (t) => {
  const e = parseAccessLogLine(line('egress-tcp.txt'));
  t.is(e.method, undefined);
  t.is(e.responseCode, 0);
  t.deepEqual(e.responseFlags, []);
  t.is(e.bytesReceived, 839);
  t.is(e.bytesSent, 2504306);
  t.is(e.upstreamServiceTimeMs, undefined);
  t.is(e.upstreamCluster, 'outbound|443||edition.cnn.com');
  t.is(e.requestedServerName, 'edition.cnn.com');
  t.is(e.routeName, undefined);
});

test('response flags are split on commas', (t) => {
  const flagged = line('egress-tcp.txt').replace('"- - -" 0 - -', '"- - -" 0 UF,URX -');
  t.deepEqual(parseAccessLogLine(flagged).responseFlags, ['UF', 'URX']);
});

test('lines in other formats are refused, not half-read', (t) => {
  t.throws(() => parseAccessLogLine('2022-07-13T03:38:52.810Z,GET,/stats,HTTP/1.1,200'), { message: /expected 22/ });
  t.throws(() => parseAccessLogLine(`${line('outbound-http.txt')} extra more`), { message: /24 fields, expected 22/ });
  t.throws(() => parseAccessLogLine('[2020-11-25T21:26:18.409Z] "GET / HTTP/1.1'), { message: /unclosed quote/ });
});

// The kind lab's own format: Istio's default with %FILTER_CHAIN_NAME% appended. The parser's
// field order must be the format's, operator for operator, or every line would be misread.
test('the lab\'s accessLogFormat is Istio\'s default plus %FILTER_CHAIN_NAME%, in the parser\'s order', (t) => {
  const operator = parse(readFileSync('labs/kind-istio/istio-operator.yaml', 'utf8')) as { spec: { meshConfig: { accessLogFormat: string } } };
  const fields = accessLogTokens(operator.spec.meshConfig.accessLogFormat).map((f) => [...f.matchAll(/%([^%]+)%/g)].map((m) => m[1]).join(' '));
  t.deepEqual(fields, [...LAB_ACCESS_LOG_FIELDS]);
  t.is(fields.at(-1), 'FILTER_CHAIN_NAME');
  // The netns lab's Envoys log in the same format, so one parser reads both backends.
  t.is(operator.spec.meshConfig.accessLogFormat, LAB_ACCESS_LOG_FORMAT);
});

test('a line of the lab\'s format (23 fields) carries the filter chain; a default line (22) has none', (t) => {
  t.is(parseAccessLogLine(`${line('outbound-http.txt')} PassthroughFilterChain`).filterChainName, 'PassthroughFilterChain');
  t.is(parseAccessLogLine(line('outbound-http.txt')).filterChainName, undefined);
  t.throws(() => parseAccessLogLine(`${line('outbound-http.txt')} a b`), { message: /24 fields/ });
});

// The listener of a logged connection, by Envoy's own hand-off rule, on a real sidecar's
// listeners (../shared/fixtures/envoy/configdump.yaml, a ~1.19 sidecar): exact ip:port first,
// then 0.0.0.0:port, else the connection stays on virtualOutbound.
const sidecar = parseConfigDump(JSON.parse(readFixture('envoy', 'configdump.yaml')));
const at = (dst: string) => parseAccessLogLine(line('outbound-http.txt').replace('10.0.45.184:8000', dst));

test('listener of a logged connection: the real line\'s 10.0.45.184:8000 goes to this sidecar\'s 0.0.0.0_8000 (an HTTP port)', (t) => {
  const l = accessLogLineOf(parseAccessLogLine(line('outbound-http.txt')), sidecar, 15001);
  t.like(l, { listener: '0.0.0.0_8000', upstream_cluster: 'outbound|8000||httpbin.foo.svc.cluster.local', upstream_host: '10.44.1.27:80', response_code: 418, response_flags: '-', downstream_local_address: '10.0.45.184:8000', route_name: 'default', filter_chain: null });
});

test('listener of a logged connection: no listener for its original destination keeps it on virtualOutbound', (t) => {
  t.is(accessLogLineOf(at('10.0.0.6:7000'), sidecar, 15001).listener, 'virtualOutbound');
});

test('listener of a logged connection: the VIP listener of an auto port wins by exact address', (t) => {
  t.is(accessLogLineOf(at('10.96.0.10:9153'), sidecar, 15001).listener, '10.96.0.10_9153');
});

test('listener of a logged connection: an HTTP port\'s 0.0.0.0 listener takes any other address on that port', (t) => {
  t.is(accessLogLineOf(at('10.0.0.6:9080'), sidecar, 15001).listener, '0.0.0.0_9080');
});

test('listener of an inbound connection: virtualInbound, never a hand-off', (t) => {
  const l = accessLogLineOf(parseAccessLogLine(line('inbound-http.txt')), sidecar, 15006);
  t.like(l, { listener: 'virtualInbound', upstream_cluster: 'inbound|8000||', upstream_host: '127.0.0.1:80' });
});

test('response flags are joined as the netns sidecar writes them', (t) => {
  const l = accessLogLineOf(parseAccessLogLine(line('egress-tcp.txt').replace('"- - -" 0 - -', '"- - -" 0 UF,URX -')), sidecar, 15001);
  t.is(l.response_flags, 'UF,URX');
});
