// The path notation of DESIGN.md: every example there parses, and formats back to itself;
// whatever formatHop writes (the one writer of every printed hop) parseHop reads back.
import test from 'ava';
import fc from 'fast-check';
import { APP_KEYS, ENVOY_KEYS, formatHop, HopSyntaxError, parseHop, WIRE_KEYS, type Hop } from '../../../src/paths/hop.ts';
import { visibleControls } from '../../../src/scenario/text.ts';

const roundTrip = [
  // DESIGN.md's own examples
  'iptables nat/OUTPUT#1 -> nat/ISTIO_OUTPUT#9 -> nat/ISTIO_REDIRECT#1 REDIRECT:15001',
  'envoy listener=virtualOutbound -> listener=0.0.0.0_7000 chain=PassthroughFilterChain cluster=BlackHoleCluster',
  'wire iface=eth0 dst=10.0.0.6:7000',
  'app pod=details port=9080',
  'reply "HTTP/1.1 400 Bad Request"',
  'reply closed',
  // seed 001: inbound, captured in PREROUTING and handed to 15006
  'iptables nat/PREROUTING#1 -> nat/ISTIO_INBOUND#5 -> nat/ISTIO_IN_REDIRECT#1 REDIRECT:15006',
  // partial paths: one rule, no effect
  'iptables nat/ISTIO_OUTPUT#4',
  // seed 000: Envoy to the app from 127.0.0.6
  'app pod=productpage port=9080 src=127.0.0.6',
  // lower-case chain names as in seed 003's dump
  'iptables nat/OUTPUT#1 -> nat/istio_OUTPUT#6 -> nat/istio_REDIRECT#1 REDIRECT:15001',
  // what `pathlab iptables trace` prints for a Service VIP and for TPROXY's mangle rules
  'iptables nat/OUTPUT#1 -> nat/KUBE-SERVICES#3 -> nat/KUBE-SVC-X7Q#1 DNAT:10.64.0.20:8080',
  'iptables mangle/PREROUTING#1 -> mangle/ISTIO_INBOUND#3 -> mangle/ISTIO_TPROXY#1 TPROXY:15006',
  // a chain name iptables-save prints that is not A-Z, 0-9, _ and -
  'iptables filter/f2b.sshd#2 DROP',
  // explain's unnamed filter chains, by position and the default one
  'envoy listener=virtualOutbound -> listener=0.0.0.0_7000 chain=#2 flags=DPE',
  'envoy listener=10.96.0.10_9153 chain=#default cluster=outbound|9153||kube-dns.kube-system.svc.cluster.local',
  // what the access log gives: route, flags, upstream host
  'envoy listener=virtualOutbound -> listener=0.0.0.0_9080 cluster=outbound|9080||details.default.svc.cluster.local route=default upstream=10.64.4.11:9080',
  // explain's wire hop when the cluster has several endpoints: only that it leaves on eth0
  'wire iface=eth0',
  'wire iface=eth0 dst=[fd00::6]:7000',
  // a value with a space (a VirtualService's route name) is a JSON string
  'envoy listener=0.0.0.0_9080 route="retry then fail" flags=URX',
  'envoy listener=virtualOutbound chain="" cluster=PassthroughCluster',
  // a reply with characters a terminal would not show as they are
  'reply "tab\\t\\u007f\\u202e"',
];

for (const text of roundTrip) {
  test(`round trip: ${text}`, (t) => {
    t.is(formatHop(parseHop(text)), text);
  });
}

test('an iptables hop keeps each rule and the effect', (t) => {
  t.deepEqual(parseHop('iptables nat/OUTPUT#1 -> nat/ISTIO_OUTPUT#9 -> nat/ISTIO_REDIRECT#1 REDIRECT:15001'), {
    kind: 'iptables',
    steps: [
      { table: 'nat', chain: 'OUTPUT', rule: 1 },
      { table: 'nat', chain: 'ISTIO_OUTPUT', rule: 9 },
      { table: 'nat', chain: 'ISTIO_REDIRECT', rule: 1 },
    ],
    effect: { target: 'REDIRECT', arg: '15001' },
  });
});

test('a quoted value is read as JSON and may hold spaces, quotes and an arrow', (t) => {
  t.deepEqual(parseHop('envoy listener=a route="x -> \\"y\\"" flags=UF'), { kind: 'envoy', attrs: [['listener', 'a'], ['route', 'x -> "y"'], ['flags', 'UF']] });
  t.deepEqual(parseHop('app pod=p port=80 src=127.0.0.6'), { kind: 'app', attrs: [['pod', 'p'], ['port', '80'], ['src', '127.0.0.6']] });
});

// Any hop, with any text in its values, written by formatHop, reads back as the same hop, and a
// report (which shows control characters as escapes) prints it unchanged.
const value = fc.string({ unit: 'binary', maxLength: 12 });
const bare = fc.stringMatching(/^[A-Za-z0-9_.|:#-]{1,20}$/).filter((x) => x !== '->');
const ip = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((a) => a.join('.'));
const anyHop: fc.Arbitrary<Hop> = fc.oneof(
  fc.record({
    kind: fc.constant('iptables' as const),
    steps: fc.array(fc.record({ table: fc.constantFrom('nat', 'mangle', 'raw', 'filter'), chain: fc.stringMatching(/^[^\s]{1,28}$/), rule: fc.integer({ min: 1, max: 999 }) }), { minLength: 1, maxLength: 4 }),
  }),
  fc.array(fc.tuple(fc.constantFrom(...ENVOY_KEYS), fc.oneof(bare, value)), { minLength: 1, maxLength: 6 }).map((attrs): Hop => ({ kind: 'envoy', attrs })),
  fc.array(fc.tuple(fc.constantFrom(...WIRE_KEYS.filter((k) => k !== 'dst' && k !== 'src')), fc.oneof(bare, value)), { minLength: 0, maxLength: 3 }).chain((attrs) =>
    ip.map((dst): Hop => ({ kind: 'wire', attrs: [...attrs, ['dst', `${dst}:7000`]] })),
  ),
  fc.tuple(fc.oneof(bare, value), fc.integer({ min: 1, max: 65535 })).map(([pod, port]): Hop => ({ kind: 'app', attrs: [[APP_KEYS[0], pod], ['port', String(port)]] })),
  value.map((text): Hop => ({ kind: 'reply', text })),
  fc.constant<Hop>({ kind: 'reply', text: '', closed: true }),
);

test('formatHop writes what parseHop reads back, for any values, and nothing a report would escape', (t) => {
  t.notThrows(() =>
    fc.assert(
      fc.property(anyHop, (hop) => {
        const text = formatHop(hop);
        return JSON.stringify(parseHop(text)) === JSON.stringify(hop) && visibleControls(text) === text && !text.includes('\n');
      }),
      { numRuns: 2000 },
    ),
  );
});

const errors: Array<[string, string, number]> = [
  ['envoyy listener=x', 'unknown hop kind "envoyy" (expected iptables, envoy, wire, app, reply)', 0],
  ['iptables', 'an iptables hop needs at least one rule, e.g. nat/OUTPUT#1', 8],
  ['iptables nat/OUTPUT#1 ->', '"->" must be followed by a rule', 24],
  ['iptables nat/OUTPUT#1 REDIRECT', 'REDIRECT needs its port, e.g. REDIRECT:15001', 22],
  ['iptables nat/OUTPUT#1 JUMP:X', 'unknown effect "JUMP" (expected REDIRECT, TPROXY, DNAT, ACCEPT, DROP, REJECT, RETURN, MARK, or "->" and another rule)', 22],
  ['iptables nat/OUTPUT#1 ACCEPT nat/X#1', 'the effect "ACCEPT" must come last', 22],
  ['iptables OUTPUT#1', '"OUTPUT#1" is not a rule (expected table/CHAIN#N, e.g. nat/ISTIO_OUTPUT#9)', 9],
  ['envoy lstener=virtualOutbound', 'unknown key "lstener" (expected listener, chain, cluster, route, vhost, flags, upstream)', 6],
  ['wire iface=eth0 dst=redis:7000', 'dst must be IP, IP:PORT or a lab host (pod/NAME:PORT, svc/NAME:PORT), got "redis:7000"', 20],
  ['app pod=details port=http', 'port must be a number, got "http"', 21],
  ['reply HTTP/1.1 400', 'a reply hop is a quoted text, e.g. reply "HTTP/1.1 400 Bad Request", or reply closed', 6],
  // what `pathlab iptables trace` and `pathlab explain` printed before they printed the notation
  ['OUTPUT#1 → istio_OUTPUT#6 → istio_REDIRECT#1 → REDIRECT :15001', 'unknown hop kind "OUTPUT#1" (expected iptables, envoy, wire, app, reply)', 0],
  ['wire iface=eth0 cluster=outbound|6379||redis.db.svc.cluster.local', 'unknown key "cluster" (expected iface, src, dst, proto)', 16],
  ['app app port=8080', '"app" is not key=value (keys: pod, port, src)', 4],
  ['envoy route="open', 'the quoted value of "route" has no closing quote', 12],
  ['envoy route="a"b', 'a quoted value must be followed by a space or the end of the hop', 15],
];

for (const [text, message, offset] of errors) {
  test(`rejects: ${text}`, (t) => {
    const e = t.throws(() => parseHop(text), { instanceOf: HopSyntaxError });
    t.is(e?.message, message);
    t.is(e?.offset, offset);
  });
}
