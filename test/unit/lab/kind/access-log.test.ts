// The access log parser on real lines of Istio sidecars and gateways (test/data/kind/access-log,
// copied from istio.io with their places noted in its README).
import { readFileSync } from 'node:fs';
import test from 'ava';
import { parseAccessLogLine } from '../../../../src/lab/kind/access-log.ts';

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
  t.throws(() => parseAccessLogLine(`${line('outbound-http.txt')} extra`), { message: /23 fields, expected 22/ });
  t.throws(() => parseAccessLogLine('[2020-11-25T21:26:18.409Z] "GET / HTTP/1.1'), { message: /unclosed quote/ });
});
