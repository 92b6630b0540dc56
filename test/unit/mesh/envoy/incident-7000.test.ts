// The seed 003 incident (an external redis at 10.0.0.6:7000-7003, an HTTP Service on 7000 in
// another namespace) through explain, for every outcome the acceptance names. Sources:
// notes/istio-envoy.md §7 and §8 (Istio commit 31b35eb73dc for 1.6's fall-through,
// sidecar_simulation_test.go TestPassthroughTraffic, istio.io "Understanding Traffic Routing").
import test from 'ava';
import { explain, type ExplainConnection, type PathHop } from '../../../../src/mesh/envoy/explain.ts';
import { istioInitRules } from '../../../../src/mesh/iptables/index.ts';
import { kernelTrace } from '../../../../src/paths/kernel-trace.ts';
import { formatHop } from '../../../../src/paths/hop.ts';
import { explainedHop } from '../../../../src/paths/predict.ts';
import { incidentMesh, synthesize } from '../../../helpers/mesh.ts';

const POD = '10.64.192.14';
/** The kernel's part: the rules istio-init renders for that Istio version and these annotations. */
function kernel(conn: ExplainConnection, version: string, annotations: Record<string, string> = {}) {
  return kernelTrace(istioInitRules(version, annotations).tables, { src: conn.src, dst: conn.dst, podIp: POD });
}

/** The Envoy hops in the notation, joined as one hop's hand-off (without the `envoy` kind). */
const envoyPath = (hops: readonly PathHop[]) => hops.map((h) => formatHop(explainedHop(h)).replace(/^envoy /, '')).join(' -> ');
const text = (h: PathHop) => formatHop(explainedHop(h));

const redis = (port: number): ExplainConnection => ({ src: POD, dst: { ip: '10.0.0.6', port }, payload: { kind: 'bytes', text: 'keys *\n' } });

interface Case {
  name: string;
  mesh: Parameters<typeof incidentMesh>[0];
  port: number;
  /** Pod annotations istio-init reads (the fixes that bypass Envoy). */
  annotations?: Record<string, string>;
  envoy: string | null;
  outcome: { kind: string; status?: number; responseFlag: string; upstreamConnection: boolean; upstream?: RegExp };
  /** The last hop: `wire ...` (bytes leave the pod) or `reply ...` (the sidecar answers). */
  last: string;
}

const cases: Case[] = [
  {
    name: 'legacy (1.3-1.5): 7000 hits 0.0.0.0_7000\'s match-all HTTP manager: 400, nothing leaves the pod',
    mesh: { era: 'legacy' },
    port: 7000,
    envoy: 'listener=virtualOutbound -> listener=0.0.0.0_7000 chain=#2',
    outcome: { kind: 'http-response', status: 400, responseFlag: 'DPE', upstreamConnection: false },
    last: 'reply "HTTP/1.1 400 Bad Request"',
  },
  {
    name: 'legacy: 7003 has no listener: virtualOutbound → PassthroughCluster, redis answers',
    mesh: { era: 'legacy' },
    port: 7003,
    envoy: 'listener=virtualOutbound chain=#2 cluster=PassthroughCluster',
    outcome: { kind: 'passthrough', responseFlag: '-', upstreamConnection: true, upstream: /^10\.0\.0\.6:7003$/ },
    last: 'wire iface=eth0 dst=10.0.0.6:7003',
  },
  {
    name: 'current (1.6+): 7000 → 0.0.0.0_7000 → PassthroughFilterChain → PassthroughCluster',
    mesh: {},
    port: 7000,
    envoy: 'listener=virtualOutbound -> listener=0.0.0.0_7000 chain=PassthroughFilterChain cluster=PassthroughCluster',
    outcome: { kind: 'passthrough', responseFlag: '-', upstreamConnection: true, upstream: /^10\.0\.0\.6:7000$/ },
    last: 'wire iface=eth0 dst=10.0.0.6:7000',
  },
  {
    name: 'current: a TCP ServiceEntry without addresses on 7000 captures every IP\'s 7000: its outbound cluster, not redis',
    mesh: { add: ['tcp-serviceentry-no-address.yaml'] },
    port: 7000,
    envoy: 'listener=virtualOutbound -> listener=0.0.0.0_7000 chain=#default cluster=outbound|7000||cache.legacy.example.com',
    outcome: { kind: 'service', responseFlag: '-', upstreamConnection: true, upstream: /cache\.legacy\.example\.com.*not 10\.0\.0\.6:7000/ },
    // The endpoint is a DNS name, which no packet carries: the hop says only that a connection leaves on eth0.
    last: 'wire iface=eth0',
  },
  {
    name: 'current REGISTRY_ONLY: 7003 → virtualOutbound-catchall-tcp → BlackHoleCluster, closed without reply',
    mesh: { mode: 'REGISTRY_ONLY' },
    port: 7003,
    envoy: 'listener=virtualOutbound chain=virtualOutbound-catchall-tcp cluster=BlackHoleCluster',
    outcome: { kind: 'closed', responseFlag: 'UH', upstreamConnection: false },
    last: 'reply closed',
  },
  {
    name: 'fix 1 (legacy): ServiceEntry addresses [10.0.0.6] TCP 7000 → the exact 10.0.0.6_7000 listener wins over 0.0.0.0_7000',
    mesh: { era: 'legacy', add: ['fix-serviceentry.yaml'] },
    port: 7000,
    envoy: 'listener=virtualOutbound -> listener=10.0.0.6_7000 chain=#1 cluster=outbound|7000||redis.external.example.com',
    outcome: { kind: 'service', responseFlag: '-', upstreamConnection: true, upstream: /10\.0\.0\.6:7000/ },
    last: 'wire iface=eth0 dst=10.0.0.6:7000',
  },
  {
    name: 'fix 1 also under REGISTRY_ONLY (current): the ServiceEntry makes redis a registered service',
    mesh: { mode: 'REGISTRY_ONLY', add: ['fix-serviceentry.yaml'] },
    port: 7000,
    envoy: 'listener=virtualOutbound -> listener=10.0.0.6_7000 chain=#1 cluster=outbound|7000||redis.external.example.com',
    outcome: { kind: 'service', responseFlag: '-', upstreamConnection: true, upstream: /10\.0\.0\.6:7000/ },
    last: 'wire iface=eth0 dst=10.0.0.6:7000',
  },
  {
    name: 'fix 2 (legacy): a Sidecar whose egress hosts leave web/ out: no 0.0.0.0_7000, virtualOutbound → PassthroughCluster',
    mesh: { era: 'legacy', add: ['fix-sidecar.yaml'] },
    port: 7000,
    envoy: 'listener=virtualOutbound chain=#2 cluster=PassthroughCluster',
    outcome: { kind: 'passthrough', responseFlag: '-', upstreamConnection: true, upstream: /^10\.0\.0\.6:7000$/ },
    last: 'wire iface=eth0 dst=10.0.0.6:7000',
  },
  {
    name: 'fix 3 (legacy): excludeOutboundPorts 7000: not redirected, Envoy never sees it',
    mesh: { era: 'legacy' },
    port: 7000,
    annotations: { 'traffic.sidecar.istio.io/excludeOutboundPorts': '7000' },
    envoy: null,
    outcome: { kind: 'passthrough', responseFlag: '-', upstreamConnection: true, upstream: /^10\.0\.0\.6:7000$/ },
    last: 'wire iface=eth0 dst=10.0.0.6:7000',
  },
  {
    name: 'fix 4 (legacy): excludeOutboundIPRanges 10.0.0.6/32: not redirected, Envoy never sees it',
    mesh: { era: 'legacy' },
    port: 7000,
    annotations: { 'traffic.sidecar.istio.io/excludeOutboundIPRanges': '10.0.0.6/32' },
    envoy: null,
    outcome: { kind: 'passthrough', responseFlag: '-', upstreamConnection: true, upstream: /^10\.0\.0\.6:7000$/ },
    last: 'wire iface=eth0 dst=10.0.0.6:7000',
  },
];

for (const c of cases) {
  test(c.name, (t) => {
    const cfg = synthesize(incidentMesh(c.mesh));
    const conn = redis(c.port);
    const e = explain(kernel(conn, c.mesh?.era === 'legacy' ? '1.5' : 'current', c.annotations), cfg, conn);
    const envoyHops = e.hops.flatMap((h) => (h.kind === 'envoy' ? [h] : []));
    t.is(envoyHops.length ? envoyPath(envoyHops) : null, c.envoy);
    t.is(e.outcome.kind as string, c.outcome.kind);
    t.is(e.outcome.status, c.outcome.status);
    t.is(e.outcome.responseFlag, c.outcome.responseFlag);
    t.is(e.outcome.upstreamConnection, c.outcome.upstreamConnection);
    if (c.outcome.upstream) t.regex(e.outcome.upstream ?? '', c.outcome.upstream);
    t.is(text(e.hops.at(-1)!), c.last);
    for (const h of e.hops) t.true(h.reason.length > 0 && !h.reason.includes('\n'), `one-line reason for ${text(h)}`);
  });
}

test('the 400 hop names the HTTP service behind 0.0.0.0_7000 (web/frontend)', (t) => {
  const conn = redis(7000);
  const e = explain(kernel(conn, '1.5'), synthesize(incidentMesh({ era: 'legacy' })), conn);
  t.regex(e.hops.find((h) => h.kind === 'envoy' && h.listener === '0.0.0.0_7000')!.reason, /frontend\.web\.svc\.cluster\.local:7000/);
  t.deepEqual(e.hops.at(-1), { kind: 'reply', statusLine: 'HTTP/1.1 400 Bad Request', reason: e.hops.at(-1)!.reason });
});

test('current: the PassthroughFilterChain hop says why (an HTTP service exists, the payload is not HTTP)', (t) => {
  const conn = redis(7000);
  const e = explain(kernel(conn, 'current'), synthesize(incidentMesh()), conn);
  t.regex(e.hops.find((h) => h.kind === 'envoy' && h.listener === '0.0.0.0_7000')!.reason, /an HTTP service on port 7000 exists \(frontend\.web.*not HTTP.*PassthroughFilterChain/);
});

test('curl to 10.0.0.6:7000 with an HTTP service on 7000: allow_any → PassthroughCluster; REGISTRY_ONLY: block_all 502', (t) => {
  const conn: ExplainConnection = { src: POD, dst: { ip: '10.0.0.6', port: 7000 }, payload: { kind: 'http', host: '10.0.0.6:7000', path: '/' } };
  const allow = explain(kernel(conn, 'current'), synthesize(incidentMesh()), conn);
  t.is(allow.cluster, 'PassthroughCluster');
  t.is(allow.route?.virtualHost, 'allow_any');
  const block = explain(kernel(conn, 'current'), synthesize(incidentMesh({ mode: 'REGISTRY_ONLY' })), conn);
  t.is(block.outcome.status, 502);
  t.is(block.route?.virtualHost, 'block_all');
  t.is(block.outcome.responseCodeDetails, 'direct_response');
});
