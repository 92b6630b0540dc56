// `pathlab report diff` on real runs: the seed 003 outage scenarios (and one whose path carries
// an ephemeral port) run as Istio 1.5 and as current Istio: the outage is a changed path (the
// 0.0.0.0_7000 listener's HTTP 400 against its passthrough chain), exit 1; two runs as current
// Istio are the same probe for probe (ports, dates, durations and lab ids left out), exit 0.
// (The issue asked for 1.14 against current: in the lab both have the fall-through chain Istio
// added in 1.6, so the outage's path is the same in both; 1.5 is the version it changes at.)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import type { ReportDiff } from '../../src/report/report-diff.ts';
import { NEEDS_ROOT, netnsTest } from '../helpers/caps.ts';

const dir = mkdtempSync(join(tmpdir(), 'pathlab-report-diff-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

const SCENARIOS = ['scenarios/incident-7000/outage-legacy.yaml', 'scenarios/incident-7000/outage-current.yaml', 'scenarios/ports/source-127-0-0-6.yaml'];
const pathlab = (...args: string[]) => spawnSync(process.execPath, ['bin/pathlab.js', ...args], { encoding: 'utf8', timeout: 180_000 });

function run(name: string, version: string): string {
  const out = join(dir, name);
  const r = pathlab('run', ...SCENARIOS, '--istio-version', version, '--reporter', 'json', '--out', out);
  if (r.status !== 0 && r.status !== 1) throw new Error(`the ${name} run did not finish: ${r.stderr}`);
  return join(out, 'report.json');
}

netnsTest(`${NEEDS_ROOT} report diff: Istio 1.5 against current shows the outage as a changed path (exit 1); two current runs are the same (exit 0)`, (t) => {
  const old = run('istio-1.5', '1.5');
  const now = run('current-1', 'current');
  const again = run('current-2', 'current');

  const changed = pathlab('report', 'diff', old, now);
  t.is(changed.status, 1, changed.stdout + changed.stderr);
  t.regex(changed.stdout, /^~ incident-7000-outage-legacy · redis-7000-answers-400: path changed, passed → failed/m);
  t.regex(changed.stdout, /^ {6}- envoy listener=virtualOutbound -> listener=0\.0\.0\.0_7000 flags=DPE$/m);
  t.regex(changed.stdout, /^ {6}\+ envoy listener=virtualOutbound -> listener=0\.0\.0\.0_7000 chain=PassthroughFilterChain cluster=PassthroughCluster/m);
  const json = pathlab('report', 'diff', old, now, '-o', 'json');
  const d = JSON.parse(json.stdout) as ReportDiff;
  t.is(json.status, 1);
  t.deepEqual(d.a.istioVersion, '1.5');
  const outage = d.changes.find((c) => c.scenario === 'incident-7000-outage-legacy' && c.probe === 'redis-7000-answers-400')!;
  t.deepEqual(outage.status, { a: 'passed', b: 'failed' });
  t.true(outage.observed!.b.some((h) => h.includes('cluster=PassthroughCluster')));

  const same = pathlab('report', 'diff', now, again);
  t.is(same.status, 0, same.stdout);
  t.regex(same.stdout, /^(\d+) probes compared: \1 the same, 0 with a changed path or status, 0 with another change/m);
});

test('report diff refuses what is not a run report (exit 2)', (t) => {
  const r = pathlab('report', 'diff', 'package.json', 'package.json');
  t.is(r.status, 2);
  t.regex(r.stderr, /package\.json: not a pathlab run report/);
});
