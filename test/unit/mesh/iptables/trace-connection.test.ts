// The six traffic types of seed 001, traced through the real pod rules of seed 000 (proxy uid 201507).
// Expected hops are the seed article's rule numbers, except where the kernel's own trace disagrees
// (the twin test in test/netns checks every one of these against the kernel): then the kernel wins
// and the case says so.
import test from 'ava';
import { formatEffect, parseIptablesSave, traceConnection, TraceError } from '../../../../src/mesh/iptables/index.ts';
import type { Connection, Trace } from '../../../../src/mesh/iptables/index.ts';
import { formatHop } from '../../../../src/paths/hop.ts';
import { traceHop } from '../../../../src/paths/kernel-trace.ts';
import { readFixture } from '../../../helpers/shared-fixtures.ts';

/** The trace's rules and effect as the iptables hop writes them (without the `iptables` kind), or the policy's verdict when no rule matched. */
function formatTracePath(trace: Trace): string {
  const hop = traceHop(trace);
  return hop ? formatHop(hop).replace(/^iptables /, '') : formatEffect(trace.effect);
}

const POD = '10.64.0.14';
const PROXY = 201507;
const seed000 = parseIptablesSave(readFixture('iptables', 'seed000-pod-uid201507.save'));

interface Case {
  name: string;
  conn: Connection;
  path: string;
  note?: string;
}
const cases: Case[] = [
  { name: 'remote → local pod: inbound capture to 15006', conn: { direction: 'in', proto: 'tcp', src: '10.64.1.7', dst: POD, sport: 40000, dport: 9080 }, path: 'nat/PREROUTING#1 -> nat/ISTIO_INBOUND#5 -> nat/ISTIO_IN_REDIRECT#1 REDIRECT:15006' },
  { name: 'remote → local pod: Envoy to the app from 127.0.0.6 (ISTIO_OUTPUT rule 1)', conn: { direction: 'out', proto: 'tcp', src: '127.0.0.6', dst: POD, dport: 9080, uid: PROXY, gid: PROXY, oif: 'lo' }, path: 'nat/OUTPUT#1 -> nat/ISTIO_OUTPUT#1 ACCEPT' },
  { name: 'local → remote: the app (ISTIO_OUTPUT rule 9)', conn: { direction: 'out', proto: 'tcp', src: POD, dst: '10.0.0.6', dport: 7000, uid: 1000, gid: 1000 }, path: 'nat/OUTPUT#1 -> nat/ISTIO_OUTPUT#9 -> nat/ISTIO_REDIRECT#1 REDIRECT:15001' },
  { name: 'local → remote: Envoy upstream (ISTIO_OUTPUT rule 4)', conn: { direction: 'out', proto: 'tcp', src: POD, dst: '10.0.0.6', dport: 7000, uid: PROXY, gid: PROXY }, path: 'nat/OUTPUT#1 -> nat/ISTIO_OUTPUT#4 ACCEPT' },
  { name: 'Prometheus → pod 15020: excluded from capture', conn: { direction: 'in', proto: 'tcp', src: '10.64.1.9', dst: POD, dport: 15020 }, path: 'nat/PREROUTING#1 -> nat/ISTIO_INBOUND#4 ACCEPT' },
  { name: 'Prometheus → pod 15090: excluded from capture', conn: { direction: 'in', proto: 'tcp', src: '10.64.1.9', dst: POD, dport: 15090 }, path: 'nat/PREROUTING#1 -> nat/ISTIO_INBOUND#2 ACCEPT' },
  { name: 'local → local: Envoy to its own pod IP over lo (ISTIO_OUTPUT rule 2)', conn: { direction: 'out', proto: 'tcp', src: POD, dst: POD, dport: 9080, uid: PROXY, gid: PROXY, oif: 'lo' }, path: 'nat/OUTPUT#1 -> nat/ISTIO_OUTPUT#2 -> nat/ISTIO_IN_REDIRECT#1 REDIRECT:15006' },
  {
    name: 'Envoy internal loopback to 127.0.0.1: kernel rule 4, not the article’s rule 8',
    conn: { direction: 'out', proto: 'tcp', src: '127.0.0.1', dst: '127.0.0.1', dport: 15000, uid: PROXY, gid: PROXY },
    path: 'nat/OUTPUT#1 -> nat/ISTIO_OUTPUT#4 ACCEPT',
    note: 'seed 001 says ISTIO_OUTPUT RULE 8 (-d 127.0.0.1/32 RETURN); the uid RETURN (#4) comes first for uid 1337/201507',
  },
  { name: 'an app to localhost: lo RETURN for non-proxy uids (rule 3)', conn: { direction: 'out', proto: 'tcp', src: '127.0.0.1', dst: '127.0.0.1', dport: 6379, uid: 1000, gid: 1000 }, path: 'nat/OUTPUT#1 -> nat/ISTIO_OUTPUT#3 ACCEPT' },
  { name: 'sidecar → istiod (ISTIO_OUTPUT rule 4)', conn: { direction: 'out', proto: 'tcp', src: POD, dst: '10.96.0.20', dport: 15012, uid: PROXY, gid: PROXY }, path: 'nat/OUTPUT#1 -> nat/ISTIO_OUTPUT#4 ACCEPT' },
  { name: 'UDP does not enter ISTIO_OUTPUT on seed 000 rules (OUTPUT -p tcp)', conn: { direction: 'out', proto: 'udp', src: POD, dst: '10.96.0.10', dport: 53, uid: 1000, gid: 1000 }, path: 'ACCEPT' },
];
for (const c of cases) {
  test(`seed000: ${c.name}`, (t) => {
    const trace = traceConnection(seed000, c.conn);
    t.is(formatTracePath(trace), c.path, c.note);
  });
}

test('the trace is one iptables hop of the path notation, as a scenario writes it', (t) => {
  const trace = traceConnection(seed000, { direction: 'out', proto: 'tcp', src: POD, dst: '10.0.0.6', dport: 7000, uid: 1000, gid: 1000 });
  t.is(formatHop(traceHop(trace)!), 'iptables nat/OUTPUT#1 -> nat/ISTIO_OUTPUT#9 -> nat/ISTIO_REDIRECT#1 REDIRECT:15001');
  t.deepEqual(trace.hops[1], { table: 'nat', chain: 'ISTIO_OUTPUT', rule: 9, target: 'ISTIO_REDIRECT' });
});

test('fall-through of a user chain returns to the caller and ends at the policy', (t) => {
  const rs = parseIptablesSave('*nat\n:OUTPUT ACCEPT [0:0]\n-N A\n-A OUTPUT -j A\n-A OUTPUT -p tcp --dport 80 -j REDIRECT --to-ports 8080\n-A A -p udp -j RETURN\nCOMMIT\n');
  const trace = traceConnection(rs, { direction: 'out', proto: 'tcp', src: '10.0.0.1', dst: '10.0.0.2', dport: 80 });
  t.deepEqual(trace.steps.map((s) => `${s.kind}:${s.chain}${s.rule ? '#' + s.rule : ''}`), ['rule:OUTPUT#1', 'return:A', 'rule:OUTPUT#2']);
  t.is(formatTracePath(trace), 'nat/OUTPUT#1 -> nat/OUTPUT#2 REDIRECT:8080');
});

test('policy DROP of a built-in chain is the effect', (t) => {
  const rs = parseIptablesSave('*filter\n:OUTPUT DROP [0:0]\n-A OUTPUT -d 10.0.0.0/8 -j ACCEPT\nCOMMIT\n');
  t.is(traceConnection(rs, { direction: 'out', proto: 'tcp', src: '192.168.0.1', dst: '192.168.0.2', dport: 1 }).effect.verdict, 'DROP');
  t.is(traceConnection(rs, { direction: 'out', proto: 'tcp', src: '10.0.0.1', dst: '10.0.0.2', dport: 1 }).effect.verdict, 'ACCEPT');
});

test('TPROXY inbound: mangle rules, marks and connmark', (t) => {
  const rs = parseIptablesSave(
    '*mangle\n-N ISTIO_DIVERT\n-N ISTIO_TPROXY\n-N ISTIO_INBOUND\n-A ISTIO_DIVERT -j MARK --set-mark 1337\n-A ISTIO_DIVERT -j ACCEPT\n-A ISTIO_TPROXY ! -d 127.0.0.1/32 -p tcp -j TPROXY --tproxy-mark 1337/0xffffffff --on-port 15006\n-A PREROUTING -p tcp -j ISTIO_INBOUND\n-A ISTIO_INBOUND -p tcp -m conntrack --ctstate RELATED,ESTABLISHED -j ISTIO_DIVERT\n-A ISTIO_INBOUND -p tcp -j ISTIO_TPROXY\n-I ISTIO_INBOUND 1 -p tcp -m mark --mark 1337 -j RETURN\nCOMMIT\n',
  );
  const first = traceConnection(rs, { direction: 'in', proto: 'tcp', src: '10.0.0.9', dst: '10.0.0.5', dport: 8080 });
  t.is(formatTracePath(first), 'mangle/PREROUTING#1 -> mangle/ISTIO_INBOUND#3 -> mangle/ISTIO_TPROXY#1 TPROXY:15006');
  t.is(first.effect.mark, 1337);
  const later = traceConnection(rs, { direction: 'in', proto: 'tcp', src: '10.0.0.9', dst: '10.0.0.5', dport: 8080, ctstate: 'ESTABLISHED' });
  t.is(formatTracePath(later), 'mangle/PREROUTING#1 -> mangle/ISTIO_INBOUND#2 -> mangle/ISTIO_DIVERT#1 -> mangle/ISTIO_DIVERT#2 ACCEPT');
});

test('negated multiport and owner matches, IPv6 prefixes', (t) => {
  const rs = parseIptablesSave('*nat\n-N X\n-A OUTPUT -j X\n-A X -o lo ! -d ::1/128 -p tcp -m multiport ! --dports 53,15008 -m owner --uid-owner 1337 -j RETURN\n-A X -d 2001:db8::/32 -j REDIRECT --to-ports 15001\nCOMMIT\n');
  const base = { direction: 'out' as const, proto: 'tcp', src: '2001:db8::5', uid: 1337, gid: 1337 };
  t.is(formatTracePath(traceConnection(rs, { ...base, dst: '2001:db8::5', dport: 80, oif: 'lo' })), 'nat/OUTPUT#1 -> nat/X#1 ACCEPT');
  t.is(formatTracePath(traceConnection(rs, { ...base, dst: '2001:db8::5', dport: 15008, oif: 'lo' })), 'nat/OUTPUT#1 -> nat/X#2 REDIRECT:15001');
});

test('unknown matches are an error, never ignored', (t) => {
  const rs = parseIptablesSave('*nat\n-A OUTPUT -m statistic --mode random --probability 0.5 -j RETURN\nCOMMIT\n');
  const e = t.throws(() => traceConnection(rs, { direction: 'out', proto: 'tcp', src: '10.0.0.1', dst: '10.0.0.2', dport: 1 }), { instanceOf: TraceError });
  t.regex(e?.message ?? '', /unknown match module "-m statistic"/);
});

test('group names need a numeric id to be traced', (t) => {
  const rs = parseIptablesSave('*nat\n-A OUTPUT -m owner ! --gid-owner java -j RETURN\nCOMMIT\n');
  const conn: Connection = { direction: 'out', proto: 'tcp', src: '10.0.0.1', dst: '10.0.0.2', dport: 1, uid: 1, gid: 2020 };
  t.throws(() => traceConnection(rs, conn), { instanceOf: TraceError, message: /cannot resolve group name "java"/ });
  t.deepEqual(traceConnection(rs, conn, { groups: { java: 2020 } }).hops, []);
});

test('-g (goto): the end of the chain gone to returns past the caller, to the base chain’s policy', (t) => {
  const rs = parseIptablesSave('*filter\n:OUTPUT DROP [0:0]\n-N A\n-N B\n-A OUTPUT -j A\n-A OUTPUT -j ACCEPT\n-A A -g B\n-A A -j ACCEPT\n-A B -p udp -j ACCEPT\nCOMMIT\n');
  const trace = traceConnection(rs, { direction: 'out', proto: 'tcp', src: '10.0.0.1', dst: '10.0.0.2', dport: 1 });
  t.deepEqual(trace.steps.map((s) => `${s.kind}:${s.chain}${s.rule ? '#' + s.rule : ''}`), ['rule:OUTPUT#1', 'rule:A#1', 'return:B', 'rule:OUTPUT#2']);
  t.is(trace.effect.verdict, 'ACCEPT');
});
