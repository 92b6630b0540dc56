// The path notation of DESIGN.md: every example there parses, and formats back to itself.
import test from 'ava';
import { formatHop, HopSyntaxError, parseHop } from '../../../src/paths/hop.ts';

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

const errors: Array<[string, string, number]> = [
  ['envoyy listener=x', 'unknown hop kind "envoyy" (expected iptables, envoy, wire, app, reply)', 0],
  ['iptables', 'an iptables hop needs at least one rule, e.g. nat/OUTPUT#1', 8],
  ['iptables nat/OUTPUT#1 ->', '"->" must be followed by a rule', 24],
  ['iptables nat/OUTPUT#1 REDIRECT', 'REDIRECT needs its port, e.g. REDIRECT:15001', 22],
  ['iptables nat/OUTPUT#1 JUMP:X', 'unknown effect "JUMP" (expected REDIRECT, TPROXY, DNAT, ACCEPT, DROP, REJECT, RETURN, MARK, or "->" and another rule)', 22],
  ['iptables nat/OUTPUT#1 ACCEPT nat/X#1', 'the effect "ACCEPT" must come last', 22],
  ['iptables OUTPUT#1', '"OUTPUT#1" is not a rule (expected table/CHAIN#N, e.g. nat/ISTIO_OUTPUT#9)', 9],
  ['envoy lstener=virtualOutbound', 'unknown key "lstener" (expected listener, chain, cluster, route, vhost, flags, upstream)', 6],
  ['wire iface=eth0 dst=redis:7000', 'dst must be IP or IP:PORT, got "redis:7000"', 20],
  ['app pod=details port=http', 'port must be a number, got "http"', 21],
  ['reply HTTP/1.1 400', 'a reply hop is a quoted text, e.g. reply "HTTP/1.1 400 Bad Request", or reply closed', 6],
];

for (const [text, message, offset] of errors) {
  test(`rejects: ${text}`, (t) => {
    const e = t.throws(() => parseHop(text), { instanceOf: HopSyntaxError });
    t.is(e?.message, message);
    t.is(e?.offset, offset);
  });
}
