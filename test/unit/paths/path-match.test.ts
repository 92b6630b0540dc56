// The path matcher: partial expected paths, must-not hops, and the first difference named.
// The observed paths are the ones the netns lab observed for seed 003 (test/netns/seed003-*).
import test from 'ava';
import { matchPath, predictionGaps } from '../../../src/paths/path-match.ts';

const OUTAGE = [
  'iptables nat/OUTPUT#1 -> nat/ISTIO_OUTPUT#9 -> nat/ISTIO_REDIRECT#1 REDIRECT:15001',
  'envoy listener=virtualOutbound -> listener=0.0.0.0_7000 chain=#2 flags=DPE',
  'reply "HTTP/1.1 400 Bad Request"',
];
const PASSTHROUGH = [
  'iptables nat/OUTPUT#1 -> nat/ISTIO_OUTPUT#9 -> nat/ISTIO_REDIRECT#1 REDIRECT:15001',
  'envoy listener=virtualOutbound chain=#2 cluster=PassthroughCluster',
  'wire iface=eth0 dst=10.0.0.6:7003',
  'reply "-NOAUTH Authentication required."',
];

const cases: Array<{ name: string; expected: string[]; not?: string[]; observed: string[]; diff?: { index: number; observed: string | null } }> = [
  { name: 'the whole path', expected: OUTAGE, observed: OUTAGE },
  { name: 'a partial path: one rule and the listener', expected: ['iptables nat/ISTIO_OUTPUT#9', 'envoy listener=0.0.0.0_7000'], observed: OUTAGE },
  { name: 'a reply is matched by its beginning', expected: ['reply "HTTP/1.1 400"'], observed: OUTAGE },
  { name: 'the wrong rule number', expected: ['iptables nat/ISTIO_OUTPUT#8'], observed: OUTAGE, diff: { index: 0, observed: OUTAGE[0]! } },
  { name: 'the wrong effect', expected: ['iptables nat/OUTPUT#1 REDIRECT:15006'], observed: OUTAGE, diff: { index: 0, observed: OUTAGE[0]! } },
  { name: 'a listener that was not handed the connection', expected: ['envoy listener=0.0.0.0_7000'], observed: PASSTHROUGH, diff: { index: 0, observed: PASSTHROUGH[1]! } },
  { name: 'order matters', expected: ['reply "HTTP/1.1 400"', 'envoy listener=virtualOutbound'], observed: OUTAGE, diff: { index: 1, observed: null } },
  { name: 'a must-not hop that was seen', expected: [], not: ['wire iface=eth0 dst=10.0.0.6:7003'], observed: PASSTHROUGH, diff: { index: -1, observed: PASSTHROUGH[2]! } },
  { name: 'a must-not hop that was not seen', expected: [], not: ['wire iface=eth0 dst=10.0.0.6:7000', 'envoy cluster=PassthroughCluster'], observed: OUTAGE },
  { name: 'reply closed', expected: ['reply closed'], observed: ['envoy listener=virtualOutbound cluster=BlackHoleCluster', 'reply closed'] },
  { name: 'reply closed is not a reply with bytes', expected: ['reply closed'], observed: PASSTHROUGH, diff: { index: 0, observed: PASSTHROUGH[3]! } },
];

for (const c of cases) {
  test(c.name, (t) => {
    const d = matchPath(c.expected, c.not ?? [], c.observed);
    if (!c.diff) return t.is(d, undefined, JSON.stringify(d));
    t.truthy(d);
    t.is(d!.index, c.diff.index);
    t.is(d!.observed, c.diff.observed);
  });
}

test('prediction gaps: a predicted hop outside the notation is reported, not thrown', (t) => {
  const predicted = [PASSTHROUGH[0]!, 'wire iface=eth0 cluster=outbound|8080||app.default.svc.cluster.local', 'wire iface=eth0 dst=cache.legacy.example.com:7000', 'envoy listener=0.0.0.0_7000'];
  const gaps = predictionGaps(predicted, PASSTHROUGH);
  t.is(gaps.length, 3);
  t.regex(gaps[0]!, /^predicted, not comparable \(unknown key "cluster".*\): wire iface=eth0 cluster=/);
  t.regex(gaps[1]!, /^predicted, not comparable \(dst must be IP or IP:PORT.*\): wire iface=eth0 dst=cache/);
  t.is(gaps[2], 'predicted but not observed: envoy listener=0.0.0.0_7000');
});
