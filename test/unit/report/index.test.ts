// The reporter registry and writeReports: each --reporter name maps to its formatter and
// file, repeated names write once, --out places the files, nothing is written by the function;
// and what every reporter prints as hops is the path notation.
import test from 'ava';
import { REPORTER_NAMES, REPORT_FILES, formatConsole, isReporterName, reporters, writeReports } from '../../../src/report/index.ts';
import { formatJson } from '../../../src/report/json.ts';
import { formatJunit } from '../../../src/report/junit.ts';
import { formatTap } from '../../../src/report/tap.ts';
import { formatHtml } from '../../../src/report/html.ts';
import { parseHop } from '../../../src/paths/hop.ts';
import type { RunReport } from '../../../src/paths/verdict.ts';
import { consoleHops, htmlHops, jsonReportHops, junitHops, tapHops, validateHops } from '../../helpers/printed-hops.ts';
import { ALL_RUNS, failingRun } from './fixtures.ts';

test('the registry has exactly console, json, junit, tap and html, each producing its own format', (t) => {
  t.deepEqual(Object.keys(reporters).sort(), ['console', 'html', 'json', 'junit', 'tap']);
  t.deepEqual([...REPORTER_NAMES].sort(), Object.keys(REPORT_FILES).sort());
  t.is(reporters.console(failingRun), formatConsole(failingRun, { color: false }));
  t.is(reporters.json(failingRun), formatJson(failingRun));
  t.is(reporters.junit(failingRun), formatJunit(failingRun));
  t.is(reporters.tap(failingRun), formatTap(failingRun));
  t.is(reporters.html(failingRun), formatHtml(failingRun));
});

test('isReporterName accepts the five names only', (t) => {
  t.true(REPORTER_NAMES.every(isReporterName));
  t.false(isReporterName('svg'));
  t.false(isReporterName('toString'));
});

const cases = [
  { name: 'no --out: file names only', opts: { reporters: ['junit', 'json'] as const }, files: ['junit.xml', 'report.json'] },
  { name: '--out DIR: files inside it', opts: { reporters: ['tap', 'console'] as const, outDir: 'out/run-1' }, files: ['out/run-1/report.tap', 'out/run-1/report.txt'] },
  { name: 'a repeated --reporter writes its file once', opts: { reporters: ['json', 'json', 'junit'] as const, outDir: 'r' }, files: ['r/report.json', 'r/junit.xml'] },
  { name: 'no reporter, no file', opts: { reporters: [] as const }, files: [] },
];

for (const c of cases) {
  test(`writeReports: ${c.name}`, (t) => {
    const files = writeReports(failingRun, c.opts);
    t.deepEqual([...files.keys()], c.files);
    for (const [file, text] of files) {
      const name = REPORTER_NAMES.find((n) => file.endsWith(REPORT_FILES[n]))!;
      t.is(text, reporters[name](failingRun));
    }
  });
}

// One hop notation: every hop a reporter prints, for every fixture run (the failed probes' hop
// tables, first differences, must-not hops seen, prediction gaps), is a hop a scenario takes.
for (const [name, report] of ALL_RUNS) {
  test(`every hop the reporters print for the ${name} is a hop a scenario takes`, async (t) => {
    const printed = {
      console: consoleHops(formatConsole(report, { color: false, verbose: true })),
      json: jsonReportHops(JSON.parse(formatJson(report)) as RunReport),
      junit: junitHops(formatJunit(report)),
      tap: tapHops(formatTap(report)),
      html: htmlHops(formatHtml(report)),
    };
    const all = [...new Set(Object.values(printed).flat())];
    for (const h of all) t.notThrows(() => parseHop(h), h);
    // The console, JUnit, TAP and HTML print the hops of every failed probe (a --check-fault run without the change: its first difference only).
    const failed = report.scenarios.filter((s) => s.mode === 'with-setup').flatMap((s) => s.probes.filter((p) => p.status === 'failed'));
    for (const p of failed) for (const h of [...p.expected, ...p.observed]) for (const r of ['console', 'junit', 'tap', 'html'] as const) t.true(printed[r].includes(h), `${r} prints ${h}`);
    if (all.length > 0) t.is((await validateHops(all)).code, 0);
  });
}
