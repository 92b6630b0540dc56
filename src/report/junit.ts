// JUnit XML as CI systems read it, in the Apache Ant JUnit schema (the strictest common one;
// Jenkins, GitLab and Azure DevOps read it): one <testsuite> per scenario, one <testcase> per
// probe; a failed probe's <failure> text is the hop table. That schema has no <skipped> and no
// per-testcase output, so a skipped probe or scenario is a testcase without failure, named
// `… [skipped]`, with the reason as a suite property, and the evidence of every probe is in its
// suite's <system-out>. A --check-fault run adds one suite per scenario run without its fault,
// whose single testcase fails when the scenario passed.
import { unprobed, type ProbeResult, type RunReport, type ScenarioResult } from '../paths/verdict.ts';
import { probeDiffLines } from './console.ts';
import { firstDifferenceLine } from './hop-diff.ts';
import { visibleControls, xmlAttr, xmlText } from '../scenario/text.ts';

export const PATH_MISMATCH = 'PathMismatch';
export const PASSED_WITHOUT_FAULT = 'PassedWithoutFault';
/** A --check-fault run without its fault that failed before its probes ran: the fault was not checked. */
export const UNPROBED_WITHOUT_FAULT = 'UnprobedWithoutFault';

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
  const attrs = { name: p.status === 'skipped' ? `${p.probe} [skipped]` : p.probe, classname: p.scenario, time: secs(p.durationMs) };
  if (p.status !== 'failed') return `${ind}${el('testcase', attrs)}`;
  const message = firstDifferenceLine(p) ?? p.reason ?? 'probe failed';
  const text = [p.title, ...probeDiffLines(p)].join('\n');
  return `${ind}${el('testcase', attrs, el('failure', { message, type: PATH_MISMATCH }, xmlText(`\n${text}\n`)))}`;
}

interface Counts {
  tests: number;
  failures: number;
  skipped: number;
}

interface Suite extends Counts {
  xml: string;
}

/** Ant's timestamp: ISO 8601 without a zone (the run's start, in UTC). */
function antTimestamp(iso: string): string {
  return iso.replace(/\.\d+Z$|Z$/, '');
}

function suite(s: ScenarioResult, id: number, timestamp: string, cases: string[], counts: Counts, skippedReasons: string[]): Suite {
  const props = [
    el('property', { name: 'file', value: s.file }),
    el('property', { name: 'backend', value: s.backend }),
    el('property', { name: 'mode', value: s.mode }),
    ...skippedReasons.map((r, i) => el('property', { name: `skipped.${i + 1}`, value: r })),
  ];
  const evidence = s.probes.filter((p) => p.evidence.length > 0).map((p) => `${p.probe}:\n${evidenceText(p)}`).join('\n\n');
  const body = [
    `    <properties>`,
    ...props.map((x) => `      ${x}`),
    `    </properties>`,
    ...cases,
    `    ${el('system-out', {}, xmlText(evidence ? `\n${evidence}\n` : ''))}`,
    `    ${el('system-err', {}, '')}`,
  ].join('\n');
  const name = s.mode === 'without-change' ? `${s.name} [without its fault]` : s.name;
  const attrs = { name, timestamp: antTimestamp(timestamp), hostname: 'localhost', tests: counts.tests, failures: counts.failures, errors: 0, time: secs(s.durationMs), id, package: 'pathlab' };
  return { ...counts, xml: `  ${el('testsuite', attrs, `\n${body}\n  `)}` };
}

function scenarioSuite(s: ScenarioResult, id: number, timestamp: string): Suite {
  if (s.mode === 'without-change') {
    const attrs = { name: s.status === 'skipped' ? 'fails without its fault [skipped]' : 'fails without its fault', classname: s.name, time: secs(s.durationMs) };
    const failure =
      s.status === 'passed'
        ? el('failure', { message: 'the scenario passed without its fault: its probes do not detect the fault', type: PASSED_WITHOUT_FAULT })
        : unprobed(s)
          ? el('failure', { message: `its probes did not run without its fault, so the fault is not checked${s.reason ? `: ${s.reason}` : ''}`, type: UNPROBED_WITHOUT_FAULT })
          : undefined;
    const tc = failure ? el('testcase', attrs, failure) : el('testcase', attrs);
    return suite(s, id, timestamp, [`    ${tc}`], { tests: 1, failures: failure ? 1 : 0, skipped: s.status === 'skipped' ? 1 : 0 }, s.status === 'skipped' ? [s.reason ?? 'skipped'] : []);
  }
  if (s.probes.length === 0) {
    // A scenario skipped (or failed) before any probe ran still shows up as one testcase.
    const attrs = { name: s.status === 'skipped' ? '(scenario) [skipped]' : '(scenario)', classname: s.name, time: secs(s.durationMs) };
    const tc = s.status === 'failed' ? el('testcase', attrs, el('failure', { message: s.reason ?? 'scenario failed', type: PATH_MISMATCH })) : el('testcase', attrs);
    return suite(s, id, timestamp, [`    ${tc}`], { tests: 1, failures: s.status === 'failed' ? 1 : 0, skipped: s.status === 'skipped' ? 1 : 0 }, s.status === 'skipped' ? [s.reason ?? 'skipped'] : []);
  }
  const count = (st: ProbeResult['status']): number => s.probes.filter((p) => p.status === st).length;
  const skipped = s.probes.filter((p) => p.status === 'skipped').map((p) => `${p.probe}: ${p.reason ?? 'skipped'}`);
  return suite(s, id, timestamp, s.probes.map((p) => probeCase(p, '    ')), { tests: s.probes.length, failures: count('failed'), skipped: count('skipped') }, skipped);
}

export function formatJunit(report: RunReport): string {
  const suites = report.scenarios.map((s, i) => scenarioSuite(s, i, report.startedAt));
  const body = suites.map((x) => x.xml).join('\n');
  return `<?xml version="1.0" encoding="UTF-8"?>\n${el('testsuites', {}, `\n${body}\n`)}\n`;
}
