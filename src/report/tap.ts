// TAP version 14: one test point per probe (`scenario › probe`), a skipped scenario as one
// `# SKIP` point, a --check-fault run as one point per scenario ("fails without its fault").
// A failed probe carries a YAML diagnostic with expected, observed and the first difference.
import { stringify } from 'yaml';
import { unprobed, type ProbeResult, type RunReport, type ScenarioResult } from '../paths/verdict.ts';
import { hopDiffRows } from './hop-diff.ts';
import { visibleControls } from '../scenario/text.ts';

/** A description may not carry an unescaped `#` (it would start a directive) nor a line break. */
const desc = (s: string): string => visibleControls(s).replace(/\\/g, '\\\\').replace(/#/g, '\\#');
const reasonText = (s: string | undefined): string => (s ? ` ${visibleControls(s)}` : '');

function diagnostic(data: Record<string, unknown>): string[] {
  const yaml = stringify(data, { lineWidth: 0 }).trimEnd();
  return ['  ---', ...yaml.split('\n').map((l) => `  ${l}`), '  ...'];
}

function probePoint(n: number, p: ProbeResult): string[] {
  const name = `${desc(p.scenario)} › ${desc(p.probe)}`;
  if (p.status === 'skipped') return [`ok ${n} - ${name} # SKIP${reasonText(p.reason)}`];
  if (p.status === 'passed') return [`ok ${n} - ${name}`];
  const marked = hopDiffRows(p).find((r) => r.marked);
  return [
    `not ok ${n} - ${name}`,
    ...diagnostic({
      title: p.title,
      ...(p.reason ? { message: p.reason } : {}),
      ...(p.firstDifference
        ? { firstDifference: { ...p.firstDifference, ...(marked?.expectedIndex !== undefined ? { hop: marked.expectedIndex + 1 } : {}) } }
        : {}),
      expected: p.expected,
      observed: p.observed,
      ...(p.notExpected.length > 0 ? { notExpected: p.notExpected } : {}),
      ...(p.notExpectedSeen.length > 0 ? { notExpectedSeen: p.notExpectedSeen } : {}),
      ...(p.predictionGaps.length > 0 ? { predictionGaps: p.predictionGaps } : {}),
      ...(p.outcome !== undefined ? { outcome: p.outcome } : {}),
      ...(p.reply !== undefined ? { reply: p.reply } : {}),
      evidence: p.evidence,
      durationMs: p.durationMs,
    }),
  ];
}

function scenarioPoints(start: number, s: ScenarioResult): string[][] {
  if (s.mode === 'without-change') {
    const name = `${desc(s.name)} › fails without its fault`;
    if (s.status === 'skipped') return [[`ok ${start} - ${name} # SKIP${reasonText(s.reason)}`]];
    if (unprobed(s)) return [[`not ok ${start} - ${name}`, ...diagnostic({ message: `${'its probes did not run without its fault, so the fault is not checked'}${s.reason ? `: ${s.reason}` : ''}`, file: s.file })]];
    if (s.status === 'failed') return [[`ok ${start} - ${name}`]];
    return [
      [
        `not ok ${start} - ${name}`,
        ...diagnostic({ message: 'the scenario passed without its fault: its probes do not detect the fault', file: s.file }),
      ],
    ];
  }
  if (s.probes.length === 0) {
    const name = desc(s.name);
    if (s.status === 'skipped') return [[`ok ${start} - ${name} # SKIP${reasonText(s.reason)}`]];
    if (s.status === 'passed') return [[`ok ${start} - ${name}`]];
    return [[`not ok ${start} - ${name}`, ...diagnostic({ message: s.reason ?? 'scenario failed', file: s.file })]];
  }
  return s.probes.map((p, i) => probePoint(start + i, p));
}

export function formatTap(report: RunReport): string {
  const points: string[][] = [];
  for (const s of report.scenarios) points.push(...scenarioPoints(points.length + 1, s));
  return ['TAP version 14', `1..${points.length}`, ...points.flat()].join('\n') + '\n';
}
