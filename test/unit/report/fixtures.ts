// Run reports written by hand to look like runs of scenarios/incident-7000/outage-legacy.yaml
// (seed 003): hops in the path notation, evidence lines in the form nc, conntrack, tcpdump
// and the sidecar's access log print them (the conntrack lines are the seed's own).
// Each fixture is parsed with RunReportSchema, so a fixture cannot drift from the types.
import { RunReportSchema, type ProbeResult, type RunReport, type ScenarioResult } from '../../../src/paths/verdict.ts';
import { formatHop, parseHop } from '../../../src/paths/hop.ts';
import { matchPath, predictionGaps } from '../../../src/paths/path-match.ts';

const SCENARIO = 'incident-7000-outage-legacy';
const FILE = 'scenarios/incident-7000/outage-legacy.yaml';
const REDIRECT = 'iptables nat/OUTPUT#1 -> nat/ISTIO_OUTPUT#9 -> nat/ISTIO_REDIRECT#1 REDIRECT:15001';
const REPLY_400 = 'HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n';

/** A probe result; which observed hop satisfied each expected hop, and the prediction gaps, come from the real matcher, as in a run. */
function probe(p: Partial<ProbeResult> & Pick<ProbeResult, 'probe' | 'title' | 'status'>): ProbeResult {
  const hops = (t: readonly string[] = []) => t.map((x) => parseHop(x));
  const m = matchPath(hops(p.expected), hops(p.notExpected), hops(p.observed));
  return {
    matched: p.observed?.length ? m.matched : (p.expected ?? []).map(() => null),
    notExpectedSeen: m.notExpectedSeen.map(formatHop),
    predictionGaps: p.observed?.length ? predictionGaps(hops(p.predicted), hops(p.observed)) : [],
    scenario: SCENARIO,
    expected: [],
    notExpected: [],
    predicted: [],
    observed: [],
    evidence: [],
    retries: [],
    durationMs: 412,
    ...p,
  };
}

/** 7000 answers 400 from the sidecar's HTTP listener, as the outage scenario expects. */
export const probe7000As400 = probe({
  probe: 'redis-7000-answers-400',
  title: 'incident-7000/outage · app (10.64.192.14) → 10.0.0.6:7000',
  status: 'passed',
  expected: [REDIRECT, 'envoy listener=virtualOutbound -> listener=0.0.0.0_7000', 'reply "HTTP/1.1 400 Bad Request"'],
  notExpected: ['envoy cluster=PassthroughCluster', 'wire iface=eth0 dst=10.0.0.6:7000'],
  predicted: [REDIRECT, 'envoy listener=virtualOutbound -> listener=0.0.0.0_7000 chain=#1', 'reply "HTTP/1.1 400 Bad Request"'],
  observed: [REDIRECT, 'envoy listener=virtualOutbound -> listener=0.0.0.0_7000 chain=#1', 'reply "HTTP/1.1 400 Bad Request"'],
  outcome: 'http-error',
  reply: REPLY_400,
  durationMs: 388,
});

/** 7003 matches no listener: PassthroughCluster, a SYN on eth0, redis answers -NOAUTH. */
export const probe7003NoAuth = probe({
  probe: 'redis-7003-answers-noauth',
  title: 'incident-7000/outage · app (10.64.192.14) → 10.0.0.6:7003',
  status: 'passed',
  expected: [REDIRECT, 'envoy listener=virtualOutbound cluster=PassthroughCluster', 'wire iface=eth0 dst=10.0.0.6:7003'],
  predicted: [REDIRECT, 'envoy listener=virtualOutbound cluster=PassthroughCluster', 'wire iface=eth0 dst=10.0.0.6:7003'],
  observed: [
    REDIRECT,
    'envoy listener=virtualOutbound cluster=PassthroughCluster',
    'wire iface=eth0 dst=10.0.0.6:7003',
    'reply "-NOAUTH Authentication required."',
  ],
  outcome: 'reached',
  reply: '-NOAUTH Authentication required.\r\n',
  durationMs: 436,
});

/**
 * The fix scenario's probe on a lab where the fix did not take: the client expects the
 * passthrough to redis, the sidecar's 0.0.0.0_7000 HTTP listener answers 400 instead.
 * The first difference is expected hop 2 (the envoy hop).
 */
export const probe7000StillBroken = probe({
  scenario: 'incident-7000-fix-serviceentry',
  probe: 'redis-7000-answers-noauth',
  title: 'incident-7000/fix-serviceentry · app (10.64.192.14) → 10.0.0.6:7000',
  status: 'failed',
  reason: 'the reply came from the sidecar, not from 10.0.0.6:7000 (no upstream SYN on eth0)',
  expected: [REDIRECT, 'envoy listener=virtualOutbound cluster=PassthroughCluster', 'wire iface=eth0 dst=10.0.0.6:7000'],
  notExpected: ['envoy listener=0.0.0.0_7000'],
  predicted: [REDIRECT, 'envoy listener=virtualOutbound cluster=PassthroughCluster', 'wire iface=eth0 dst=10.0.0.6:7000'],
  observed: [REDIRECT, 'envoy listener=virtualOutbound -> listener=0.0.0.0_7000 chain=#2', 'reply "HTTP/1.1 400 Bad Request"'],
  firstDifference: {
    index: 1,
    expected: 'envoy listener=virtualOutbound cluster=PassthroughCluster',
    observed: 'envoy listener=virtualOutbound -> listener=0.0.0.0_7000 chain=#2',
    why: 'virtualOutbound handed the connection to listener 0.0.0.0_7000 instead of PassthroughCluster',
  },
  notExpectedSeen: ['envoy listener=0.0.0.0_7000'],
  // explain, on a dump without the ServiceEntry's listener, predicted the passthrough: its envoy and wire hops are prediction gaps.
  outcome: 'http-error',
  reply: REPLY_400,
  evidence: [
    {
      source: 'access log',
      hop: 'envoy listener=virtualOutbound -> listener=0.0.0.0_7000 chain=#2',
      lines: ['[2026-11-21T21:40:02.118Z] "- - HTTP/1.1" 400 DPE downstream_protocol_error - "-" 0 0 0 - "-" "-" "-" "-" "-" - - 10.0.0.6:7000 10.64.192.14:50498 - -'],
    },
    {
      source: 'conntrack -L',
      hop: 'envoy listener=virtualOutbound -> listener=0.0.0.0_7000 chain=#2',
      lines: [
        'tcp      6 110 TIME_WAIT src=10.64.192.14 dst=10.0.0.6 sport=50498 dport=7000 src=127.0.0.1 dst=10.64.192.14 sport=15001 dport=50498 [ASSURED] mark=0 use=1',
      ],
    },
    {
      source: 'tcpdump -i eth0 -nn -tt tcp and host 10.0.0.6',
      hop: 'wire iface=eth0 dst=10.0.0.6:7000',
      lines: [
        '1795297202.120411 IP 10.64.192.14.38954 > 10.0.0.6.7003: Flags [S], seq 1960418870, win 64240, length 0 (positive control)',
        'no packet to 10.0.0.6.7000',
      ],
    },
    { source: 'reply', lines: ['HTTP/1.1 400 Bad Request\r', 'content-length: 0\r', 'connection: close\r'] },
  ],
  durationMs: 1203,
});

/** A must-not hop seen: the 7000 connection left the pod although the outage says it must not. */
export const probe7000LeftPod = probe({
  probe: 'redis-7000-answers-400',
  title: 'incident-7000/outage · app (10.64.192.14) → 10.0.0.6:7000',
  status: 'failed',
  reason: 'a must-not hop was observed',
  expected: [REDIRECT, 'envoy listener=virtualOutbound -> listener=0.0.0.0_7000', 'reply "HTTP/1.1 400 Bad Request"'],
  notExpected: ['envoy cluster=PassthroughCluster', 'wire iface=eth0 dst=10.0.0.6:7000'],
  observed: [
    REDIRECT,
    'envoy listener=virtualOutbound cluster=PassthroughCluster',
    'wire iface=eth0 dst=10.0.0.6:7000',
    'reply "-NOAUTH Authentication required."',
  ],
  firstDifference: {
    index: -1,
    expected: 'wire iface=eth0 dst=10.0.0.6:7000',
    observed: 'wire iface=eth0 dst=10.0.0.6:7000',
    why: 'a SYN to 10.0.0.6:7000 left the pod on eth0',
  },
  outcome: 'reached',
  reply: '-NOAUTH Authentication required.\r\n',
  evidence: [
    {
      source: 'tcpdump -i eth0 -nn -tt tcp and host 10.0.0.6',
      lines: ['1795297202.120411 IP 10.64.192.14.50498 > 10.0.0.6.7000: Flags [S], seq 1960418870, win 64240, length 0'],
    },
  ],
});

function scenario(s: Partial<ScenarioResult> & Pick<ScenarioResult, 'status' | 'probes'>): ScenarioResult {
  return {
    name: SCENARIO,
    file: FILE,
    backend: 'netns',
    mode: 'with-setup',
    durationMs: s.probes.reduce((n, p) => n + p.durationMs, 150),
    ...s,
  };
}

function run(scenarios: ScenarioResult[], extra: Partial<RunReport> = {}): RunReport {
  const withSetup = scenarios.filter((s) => s.mode === 'with-setup');
  const count = (st: ScenarioResult['status']): number => withSetup.filter((s) => s.status === st).length;
  return RunReportSchema.parse({
    apiVersion: 'pathlab/v1',
    kind: 'RunReport',
    startedAt: '2026-11-21T21:40:00.000Z',
    durationMs: 4210,
    backend: 'netns',
    checkFault: false,
    scenarios,
    summary: {
      scenarios: withSetup.length,
      passed: count('passed'),
      failed: count('failed'),
      skipped: count('skipped'),
      probes: withSetup.reduce((n, s) => n + s.probes.length, 0),
      explain: {
        agree: withSetup.flatMap((s) => s.probes).filter((p) => p.explainAgrees === true).length,
        compared: withSetup.flatMap((s) => s.probes).filter((p) => p.explainAgrees !== undefined).length,
      },
    },
    ...extra,
  });
}

const kindOnly = scenario({
  name: 'bookinfo-productpage-reviews-ratings',
  file: 'scenarios/bookinfo/reviews-ratings.yaml',
  status: 'skipped',
  reason: 'needs the kind backend (the scenario runs on: kind)',
  probes: [],
  durationMs: 0,
});

export const passingRun = run([scenario({ status: 'passed', probes: [probe7000As400, probe7003NoAuth] })]);

export const failingRun = run([
  scenario({ status: 'passed', probes: [probe7000As400, probe7003NoAuth] }),
  scenario({
    name: 'incident-7000-fix-serviceentry',
    file: 'scenarios/incident-7000/fix-serviceentry.yaml',
    status: 'failed',
    probes: [probe7000StillBroken, { ...probe7003NoAuth, scenario: 'incident-7000-fix-serviceentry' }],
  }),
]);

/** A scenario whose setup failed (the reason the runner gives, from a real Envoy's refusal): no probe ran. */
export const setupFailedRun = run([
  scenario({
    status: 'failed',
    probes: [],
    reason: "the setup failed: web: Envoy rejected configuration 11: Error adding/updating listener(s) virtualInbound: route: unknown cluster 'inbound|7000||'",
  }),
]);

export const mustNotRun = run([scenario({ status: 'failed', probes: [probe7000LeftPod, probe7003NoAuth] })]);

export const skippedRun = run([scenario({ status: 'passed', probes: [probe7000As400, probe7003NoAuth] }), kindOnly]);

/**
 * `--check-fault`: the outage fails without its Service on 7000 (good: 7000 then answers
 * -NOAUTH); a REGISTRY_ONLY scenario passes without its change (bad: it does not test it).
 */
export const checkFaultRun = run(
  [
    scenario({ status: 'passed', probes: [probe7000As400, probe7003NoAuth] }),
    scenario({ mode: 'without-change', status: 'failed', probes: [probe7000LeftPod, probe7003NoAuth] }),
    scenario({
      name: 'incident-7000-registry-only-7003',
      file: 'scenarios/incident-7000/registry-only-7003.yaml',
      status: 'passed',
      probes: [{ ...probe7003NoAuth, scenario: 'incident-7000-registry-only-7003' }],
    }),
    scenario({
      name: 'incident-7000-registry-only-7003',
      file: 'scenarios/incident-7000/registry-only-7003.yaml',
      mode: 'without-change',
      status: 'passed',
      probes: [{ ...probe7003NoAuth, scenario: 'incident-7000-registry-only-7003' }],
    }),
  ],
  { checkFault: true, durationMs: 9120 },
);

/** Evidence with bytes XML 1.0 cannot carry (ESC, NUL, BEL) and markup characters. */
export const hostileRun = run([
  scenario({
    status: 'failed',
    probes: [
      {
        ...probe7000StillBroken,
        scenario: SCENARIO,
        title: 'incident-7000/outage · app → 10.0.0.6:7000 <&"\'>',
        reason: 'the reply began with ESC \u001b and NUL \u0000',
        evidence: [{ source: 'reply', lines: ['\u001b[31mred\u001b[0m \u0000 bell\u0007 ]]> </system-out> & "q"'] }],
      },
      { ...probe7003NoAuth, status: 'skipped', reason: 'sidecar not ready \u0007 after 3 retries' },
    ],
  }),
]);

export const ALL_RUNS: Array<[name: string, report: RunReport]> = [
  ['passing run', passingRun],
  ['failing probe', failingRun],
  ['must-not hop seen', mustNotRun],
  ['skipped scenario', skippedRun],
  ['--check-fault run', checkFaultRun],
  ['hostile evidence', hostileRun],
];

/**
 * `--check-fault` whose run without the change never reached its probes (the lab did not start):
 * that proves nothing of the probes, so the check fails.
 */
export const checkFaultUnprobedRun = run(
  [
    scenario({ status: 'passed', probes: [probe7000As400, probe7003NoAuth] }),
    scenario({ mode: 'without-change', status: 'failed', probes: [], reason: 'the lab could not start: the envoy of app (pid 4242) is not running' }),
  ],
  { checkFault: true, durationMs: 4100 },
);
