// The observe and check phases on the real evidence of real runs (test/data/probes): what the
// tools printed in the netns lab becomes observed hops, an outcome and expectation problems,
// and the scenario files' own expectations (written from the seeds) hold on them. Fed the
// evidence of another probe, the same expectations fail at the hop that differs.
import { readFileSync } from 'node:fs';
import test from 'ava';
import { loadRuleSet, parseIptablesSave } from '../../../src/mesh/iptables/index.ts';
import { expectationProblems } from '../../../src/paths/check.ts';
import { formatHop, withAddresses } from '../../../src/paths/hop.ts';
import { observeProbe, type ProbeRecord } from '../../../src/paths/observe-probe.ts';
import { matchPath } from '../../../src/paths/path-match.ts';
import { TOOLS } from '../../../src/probes/index.ts';
import { loadScenarioFile } from '../../../src/scenario/loader.ts';
import type { LoadedScenario } from '../../../src/scenario/loaded.ts';

const read = (dir: string, f: string) => readFileSync(`test/data/probes/${dir}/${f}`, 'utf8');
const optional = (dir: string, f: string) => {
  try {
    return read(dir, f);
  } catch {
    return '';
  }
};
const rules = (dir: string, pod: string) => loadRuleSet(parseIptablesSave(read(dir, `${pod}.iptables-save.txt`)));
const PROXY = { uid: 1337, gid: 1337 };
const APP = { uid: 1000, gid: 1000 };

function scenario(file: string): LoadedScenario {
  const r = loadScenarioFile(file);
  if (!r.ok) throw new Error(`${file} must load`);
  return r;
}

/** The record of probe n of a recorded run, as the run phase hands it to observe. */
function record(dir: string, n: number, pod: string, ip: string, target: { ip: string; port: number }, peer?: { name: string; port: number }): ProbeRecord {
  const r = JSON.parse(read(dir, `probe-${n}.json`));
  const log = optional(dir, `probe-${n}.${pod}.access-log.json`);
  const accessLog = log ? (JSON.parse(log) as Array<{ downstream_local_address?: string }>).find((l) => l.downstream_local_address === `${target.ip}:${target.port}`) : undefined;
  const tool = r.argv.includes('curl') ? TOOLS.curl : TOOLS.nc;
  return {
    host: { name: pod, ip },
    target,
    tool,
    result: { where: pod, durationMs: 0, ...r },
    users: { probe: APP, proxy: PROXY },
    tables: rules(dir, pod),
    capturePort: 15001,
    trace: { trace: read(dir, `probe-${n}.${pod}.xtables-monitor.txt`), ruleset: read(dir, `probe-${n}.${pod}.nft-ruleset.txt`) },
    syns: read(dir, `probe-${n}.${pod}.tcpdump-syns.txt`),
    ...(peer ? { peer: { ...peer, tables: rules(dir, peer.name), app: APP, trace: { trace: read(dir, `probe-${n}.${peer.name}.xtables-monitor.txt`), ruleset: read(dir, `probe-${n}.${peer.name}.nft-ruleset.txt`) } } } : {}),
    ...(accessLog ? { accessLog } : {}),
  };
}

/** The check phase: the scenario's expected path and its other expectations. */
function check(s: LoadedScenario, i: number, rec: ProbeRecord) {
  const seen = observeProbe(rec);
  const probe = s.scenario.probes[i]!;
  // The lab hosts the scenario names, at the addresses its netns lab (where these records were made) gives them.
  const addresses = new Map<string, string>([...s.scenario.lab.pods.flatMap((p) => (p.ip ? [[`pod/${p.name}`, p.ip] as [string, string]] : [])), ...(s.scenario.lab.services ?? []).flatMap((v) => (v.clusterIP ? [[`svc/${v.name}`, v.clusterIP] as [string, string]] : []))]);
  const m = matchPath(s.expected[i]!.path.map((h) => withAddresses(h, addresses)), s.expected[i]!.notPath.map((h) => withAddresses(h, addresses)), seen.observed);
  const problems = expectationProblems(probe.expect, { reading: seen.reading, outcome: seen.outcome, target: rec.target, syns: seen.syns, control: { ip: rec.target.ip, port: 9 }, ...(seen.appSource ? { appSource: seen.appSource } : {}) });
  return { seen, m, problems };
}

const outage = scenario('scenarios/incident-7000/outage-legacy.yaml');
const APP_IP = '10.64.192.14';
const to7000 = record('outage-legacy', 1, 'app', APP_IP, { ip: '10.0.0.6', port: 7000 });
const to7003 = record('outage-legacy', 2, 'app', APP_IP, { ip: '10.0.0.6', port: 7003 });

test('seed 003, 7000: the kernel redirects to 15001, the HTTP listener answers 400, nothing leaves the pod', (t) => {
  const { seen, m, problems } = check(outage, 0, to7000);
  t.is(m.difference, undefined, JSON.stringify(m.difference));
  t.deepEqual(problems, []);
  t.is(seen.outcome, 'http-error');
  t.is(formatHop(seen.observed[0]!), 'iptables nat/OUTPUT#1 -> nat/ISTIO_OUTPUT#9 -> nat/ISTIO_REDIRECT#1 REDIRECT:15001');
  t.is(seen.reading.body, 'HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n', 'the seed\'s exact answer');
  t.false(seen.observed.some((h) => h.kind === 'wire'), 'no SYN to 10.0.0.6:7000 on eth0');
  // The evidence names rules in the hop notation.
  t.true(seen.evidence.find((e) => e.source === 'xtables-monitor --trace')!.lines.includes('nat/ISTIO_OUTPUT#9 (ISTIO_REDIRECT)'));
});

test('seed 003, 7003: passthrough to redis, a SYN on eth0, NOAUTH, and the sidecar\'s own connection is not redirected', (t) => {
  const { seen, m, problems } = check(outage, 1, to7003);
  t.is(m.difference, undefined, JSON.stringify(m.difference));
  t.deepEqual(problems, []);
  t.is(seen.outcome, 'reached');
  t.true(seen.observed.map(formatHop).includes('wire iface=eth0 dst=10.0.0.6:7003'));
  t.true(seen.observed.map(formatHop).includes('iptables nat/OUTPUT#1 -> nat/ISTIO_OUTPUT#4 ACCEPT'), 'the proxy uid returns from ISTIO_OUTPUT');
});

test('the 7000 expectations fail on the 7003 evidence: the listener hop is the first difference, and the reply and the wire say why', (t) => {
  const { m, problems } = check(outage, 0, to7003);
  t.is(m.difference?.index, 1);
  t.regex(m.difference?.observed ?? '', /cluster=PassthroughCluster/);
  t.true(problems.some((p) => p.startsWith('the reply "-NOAUTH')));
});

test('without the positive control in the capture, absence is not believed', (t) => {
  const { problems } = check(outage, 0, { ...to7000, syns: '' });
  t.true(problems.some((p) => /the positive control \(10\.0\.0\.6:9\) was not seen either/.test(p)));
});

const bookinfo = scenario('scenarios/bookinfo/productpage-details.yaml');

test('Bookinfo: productpage → details through both sidecars; details\' kernel captures into 15006 and its app sees 127.0.0.6', (t) => {
  const i = bookinfo.scenario.probes.findIndex((p) => p.name === 'productpage-to-details');
  const probe = bookinfo.scenario.probes[i]!;
  t.truthy(probe);
  const host = bookinfo.scenario.lab.pods.find((p) => p.name === probe.from.pod)!;
  const details = bookinfo.scenario.lab.pods.find((p) => p.name === 'details')!;
  // The probe dials details' Service VIP, as the scenario's lab declares it.
  const vip = bookinfo.scenario.lab.services!.find((x) => x.name === 'details')!.clusterIP!;
  const rec = record('productpage-details', 2, host.name, host.ip!, { ip: vip, port: 9080 }, { name: 'details', port: 9080 });
  const { seen, m, problems } = check(bookinfo, i, rec);
  t.is(m.difference, undefined, JSON.stringify(m.difference));
  t.deepEqual(problems, []);
  t.true(seen.observed.map(formatHop).includes('iptables nat/PREROUTING#1 -> nat/ISTIO_INBOUND#5 -> nat/ISTIO_IN_REDIRECT#1 REDIRECT:15006'));
  t.true(seen.observed.map(formatHop).includes(`wire iface=eth0 dst=${details.ip}:9080`));
});

test('a reply pattern runs in linear time: a catastrophic one against a long reply answers at once', (t) => {
  const body = `${'a'.repeat(100_000)}!`;
  const t0 = performance.now();
  const problems = expectationProblems({ reply: { pattern: '^(a+)+$' } }, { reading: { body }, outcome: 'reached', target: { ip: '10.0.0.6', port: 7000 }, syns: [], control: { ip: '10.0.0.6', port: 9 } });
  t.true(performance.now() - t0 < 1000, `${(performance.now() - t0).toFixed(0)} ms`);
  t.is(problems.length, 1, 'the reply does not match');
  t.deepEqual(expectationProblems({ reply: { pattern: '^-NOAUTH Authentication required' } }, { reading: { body: '-NOAUTH Authentication required.\r\n' }, outcome: 'reached', target: { ip: '10.0.0.6', port: 7000 }, syns: [], control: { ip: '10.0.0.6', port: 9 } }), []);
});
