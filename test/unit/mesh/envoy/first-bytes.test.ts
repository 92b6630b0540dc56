// What tls_inspector / http_inspector conclude from a client's first bytes (Envoy docs:
// listener filters tls_inspector and http_inspector; HTTP/2 prior knowledge preface RFC 9113 §3.4).
import test from 'ava';
import { detectFirstBytes, type Payload } from '../../../../src/mesh/envoy/first-bytes.ts';

const cases: Array<[string, Payload, { http: boolean; tls: boolean; alpn: string[] }]> = [
  ['redis inline command', { kind: 'bytes', text: 'keys *\n' }, { http: false, tls: false, alpn: [] }],
  ['redis RESP array', { kind: 'bytes', text: '*1\r\n$4\r\nPING\r\n' }, { http: false, tls: false, alpn: [] }],
  ['HTTP/1.1 request line', { kind: 'bytes', text: 'GET / HTTP/1.1\r\nHost: a\r\n\r\n' }, { http: true, tls: false, alpn: ['http/1.1'] }],
  ['HTTP/1.0 request line', { kind: 'bytes', text: 'HEAD /x HTTP/1.0\r\n\r\n' }, { http: true, tls: false, alpn: ['http/1.0'] }],
  ['lower-case method is not HTTP', { kind: 'bytes', text: 'get / HTTP/1.1\r\n' }, { http: false, tls: false, alpn: [] }],
  ['HTTP/2 prior-knowledge preface', { kind: 'bytes', text: 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n' }, { http: true, tls: false, alpn: ['h2c'] }],
  ['a TLS record (0x16)', { kind: 'bytes', text: '\u0016\u0003\u0001\u0000' }, { http: false, tls: true, alpn: [] }],
  ['a TLS ClientHello with ALPN', { kind: 'tls', sni: 'a.b', alpn: ['h2'] }, { http: false, tls: true, alpn: ['h2'] }],
  ['nothing sent', { kind: 'none' }, { http: false, tls: false, alpn: [] }],
];
for (const [name, payload, want] of cases) {
  test(name, (t) => {
    const d = detectFirstBytes(payload);
    t.deepEqual({ http: d.http, tls: d.tls, alpn: d.alpn }, want);
  });
}

test('the Host header of raw HTTP bytes is what routing uses', (t) => {
  t.is(detectFirstBytes({ kind: 'bytes', text: 'GET /a HTTP/1.1\r\nhost: details:9080\r\n\r\n' }).host, 'details:9080');
});
