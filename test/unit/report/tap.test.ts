// TAP 14 read back by a real TAP parser (tap-parser, the parser of node-tap): plan, counts,
// test point names, SKIP directives and the YAML diagnostics of failures, with no parse errors.
import test from 'ava';
import { Parser, type FinalResults, type Result } from 'tap-parser';
import { formatTap } from '../../../src/report/tap.ts';
import type { RunReport } from '../../../src/paths/verdict.ts';
import { ALL_RUNS, checkFaultRun, failingRun, hostileRun, mustNotRun, passingRun, skippedRun } from './fixtures.ts';

function parse(tap: string): { results: FinalResults; points: Result[] } {
  const points: Result[] = [];
  let results: FinalResults | undefined;
  const p = new Parser({ passes: true }, (r) => (results = r));
  p.on('assert', (r: Result) => points.push(r));
  p.end(tap);
  if (!results) throw new Error('tap-parser did not complete');
  return { results, points };
}

const cases: Array<{ name: string; report: RunReport; count: number; pass: number; fail: number; skip: number }> = [
  { name: 'passing run', report: passingRun, count: 2, pass: 2, fail: 0, skip: 0 },
  { name: 'failing probe', report: failingRun, count: 4, pass: 3, fail: 1, skip: 0 },
  { name: 'must-not hop seen', report: mustNotRun, count: 2, pass: 1, fail: 1, skip: 0 },
  { name: 'skipped scenario', report: skippedRun, count: 3, pass: 3, fail: 0, skip: 1 },
  { name: '--check-fault run', report: checkFaultRun, count: 5, pass: 4, fail: 1, skip: 0 },
  { name: 'hostile evidence', report: hostileRun, count: 2, pass: 1, fail: 1, skip: 1 },
];

for (const c of cases) {
  test(`tap: the ${c.name} parses with ${c.pass} ok, ${c.fail} not ok, ${c.skip} skipped`, (t) => {
    const tap = formatTap(c.report);
    t.true(tap.startsWith('TAP version 14\n'));
    const { results } = parse(tap);
    t.deepEqual(
      { count: results.count, pass: results.pass, fail: results.fail, skip: results.skip, ok: results.ok, plan: [results.plan.start, results.plan.end] },
      { count: c.count, pass: c.pass, fail: c.fail, skip: c.skip, ok: c.fail === 0, plan: [1, c.count] },
    );
    // every failure is a test point, none is a parse error of our output
    t.true(results.failures.every((f) => !f.tapError), JSON.stringify(results.failures.map((f) => f.tapError)));
  });
}

test('tap: the parser finds every fixture valid TAP (no parse errors)', (t) => {
  for (const [name, report] of ALL_RUNS) {
    const { results } = parse(formatTap(report));
    t.false(results.failures.some((f) => f.tapError), name);
  }
});

test('tap: a failed probe carries expected, observed and the first difference as YAML the parser reads', (t) => {
  const { points } = parse(formatTap(failingRun));
  const failed = points.filter((p) => !p.ok);
  t.is(failed.length, 1);
  const point = failed[0]!;
  t.is(point.name, 'incident-7000-fix-serviceentry › redis-7000-answers-noauth');
  const diag = point.diag as { expected: string[]; observed: string[]; firstDifference: { index: number; hop: number; expected: string }; evidence: unknown[] };
  t.is(diag.firstDifference.index, 1);
  t.is(diag.firstDifference.hop, 2);
  t.is(diag.firstDifference.expected, 'envoy listener=virtualOutbound cluster=PassthroughCluster');
  t.is(diag.observed[1], 'envoy listener=virtualOutbound -> listener=0.0.0.0_7000 chain=#2');
  t.is(diag.expected.length, 3);
  t.is(diag.evidence.length, 4);
});

test('tap: a skipped scenario is a SKIP point with its reason', (t) => {
  const { results } = parse(formatTap(skippedRun));
  t.is(results.skips.length, 1);
  t.is(results.skips[0]?.name, 'bookinfo-productpage-reviews-ratings');
  t.regex(String(results.skips[0]?.skip), /^needs the kind backend/);
});

test('tap: a # in a name is escaped, not read as a directive', (t) => {
  const report = structuredClone(passingRun);
  report.scenarios[0]!.probes[0]!.probe = 'rule ISTIO_OUTPUT#9 SKIP';
  const { results, points } = parse(formatTap(report));
  t.is(results.skip, 0);
  t.is(points[0]?.name, 'incident-7000-outage-legacy › rule ISTIO_OUTPUT#9 SKIP');
});

test('tap: the parser does notice broken TAP (a plan promising more points than there are)', (t) => {
  const broken = formatTap(passingRun).replace('1..2', '1..3');
  const { results } = parse(broken);
  t.false(results.ok);
  t.true(results.failures.some((f) => f.tapError), JSON.stringify(results.failures));
});

test('tap: the output itself carries no raw control characters (YAML escapes them)', (t) => {
  // eslint-disable-next-line no-control-regex -- the point
  t.notRegex(formatTap(hostileRun), /[\u0000-\u0008\u000b-\u001f]/);
});
