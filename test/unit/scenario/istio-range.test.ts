// lab.istio.holdsFor: a semver range of the Istio releases a scenario holds for. A run as a
// release outside it skips the scenario with the reason (exit 0 when nothing else runs); a
// range semver cannot read is a problem of the file, found when it is loaded.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { holdsForProblem, rangeProblem, releaseVersion } from '../../../src/scenario/istio-range.ts';
import { loadScenarioFile } from '../../../src/scenario/loader.ts';

test('ranges: releases and eras against semver ranges', (t) => {
  t.is(releaseVersion('1.14'), '1.14.0');
  t.is(releaseVersion('1.29.2'), '1.29.2');
  t.is(holdsForProblem('>=1.6', '1.30'), undefined);
  t.is(holdsForProblem('>=1.6', '1.5'), 'the scenario holds for Istio >=1.6; this run is Istio 1.5');
  t.is(holdsForProblem('1.22 - 1.30', '1.29.2'), undefined);
  t.regex(holdsForProblem('<1.29', '1.29.2') ?? '', /holds for Istio <1\.29; this run is Istio 1\.29\.2/);
  t.is(holdsForProblem(undefined, '1.2'), undefined);
  t.is(rangeProblem('>=1.6'), undefined);
  t.regex(rangeProblem('newer than 1.6') ?? '', /is not a version range/);
});

const dir = mkdtempSync(join(tmpdir(), 'pathlab-range-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

function withRange(range: string): string {
  const text = readFileSync('scenarios/incident-7000/outage-current.yaml', 'utf8').replace('  istio:\n    version: current\n', `  istio:\n    version: current\n    holdsFor: '${range}'\n`);
  const file = join(dir, `r${range.replace(/\W/g, '')}.yaml`);
  writeFileSync(file, text);
  return file;
}

test('a run as an Istio outside the range reports the scenario skipped with why, exit 0 (no lab starts)', (t) => {
  const r = spawnSync(process.execPath, ['bin/pathlab.js', 'run', withRange('>=1.6'), '--istio-version', '1.5', '--reporter', 'json'], { encoding: 'utf8' });
  t.is(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout) as { istioVersion: string; scenarios: Array<{ status: string; reason: string }> };
  t.is(report.istioVersion, '1.5');
  t.deepEqual(report.scenarios.map((s) => [s.status, s.reason]), [['skipped', 'the scenario holds for Istio >=1.6; this run is Istio 1.5']]);
});

test('a range semver cannot read is a problem of the file', (t) => {
  const r = loadScenarioFile(withRange('newer than 1.6'));
  t.false(r.ok);
  t.true(!r.ok && r.problems.some((p) => /lab\.istio\.holdsFor/.test(p.field) && /version range/.test(p.message)), JSON.stringify(r.ok ? [] : r.problems));
});
