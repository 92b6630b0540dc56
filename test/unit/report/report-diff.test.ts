// report diff, pure: a run against itself has no change; what differs between any two runs
// (ephemeral ports, an HTTP Date, durations, start times) is no change; a changed observed hop
// or status is counted and exits 1 in the CLI; a probe in one run only is named, not counted.
import test from 'ava';
import { diffReports, formatReportDiff, stableText } from '../../../src/report/report-diff.ts';
import type { RunReport } from '../../../src/paths/verdict.ts';
import { ALL_RUNS, failingRun, passingRun } from './fixtures.ts';

for (const [name, r] of ALL_RUNS) {
  test(`the ${name} against itself: every probe the same`, (t) => {
    const d = diffReports(r, structuredClone(r));
    t.is(d.changes.length, 0);
    t.is(d.same, d.compared);
    t.regex(formatReportDiff(d), new RegExp(`^${d.compared} probes? compared: ${d.compared} the same, 0 with a changed path or status`, 'm'));
  });
}

test('ephemeral ports, the Date header, durations and start times are no change', (t) => {
  // A reply of the lab's echo server and an Envoy 400, as real runs gave them.
  t.is(stableText('Host=app:8080\nRemoteAddr=127.0.0.6:42091\n'), stableText('Host=app:8080\nRemoteAddr=127.0.0.6:53661\n'));
  t.is(stableText('HTTP/1.1 400 Bad Request\r\ndate: Tue, 01 Dec 2026 22:49:55 GMT\r\n'), 'HTTP/1.1 400 Bad Request\r\ndate: *\r\n');
  t.is(stableText('to 10.0.0.6:7000 and 10.0.0.6:15001'), 'to 10.0.0.6:7000 and 10.0.0.6:15001', 'service ports stay');
  const later: RunReport = { ...structuredClone(passingRun), startedAt: '2030-01-01T00:00:00.000Z', durationMs: 1 };
  for (const s of later.scenarios) for (const p of s.probes) p.durationMs = 99_999;
  t.is(diffReports(passingRun, later).changes.length, 0);
});

test('a changed observed hop and status are counted; a probe in one run only is named apart', (t) => {
  const b = structuredClone(failingRun);
  const s = b.scenarios.find((x) => x.status === 'failed')!;
  const p = s.probes.find((x) => x.status === 'failed')!;
  p.status = 'passed';
  p.observed = [...p.observed.slice(0, 1), 'envoy listener=virtualOutbound cluster=PassthroughCluster'];
  const gone = b.scenarios[0]!.probes.pop()!;
  const d = diffReports(failingRun, b);
  t.is(d.changed, 1);
  const c = d.changes.find((x) => x.probe === p.probe && x.scenario === s.name)!;
  t.deepEqual(c.status, { a: 'failed', b: 'passed' });
  t.deepEqual(c.observed?.b, p.observed);
  t.deepEqual(d.changes.find((x) => x.probe === gone.probe && x.scenario === b.scenarios[0]!.name)?.in, 'a');
  const text = formatReportDiff(d);
  t.regex(text, new RegExp(`^~ ${s.name} · ${p.probe}: path changed, failed → passed`, 'm'));
  t.regex(text, /^ {6}\+ envoy listener=virtualOutbound cluster=PassthroughCluster$/m);
  t.regex(text, new RegExp(`^- ${b.scenarios[0]!.name} · ${gone.probe}: only in A$`, 'm'));
});
