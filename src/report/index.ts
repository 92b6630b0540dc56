// Reporters registry (interim: JSON only; the console, JUnit and TAP reporters land next).
import type { RunReport } from '../paths/verdict.ts';

export type ReporterName = 'console' | 'json' | 'junit' | 'tap';

const json = (r: RunReport) => `${JSON.stringify(r, null, 2)}\n`;
const console = (r: RunReport) =>
  `${r.scenarios.map((s) => `${s.status === 'passed' ? '✔' : s.status === 'failed' ? '✘' : '-'} ${s.name}${s.reason ? ` — ${s.reason}` : ''}`).join('\n')}\n${r.summary.scenarios} scenarios: ${r.summary.passed} passed, ${r.summary.failed} failed, ${r.summary.skipped} skipped (${r.summary.probes} probes) in ${(r.durationMs / 1000).toFixed(1)}s\n`;

export const reporters: Record<ReporterName, (r: RunReport, opts?: { color?: boolean }) => string> = { console, json, junit: json, tap: json };
