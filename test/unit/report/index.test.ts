// The reporter registry and writeReports: each --reporter name maps to its formatter and
// file, repeated names write once, --out places the files, nothing is written by the function.
import test from 'ava';
import { REPORTER_NAMES, REPORT_FILES, formatConsole, isReporterName, reporters, writeReports } from '../../../src/report/index.ts';
import { formatJson } from '../../../src/report/json.ts';
import { formatJunit } from '../../../src/report/junit.ts';
import { formatTap } from '../../../src/report/tap.ts';
import { failingRun } from './fixtures.ts';

test('the registry has exactly console, json, junit and tap, each producing its own format', (t) => {
  t.deepEqual(Object.keys(reporters).sort(), ['console', 'json', 'junit', 'tap']);
  t.deepEqual([...REPORTER_NAMES].sort(), Object.keys(REPORT_FILES).sort());
  t.is(reporters.console(failingRun), formatConsole(failingRun, { color: false }));
  t.is(reporters.json(failingRun), formatJson(failingRun));
  t.is(reporters.junit(failingRun), formatJunit(failingRun));
  t.is(reporters.tap(failingRun), formatTap(failingRun));
});

test('isReporterName accepts the four names only', (t) => {
  t.true(REPORTER_NAMES.every(isReporterName));
  t.false(isReporterName('html'));
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
