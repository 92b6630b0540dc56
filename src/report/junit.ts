// JUnit XML as CI systems read it (validated against the Jenkins xUnit plugin's junit-10.xsd):
// one <testsuite> per scenario, one <testcase> per probe; a failed probe's <failure> text is
// the hop table, its <system-out> the evidence. A --check-fault run adds one suite per
// scenario run without its fault, whose single testcase fails when the scenario passed.
import type { ProbeResult, RunReport, ScenarioResult } from '../paths/verdict.ts';
import { probeDiffLines } from './console.ts';
import { firstDifferenceLine } from './hop-diff.ts';
import { visibleControls, xmlAttr, xmlText } from './text.ts';

export const PATH_MISMATCH = 'PathMismatch';
export const PASSED_WITHOUT_FAULT = 'PassedWithoutFault';

const secs = (ms: number): string => (ms / 1000).toFixed(3);

function el(name: string, attrs: Record<string, string | number | undefined>, body?: string): string {
  const a = Object.entries(attrs)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}="${xmlAttr(String(v))}"`)
    .join('');
  return body === undefined ? `<${name}${a}/>` : `<${name}${a}>${body}</${name}>`;
}

function evidenceText(p: ProbeResult): string {
  const lines: string[] = [];
  for (const e of p.evidence) {
    lines.push(`${e.source}${e.hop !== undefined ? `  (${e.hop})` : ''}`, ...e.lines.map((l) => `  ${visibleControls(l)}`));
  }
  return lines.join('\n');
}

function probeCase(p: ProbeResult, ind: string): string {
  const parts: string[] = [];
  if (p.status === 'failed') {
    const message = firstDifferenceLine(p) ?? p.reason ?? 'probe failed';
    const text = [p.title, ...probeDiffLines(p)].join('\n');
    parts.push(el('failure', { message, type: PATH_MISMATCH }, xmlText(`\n${text}\n`)));
  } else if (p.status === 'skipped') {
    parts.push(el('skipped', { message: p.reason ?? 'skipped' }));
  }
  if (p.evidence.length > 0) parts.push(el('system-out', {}, xmlText(`\n${evidenceText(p)}\n`)));
  const attrs = { classname: p.scenario, name: p.probe, time: secs(p.durationMs) };
  if (parts.length === 0) return `${ind}${el('testcase', attrs)}`;
  return `${ind}${el('testcase', attrs, `\n${parts.map((x) => `${ind}  ${x}`).join('\n')}\n${ind}`)}`;
}

interface Counts {
  tests: number;
  failures: number;
  skipped: number;
}

interface Suite extends Counts {
  xml: string;
}

function suite(s: ScenarioResult, timestamp: string, cases: string[], counts: Counts): Suite {
  const props = [
    el('property', { name: 'file', value: s.file }),
    el('property', { name: 'backend', value: s.backend }),
    el('property', { name: 'mode', value: s.mode }),
  ];
  const body = [`    <properties>`, ...props.map((x) => `      ${x}`), `    </properties>`, ...cases].join('\n');
  const name = s.mode === 'without-change' ? `${s.name} [without its fault]` : s.name;
  const attrs = { name, tests: counts.tests, failures: counts.failures, errors: 0, skipped: counts.skipped, time: secs(s.durationMs), timestamp, file: s.file };
  return { ...counts, xml: `  ${el('testsuite', attrs, `\n${body}\n  `)}` };
}

function scenarioSuite(s: ScenarioResult, timestamp: string): Suite {
  if (s.mode === 'without-change') {
    const attrs = { classname: s.name, name: 'fails without its fault', time: secs(s.durationMs) };
    const inner =
      s.status === 'passed'
        ? el('failure', { message: 'the scenario passed without its fault: its probes do not detect the fault', type: PASSED_WITHOUT_FAULT })
        : s.status === 'skipped'
          ? el('skipped', { message: s.reason ?? 'skipped' })
          : undefined;
    const tc = inner === undefined ? el('testcase', attrs) : el('testcase', attrs, `\n      ${inner}\n    `);
    return suite(s, timestamp, [`    ${tc}`], { tests: 1, failures: s.status === 'passed' ? 1 : 0, skipped: s.status === 'skipped' ? 1 : 0 });
  }
  if (s.probes.length === 0) {
    // A scenario skipped (or failed) before any probe ran still shows up as one testcase.
    const attrs = { classname: s.name, name: '(scenario)', time: secs(s.durationMs) };
    const inner =
      s.status === 'skipped'
        ? el('skipped', { message: s.reason ?? 'skipped' })
        : s.status === 'failed'
          ? el('failure', { message: s.reason ?? 'scenario failed', type: PATH_MISMATCH })
          : undefined;
    const tc = inner === undefined ? el('testcase', attrs) : el('testcase', attrs, `\n      ${inner}\n    `);
    return suite(s, timestamp, [`    ${tc}`], {
      tests: 1,
      failures: s.status === 'failed' ? 1 : 0,
      skipped: s.status === 'skipped' ? 1 : 0,
    });
  }
  const count = (st: ProbeResult['status']): number => s.probes.filter((p) => p.status === st).length;
  return suite(
    s,
    timestamp,
    s.probes.map((p) => probeCase(p, '    ')),
    { tests: s.probes.length, failures: count('failed'), skipped: count('skipped') },
  );
}

export function formatJunit(report: RunReport): string {
  const suites = report.scenarios.map((s) => scenarioSuite(s, report.startedAt));
  const sum = (k: keyof Counts): number => suites.reduce((n, x) => n + x[k], 0);
  const attrs = { name: 'pathlab', tests: sum('tests'), failures: sum('failures'), errors: 0, time: secs(report.durationMs) };
  const body = suites.map((x) => x.xml).join('\n');
  return `<?xml version="1.0" encoding="UTF-8"?>\n${el('testsuites', attrs, `\n${body}\n`)}\n`;
}
