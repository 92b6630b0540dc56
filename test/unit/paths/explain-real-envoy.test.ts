// explain on real Envoy configuration: the config_dumps the netns lab's Envoy 1.38.3 gave
// (test/data/envoy, recorded by scripts/record-envoy-dump.ts), with the kernel's part traced
// through the rules istio-init renders, as the runner's predict phase does (src/run/probe.ts).
// Then the comparison of explain's Envoy hop with what a sidecar logged (envoyAgreement), and
// which capture port a logged connection came through when one log holds both (capturePortOf).
import { readFileSync } from 'node:fs';
import test from 'ava';
import { parseConfigDump } from '../../../src/mesh/envoy/config-dump-parser.ts';
import { explain, type ExplainConnection } from '../../../src/mesh/envoy/explain.ts';
import { istioInitRules, loadRuleSet, parseIptablesSave } from '../../../src/mesh/iptables/index.ts';
import { kernelTrace } from '../../../src/paths/kernel-trace.ts';
import { predictedHops } from '../../../src/paths/predict.ts';
import { formatHop, parseHop } from '../../../src/paths/hop.ts';
import { envoyAgreement, matchPath } from '../../../src/paths/path-match.ts';
import { accessLogLineOf, accessLogTokens, capturePortOf, parseAccessLogLine } from '../../../src/paths/access-log.ts';
import { accessLogHop, observedHops } from '../../../src/paths/observe.ts';
import { loadScenarioFile } from '../../../src/scenario/loader.ts';
import type { LoadedScenario } from '../../../src/scenario/loaded.ts';

const dump = (file: string) => parseConfigDump(JSON.parse(readFileSync(`test/data/envoy/${file}`, 'utf8')));
const APP = dump('netns-app-config-dump.json');
const UNRESOLVED = dump('netns-unresolved-dns-config-dump.json');

/** The pod's rules as istio-init loads them for the lab's Istio (`current`), read back as iptables-save prints them. */
const RULES = loadRuleSet(parseIptablesSave(istioInitRules('current').payload));
const APP_UID = 1000;

function scenario(file: string): LoadedScenario {
  const r = loadScenarioFile(file);
  if (!r.ok) throw new Error(`${file}: ${r.problems.map((p) => p.message).join('; ')}`);
  return r;
}

function explainFrom(pod: string, config: typeof APP, dst: { ip: string; port: number }, text: string) {
  const conn: ExplainConnection = { src: pod, dst, uid: APP_UID, payload: { kind: 'bytes', text } };
  const kt = kernelTrace(RULES, { src: pod, dst, podIp: pod, uid: APP_UID, gid: APP_UID });
  const e = explain(kt, config, conn);
  return { kt, e, predicted: predictedHops(e) };
}

// --- scenarios/envoy/blackhole-listeners.yaml: the app dials its own sidecar's capture ports.

const BLACKHOLE = scenario('scenarios/envoy/blackhole-listeners.yaml');
const BLACKHOLE_POD = '10.64.0.20';

test('the recorded dump is the real Envoy\'s: both catch-all listeners with their blackhole chains, and endpoints (include_eds)', (t) => {
  const names = APP.listeners!.map((l) => l.name);
  t.true(names.includes('virtualOutbound') && names.includes('virtualInbound'), names.join(' '));
  t.true(APP.listeners!.find((l) => l.name === 'virtualOutbound')!.filterChains.some((c) => c.name === 'virtualOutbound-blackhole'));
  t.true(APP.listeners!.find((l) => l.name === 'virtualInbound')!.filterChains.some((c) => c.name === 'virtualInbound-blackhole'));
  t.truthy(APP.endpoints, 'the dump carries EndpointsConfigDump');
});

const direct = [
  { port: 15001, listener: 'virtualOutbound', chain: 'virtualOutbound-blackhole', probe: 'app-dials-15001' },
  { port: 15006, listener: 'virtualInbound', chain: 'virtualInbound-blackhole', probe: 'app-dials-15006' },
];
for (const d of direct) {
  test(`uid ${APP_UID} dialing 127.0.0.1:${d.port} is not redirected, and Envoy takes it on ${d.listener}: ${d.chain} → BlackHoleCluster, closed (UH)`, (t) => {
    const { kt, e, predicted } = explainFrom(BLACKHOLE_POD, APP, { ip: '127.0.0.1', port: d.port }, 'hello\n');
    // The premise: istio-init's `-d 127.0.0.1/32 -j RETURN` in ISTIO_OUTPUT lets it through.
    t.is(kt.effect.kind, 'not-redirected');
    t.regex(kt.hops[0]?.text ?? '', /nat\/ISTIO_OUTPUT#\d+/);
    t.is(e.listener, d.listener);
    t.is(e.filterChain, d.chain);
    t.is(e.cluster, 'BlackHoleCluster');
    t.like(e.outcome, { kind: 'closed', responseFlag: 'UH', upstreamConnection: false });
    t.deepEqual(e.hops.filter((h) => h.kind === 'envoy').map((h) => h.listener), [d.listener], 'no hand-off: the listener is its own original destination');
    t.false(predicted.some((h) => h.kind === 'wire'), predicted.map(formatHop).join('\n'));
    t.deepEqual(predicted.slice(1).map(formatHop), [`envoy listener=${d.listener} chain=${d.chain} cluster=BlackHoleCluster flags=UH`, 'reply closed']);
    // The scenario's expectation holds for the prediction, must-not hops included.
    const i = BLACKHOLE.scenario.probes.findIndex((p) => p.name === d.probe);
    const m = matchPath(BLACKHOLE.expected[i]!.path, BLACKHOLE.expected[i]!.notPath, predicted);
    t.is(m.difference, undefined, JSON.stringify(m.difference));
  });
}

test('the same connection to a port no Envoy listener binds stays the kernel\'s: no Envoy hop (the directListenerPort branch needs a bound listener)', (t) => {
  const { kt, e } = explainFrom(BLACKHOLE_POD, APP, { ip: '127.0.0.1', port: 15999 }, 'hello\n');
  t.is(kt.effect.kind, 'not-redirected');
  t.is(e.listener, null);
  t.false(e.hops.some((h) => h.kind === 'envoy'));
  t.is(e.outcome.kind, 'passthrough');
});

// --- scenarios/incident-7000/tcp-serviceentry-no-address.yaml: a DNS ServiceEntry whose name resolves to nothing.

const INCIDENT = scenario('scenarios/incident-7000/tcp-serviceentry-no-address.yaml');
const INCIDENT_POD = '10.64.192.14';
const SE_CLUSTER = 'outbound|7000||cache.legacy.example.com';

test('the recorded dump shows the ServiceEntry\'s cluster without one endpoint (its name did not resolve)', (t) => {
  const a = UNRESOLVED.endpoints?.find((x) => x.clusterName === SE_CLUSTER);
  t.truthy(a, `no endpoint assignment for ${SE_CLUSTER}`);
  t.true(a!.endpoints.every((l) => l.lbEndpoints.length === 0));
});

test('10.0.0.6:7000 is redirected to 15001 and taken by 0.0.0.0_7000 to the ServiceEntry\'s cluster, which has no endpoint: UH, nothing leaves the pod', (t) => {
  const { kt, e, predicted } = explainFrom(INCIDENT_POD, UNRESOLVED, { ip: '10.0.0.6', port: 7000 }, 'keys *\r\n');
  t.deepEqual(kt.effect, { kind: 'redirected', port: 15001 });
  t.is(e.listener, '0.0.0.0_7000');
  t.is(e.cluster, SE_CLUSTER);
  t.is(e.outcome.responseFlag, 'UH');
  t.is(e.outcome.upstreamConnection, false);
  t.is(e.outcome.upstream, undefined);
  t.false(predicted.some((h) => h.kind === 'wire'), predicted.map(formatHop).join('\n'));
  t.deepEqual(predicted.at(-1), { kind: 'reply', text: '', closed: true });
  const i = INCIDENT.scenario.probes.findIndex((p) => p.name === 'redis-7000-taken-by-the-serviceentry');
  const m = matchPath(INCIDENT.expected[i]!.path, INCIDENT.expected[i]!.notPath, predicted);
  t.is(m.difference, undefined, JSON.stringify(m.difference));
});

test('10.0.0.6:7003 in the same dump still goes to PassthroughCluster and leaves the pod for 10.0.0.6:7003', (t) => {
  const { e, predicted } = explainFrom(INCIDENT_POD, UNRESOLVED, { ip: '10.0.0.6', port: 7003 }, 'keys *\r\n');
  t.is(e.cluster, 'PassthroughCluster');
  t.like(e.outcome, { kind: 'passthrough', responseFlag: '-', upstreamConnection: true, upstream: '10.0.0.6:7003' });
  t.true(predicted.some((h) => formatHop(h) === 'wire iface=eth0 dst=10.0.0.6:7003'));
});

// --- envoyAgreement: explain's Envoy hop against the one the probe pod's own sidecar logged.

const hops = (texts: readonly string[]) => texts.map((x) => parseHop(x));
const hop = (text: string) => parseHop(text);
const KERNEL = 'iptables nat/OUTPUT#1 -> nat/ISTIO_OUTPUT#9 -> nat/ISTIO_REDIRECT#1 REDIRECT:15001';

test('envoyAgreement: the same listeners, chain, cluster and flags agree', (t) => {
  const h = 'envoy listener=virtualOutbound -> listener=0.0.0.0_7000 chain=PassthroughFilterChain cluster=PassthroughCluster';
  t.true(envoyAgreement(hops([KERNEL, h, 'wire iface=eth0 dst=10.0.0.6:7000']), hop(h)));
});

test('envoyAgreement: another cluster, other flags, another hand-off or another named chain disagree', (t) => {
  const p = hops(['envoy listener=virtualOutbound -> listener=0.0.0.0_7000 chain=PassthroughFilterChain cluster=PassthroughCluster']);
  t.false(envoyAgreement(p, hop('envoy listener=virtualOutbound -> listener=0.0.0.0_7000 chain=PassthroughFilterChain cluster=outbound|7000||cache.legacy.example.com')));
  t.false(envoyAgreement(p, hop('envoy listener=virtualOutbound -> listener=0.0.0.0_7000 chain=PassthroughFilterChain cluster=PassthroughCluster flags=UF')));
  t.false(envoyAgreement(p, hop('envoy listener=virtualOutbound chain=PassthroughFilterChain cluster=PassthroughCluster')));
  t.false(envoyAgreement(p, hop('envoy listener=virtualOutbound -> listener=0.0.0.0_7000 chain=virtualOutbound-catchall-tcp cluster=PassthroughCluster')));
});

test('envoyAgreement: a positional chain (#2) in the prediction agrees with a logged hop that names no chain, or any chain', (t) => {
  const p = hops(['envoy listener=virtualOutbound -> listener=0.0.0.0_7000 chain=#2 flags=DPE']);
  t.true(envoyAgreement(p, hop('envoy listener=virtualOutbound -> listener=0.0.0.0_7000 flags=DPE')));
  t.true(envoyAgreement(p, hop('envoy listener=virtualOutbound -> listener=0.0.0.0_7000 chain=0.0.0.0_7000 flags=DPE')));
  // …but only the chain is let off: the flags still count.
  t.false(envoyAgreement(p, hop('envoy listener=virtualOutbound -> listener=0.0.0.0_7000')));
});

test('envoyAgreement: undefined when neither side has an Envoy hop; false when only one side has one', (t) => {
  const kernelOnly = hops([KERNEL.replace(/ -> nat\/ISTIO_REDIRECT.*$/, ''), 'wire iface=eth0 dst=10.0.0.6:7003']);
  t.is(envoyAgreement(kernelOnly, undefined), undefined);
  t.is(envoyAgreement([], undefined), undefined);
  const envoy = 'envoy listener=virtualOutbound chain=virtualOutbound-catchall-tcp cluster=PassthroughCluster';
  t.false(envoyAgreement(hops([envoy]), undefined));
  t.false(envoyAgreement(kernelOnly, hop(envoy)));
});

test('envoyAgreement: a direct dial of 15006 is the probe pod\'s own virtualInbound, and it is compared', (t) => {
  const p = hops(['envoy listener=virtualInbound chain=virtualInbound-blackhole cluster=BlackHoleCluster flags=UH']);
  t.true(envoyAgreement(p, hop('envoy listener=virtualInbound chain=virtualInbound-blackhole cluster=BlackHoleCluster flags=UH')));
  t.false(envoyAgreement(p, hop('envoy listener=virtualInbound chain=virtualInbound cluster=InboundPassthroughCluster')));
});

// --- capturePortOf on lines of the lab's format (Istio's default, then %FILTER_CHAIN_NAME%: 23 fields).

const T0 = '[2026-12-01T17:32:05.123Z]';
/** A tcp_proxy line: no request, code 0. */
const tcpLine = (flags: string, upstreamHost: string, cluster: string, local: string, remote: string, chain: string) =>
  `${T0} "- - -" 0 ${flags} - - "-" 6 0 1 - "-" "-" "-" "-" "${upstreamHost}" ${cluster} - ${local} ${remote} - - ${chain}`;
const httpLine = (code: number, host: string, upstreamHost: string, cluster: string, upstreamLocal: string, local: string, remote: string, sni: string, chain: string) =>
  `${T0} "GET /hello HTTP/1.1" ${code} - via_upstream - "-" 0 120 3 2 "-" "curl/8.5.0" "5f1e2a8c-0000-4000-8000-000000000001" "${host}" "${upstreamHost}" ${cluster} ${upstreamLocal} ${local} ${remote} ${sni} default ${chain}`;

const capture: Array<{ name: string; line: string; port: number }> = [
  { name: 'the app dialing 15001: BlackHoleCluster on virtualOutbound-blackhole', line: tcpLine('UH', '-', 'BlackHoleCluster', '127.0.0.1:15001', '127.0.0.1:43210', 'virtualOutbound-blackhole'), port: 15001 },
  { name: 'the app dialing 15006: the same cluster, on virtualInbound-blackhole', line: tcpLine('UH', '-', 'BlackHoleCluster', '127.0.0.1:15006', '127.0.0.1:43212', 'virtualInbound-blackhole'), port: 15006 },
  { name: 'inbound mTLS HTTP: an inbound| cluster, on a chain named after the port', line: httpLine(200, 'app:8080', '10.64.0.20:8080', 'inbound|8080||', '127.0.0.6:40001', '10.64.0.20:8080', '10.64.0.21:50000', 'outbound_.8080_._.app.default.svc.cluster.local', '0.0.0.0_8080'), port: 15006 },
  { name: 'inbound passthrough: InboundPassthroughCluster, virtualInbound-catchall-http', line: httpLine(200, '10.64.0.20:9090', '10.64.0.20:9090', 'InboundPassthroughCluster', '127.0.0.6:40003', '10.64.0.20:9090', '10.64.0.30:50002', '-', 'virtualInbound-catchall-http'), port: 15006 },
  { name: 'outbound to a Service: outbound| cluster, an unnamed chain', line: tcpLine('-', '10.64.0.40:5432', 'outbound|5432||db.data.svc.cluster.local', '10.96.0.40:5432', '10.64.0.10:51000', '-'), port: 15001 },
  { name: 'outbound to a Service called "inbound": its cluster only contains the word', line: httpLine(200, 'inbound:8080', '10.64.0.50:8080', 'outbound|8080||inbound.default.svc.cluster.local', '10.64.0.10:51004', '10.96.0.50:8080', '10.64.0.10:51002', '-', '-'), port: 15001 },
  { name: 'outbound passthrough: PassthroughFilterChain', line: tcpLine('-', '10.0.0.6:7003', 'PassthroughCluster', '10.0.0.6:7003', '10.64.192.14:52000', 'PassthroughFilterChain'), port: 15001 },
  { name: 'the unresolved ServiceEntry: UH, no upstream host, an unnamed chain', line: tcpLine('UH', '-', SE_CLUSTER, '10.0.0.6:7000', '10.64.192.14:52002', '-'), port: 15001 },
];
for (const c of capture) {
  test(`capturePortOf: ${c.name} → ${c.port}`, (t) => {
    const e = parseAccessLogLine(c.line);
    t.is(accessLogTokens(c.line).length, 23, 'a line of the lab format');
    t.is(capturePortOf(e), c.port);
  });
}

test('capturePortOf: a connection no inbound chain took (NR, no cluster, no chain) is inbound when it was addressed to the pod', (t) => {
  const nr = `${T0} "- - -" 0 NR filter_chain_not_found - "-" 0 0 0 - "-" "-" "-" "-" "-" - - 10.64.0.20:8080 10.64.0.30:50000 - - -`;
  t.is(capturePortOf(parseAccessLogLine(nr), '10.64.0.20'), 15006);
  t.is(capturePortOf(parseAccessLogLine(nr), '10.64.0.21'), 15001, 'addressed elsewhere: an outbound NR');
});

test('capturePortOf: Istio before 1.20 named the inbound passthrough cluster InboundPassthroughClusterIpv4', (t) => {
  const old = capture[3]!.line.replace('InboundPassthroughCluster', 'InboundPassthroughClusterIpv4');
  t.is(capturePortOf(parseAccessLogLine(old)), 15006);
});

test('capturePortOf: a 22-field line (Istio\'s default, no chain) is told by its cluster alone', (t) => {
  const drop = (line: string) => line.slice(0, line.lastIndexOf(' '));
  t.is(capturePortOf(parseAccessLogLine(drop(capture[2]!.line))), 15006);
  t.is(capturePortOf(parseAccessLogLine(drop(capture[4]!.line))), 15001);
});

test('a logged direct dial of 15001, read against the recorded dump, is the hop explain predicted: they agree', (t) => {
  const e = parseAccessLogLine(capture[0]!.line);
  const port = capturePortOf(e);
  const log = accessLogLineOf(e, APP, port);
  t.like(log, { listener: 'virtualOutbound', filter_chain: 'virtualOutbound-blackhole', upstream_cluster: 'BlackHoleCluster', response_flags: 'UH' });
  const observed = accessLogHop(log, port)!;
  t.true(observedHops({ accessLog: log, capturePort: port, wire: [], reply: { firstLine: '', bytes: 0 } }).some((h) => formatHop(h) === formatHop(observed)));
  const { predicted } = explainFrom(BLACKHOLE_POD, APP, { ip: '127.0.0.1', port: 15001 }, 'hello\n');
  t.true(envoyAgreement(predicted, observed), `${predicted.map(formatHop).join(' | ')} vs ${formatHop(observed)}`);
  // And the unresolved ServiceEntry's line against its dump: the hand-off to 0.0.0.0_7000 is recovered from the original destination.
  const se = parseAccessLogLine(capture[7]!.line);
  const seLog = accessLogLineOf(se, UNRESOLVED, capturePortOf(se));
  t.is(seLog.listener, '0.0.0.0_7000');
  const seObserved = accessLogHop(seLog, 15001)!;
  const sePredicted = explainFrom(INCIDENT_POD, UNRESOLVED, { ip: '10.0.0.6', port: 7000 }, 'keys *\r\n').predicted;
  t.true(envoyAgreement(sePredicted, seObserved), `${sePredicted.map(formatHop).join(' | ')} vs ${formatHop(seObserved)}`);
});
