// Properties over random connections on the real dumps: the matcher always answers, the path
// starts at the capture listener, and a named cluster appears only with an upstream or an answer.
import test from 'ava';
import fc from 'fast-check';
import { parseConfigDump } from '../../../../src/mesh/envoy/config-dump-parser.ts';
import { matchConnection } from '../../../../src/mesh/envoy/match-connection.ts';
import { fixtureJson } from '../../../helpers/fixtures.ts';

const dumps = {
  'sidecar ~1.19': parseConfigDump(fixtureJson('envoy/configdump.yaml')),
  'productpage 1.1.1': parseConfigDump(fixtureJson('envoy/productpage_config_dump.json')),
};
const ipv4 = fc.tuple(fc.constantFrom(10, 172, 192, 203), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join('.'));
const port = fc.oneof(fc.constantFrom(80, 443, 53, 9080, 9153, 15001, 15006, 15008, 7000), fc.integer({ min: 1, max: 65535 }));
const payload = fc.oneof(
  fc.record({ kind: fc.constant('bytes' as const), text: fc.string() }),
  fc.record({ kind: fc.constant('http' as const), host: fc.domain(), path: fc.constantFrom('/', '/a', '/healthz/ready') }),
  fc.record({ kind: fc.constant('tls' as const), sni: fc.domain(), alpn: fc.subarray(['h2', 'http/1.1', 'istio', 'istio-peer-exchange', 'istio-http/1.1']) }),
  fc.constant({ kind: 'none' as const }),
);

for (const [name, cfg] of Object.entries(dumps)) {
  test(`${name}: every connection gets an answer that starts at the capture listener`, (t) => {
    fc.assert(
      fc.property(ipv4, ipv4, port, fc.constantFrom(15001, 15006), payload, (src, ip, p, capture, pl) => {
        const m = matchConnection(cfg, { src, dst: { ip, port: p }, capturePort: capture, payload: pl });
        const first = cfg.listeners!.find((l) => l.name === m.hops[0]!.listener);
        if (cfg.listeners!.some((l) => l.port === capture)) t.is(first?.port, capture);
        else t.regex(m.outcome.clientSees, /refused/); // Istio 1.1 has no virtualInbound on 15006
        if (m.outcome.upstreamConnection) t.truthy(m.cluster);
        if (m.outcome.kind === 'passthrough' && m.outcome.upstream) t.is(m.outcome.upstream, `${ip}:${p}`);
      }),
      { numRuns: 300 },
    );
  });
}
