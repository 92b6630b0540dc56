// A run's progress is read as it happens: without a terminal, each probe and each scenario is a
// line on stderr when it finishes, so the first scenario's line is there while the run still
// goes on (read here from the live stream of a real two-lab run). stdout carries one report a
// program reads; with --out the terminal still gets what failed and the summary.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import type { RunReport } from '../../src/paths/verdict.ts';
import { NEEDS_ROOT, netnsTest } from '../helpers/caps.ts';

const FAILING = 'test/data/report/seed003-expects-redis.yaml';
const PASSING = 'scenarios/incident-7000/outage-legacy.yaml';
const dir = mkdtempSync(join(tmpdir(), 'pathlab-progress-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

netnsTest(`${NEEDS_ROOT} the first scenario's line is on stderr before the run ends; stdout is the one JSON report`, async (t) => {
  const child = spawn(process.execPath, ['bin/pathlab.js', 'run', FAILING, PASSING, '--reporter', 'json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const seen: Array<{ line: string; running: boolean }> = [];
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => {
    stderr += b.toString();
    const lines = stderr.split('\n');
    stderr = lines.pop()!;
    for (const line of lines) seen.push({ line, running: child.exitCode === null });
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  t.is(code, 1, seen.map((s) => s.line).join('\n'));
  const at = (re: RegExp) => seen.findIndex((s) => re.test(s.line));
  const probe = at(/^ {2}✘ seed003-expects-redis · redis-7000-reaches-redis \d+\.\ds$/);
  const first = at(/^✘ seed003-expects-redis \d+\.\ds$/);
  const second = at(/^✔ incident-7000-outage-legacy \d+\.\ds$/);
  t.true(probe >= 0 && first > probe, seen.map((s) => s.line).join('\n'));
  t.true(seen[first]!.running, 'the process was still running when the first scenario\'s line arrived');
  t.true(second > first, 'the second scenario finished after it');
  // Between them, the second lab started: the first line did not wait for the run's end.
  t.true(seen.slice(first + 1, second).some((s) => /incident-7000-outage-legacy|lab/.test(s.line)), seen.map((s) => s.line).join('\n'));
  const report = JSON.parse(stdout) as RunReport;
  t.is(report.summary.scenarios, 2);
});

test('two reports a program reads cannot share stdout: exit 2, --out named', (t) => {
  const r = spawnSync(process.execPath, ['bin/pathlab.js', 'run', FAILING, '--reporter', 'json', '--reporter', 'junit'], { encoding: 'utf8' });
  t.is(r.status, 2);
  t.regex(r.stderr, /only one of them can go to stdout; give --out DIR/);
  t.is(r.stdout, '');
});

netnsTest(`${NEEDS_ROOT} with --out the terminal still gets the failed probe and the summary`, (t) => {
  const out = join(dir, 'out');
  const r = spawnSync(process.execPath, ['bin/pathlab.js', 'run', FAILING, '--reporter', 'junit', '--reporter', 'json', '--out', out], { encoding: 'utf8', timeout: 120_000 });
  t.is(r.status, 1, r.stderr);
  t.regex(r.stdout, /^✘ seed003-expects-redis · redis-7000-reaches-redis: first differing hop, expected #2/m);
  t.regex(r.stdout, /^1 scenario: 0 passed, 1 failed, 0 skipped \(2 probes\)/m);
  t.regex(r.stderr, /wrote .*junit\.xml, .*report\.json/);
  t.is((JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as RunReport).summary.failed, 1);
});
