// The console report: one line per scenario; for each failed probe the header, the hop table
// with the first difference marked, must-not hops seen, prediction gaps, retries and the
// evidence behind the difference; a summary line; and, for --check-fault runs, which
// scenarios broke without their fault (the good outcome) and which did not.
import pc from 'picocolors';
import { outcomeOf, unprobed, type ProbeResult, type RunReport, type ScenarioResult } from '../paths/verdict.ts';
import { visibleControls } from '../scenario/text.ts';
import { evidenceOfDifference, firstDifferenceLine, formatHopDiff } from './hop-diff.ts';

export interface ConsoleOptions {
  color: boolean;
  /** Also list passed and skipped probes, and every evidence entry of a failed probe. */
  verbose?: boolean;
  /** The terminal's width: a hop table wider than it is stacked, expected over observed. */
  columns?: number;
}

export const MARK = { passed: '✔', failed: '✘', skipped: '-' } as const;

export const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)}s`;

type Colors = ReturnType<typeof pc.createColors>;

const v = visibleControls;

/**
 * What went wrong with a failed probe, without the evidence: reason, first difference, the
 * hop table, must-not hops seen, prediction gaps, retries. JUnit's failure text is this, uncoloured.
 */
export function probeDiffLines(p: ProbeResult, c: Colors = pc.createColors(false), columns?: number): string[] {
  const out: string[] = [];
  if (p.reason) out.push(`  ${v(p.reason)}`);
  const fd = firstDifferenceLine(p);
  if (fd) out.push(`  ${c.red(v(fd))}`);
  if (p.outcome !== undefined || p.reply !== undefined) {
    out.push(`  outcome: ${v(p.outcome ?? '?')}${p.reply !== undefined ? `, reply ${JSON.stringify(p.reply)}` : ''}`);
  }
  out.push(...formatHopDiff(p, 2, { mark: (s) => c.red(c.bold(s)), dim: c.dim, missing: c.yellow }, columns === undefined ? undefined : columns - 2));
  for (const hop of p.notExpectedSeen) out.push(`  ${c.red('must not be on the path, but was:')} ${v(hop)}`);
  if (p.explainAgrees === false) out.push(`  ${c.dim('note: explain (on the sidecar\'s config_dump) names another Envoy hop than the sidecar logged: see predicted and observed')}`);
  for (const gap of p.predictionGaps) out.push(`  ${c.dim('note: prediction gap (explain predicted it, nothing observed matches it):')} ${v(gap)}`);
  for (const retry of p.retries) out.push(`  ${c.dim('retried:')} ${v(retry)}`);
  return out;
}

function probeLines(p: ProbeResult, c: Colors, verbose: boolean, columns?: number): string[] {
  if (p.status === 'passed') return verbose ? [`  ${c.green(MARK.passed)} ${p.probe} ${c.dim(seconds(p.durationMs))}`] : [];
  if (p.status === 'skipped') return verbose ? [`  ${c.yellow(MARK.skipped)} ${p.probe} skipped${p.reason ? `: ${v(p.reason)}` : ''}`] : [];
  const out = [`  ${c.red(MARK.failed)} ${c.bold(v(p.title))}  ${c.dim(`[${p.probe}] ${seconds(p.durationMs)}`)}`];
  out.push(...probeDiffLines(p, c, columns === undefined ? undefined : columns - 2).map((l) => `  ${l}`));
  const evidence = verbose ? p.evidence : evidenceOfDifference(p);
  if (evidence.length > 0) out.push(`    evidence${verbose ? '' : ' behind the difference'}:`);
  for (const e of evidence) {
    out.push(`      ${c.cyan(v(e.source))}${e.hop !== undefined ? c.dim(`  (${v(e.hop)})`) : ''}`);
    for (const line of e.lines) out.push(`        ${visibleControls(line)}`);
  }
  return out;
}

function scenarioLine(s: ScenarioResult, c: Colors): string {
  const mark = s.status === 'passed' ? c.green(MARK.passed) : s.status === 'failed' ? c.red(MARK.failed) : c.yellow(MARK.skipped);
  const tail = s.status === 'skipped' ? `skipped${s.reason ? `: ${v(s.reason)}` : ''}` : c.dim(seconds(s.durationMs));
  // A scenario that failed before its probes (its lab, its setup) says why here: nothing below will.
  const why = s.status === 'failed' && s.probes.length === 0 && s.reason ? `\n  ${c.red(v(s.reason))}` : '';
  return `${mark} ${s.name} ${tail}${why}`;
}

/**
 * A scenario run without its change (--check-fault's second run) must fail: that proves its
 * probes detect the fault. One that passes does not test its fault.
 */
function checkFaultLines(runs: ScenarioResult[], c: Colors): string[] {
  if (runs.length === 0) return [];
  const good = runs.filter((s) => outcomeOf(s) === 'good');
  const bad = runs.filter((s) => s.status === 'passed');
  const unchecked = runs.filter(unprobed);
  const skipped = runs.filter((s) => s.status === 'skipped');
  const out = ['', c.bold(`--check-fault: ${runs.length} scenarios run again WITHOUT their fault`)];
  for (const s of good) {
    out.push(`  ${c.green(MARK.passed)} ${s.name}: failed without its fault, as it must (the fault is what breaks it)`);
    // Which hop the fault decides: the first wrong hop of each probe that failed without it.
    for (const p of s.probes.filter((x) => x.status === 'failed')) {
      const line = firstDifferenceLine(p) ?? p.reason;
      if (line) out.push(`      ${p.probe}: ${v(line)}`);
    }
  }
  for (const s of bad) {
    out.push(`  ${c.red(MARK.failed)} ${s.name}: PASSED without its fault: its probes do not detect the fault (check failed)`);
  }
  for (const s of unchecked) {
    out.push(`  ${c.red(MARK.failed)} ${s.name}: its probes did not run without its fault, so the fault is not checked (check failed)${s.reason ? `: ${v(s.reason)}` : ''}`);
  }
  for (const s of skipped) out.push(`  ${c.yellow(MARK.skipped)} ${s.name}: not checked${s.reason ? `: ${v(s.reason)}` : ''}`);
  const failing = bad.length + unchecked.length;
  out.push(
    failing === 0
      ? c.green(`check-fault passed: all ${good.length} checked scenarios fail without their fault`)
      : c.red(`check-fault FAILED: ${bad.length} of ${good.length + failing} scenarios pass without their fault${unchecked.length ? `; ${unchecked.length} did not run their probes without it` : ''}`),
  );
  return out;
}

export function formatConsole(report: RunReport, options: ConsoleOptions): string {
  const c = pc.createColors(options.color);
  const verbose = options.verbose ?? false;
  const lines: string[] = [];
  const normal = report.scenarios.filter((s) => s.mode === 'with-setup');
  for (const s of normal) {
    lines.push(scenarioLine(s, c));
    for (const p of s.probes) lines.push(...probeLines(p, c, verbose, options.columns));
  }
  lines.push(...checkFaultLines(report.scenarios.filter((s) => s.mode === 'without-change'), c));
  // What made the paths: a line per distinct lab make-up, with how many scenarios it ran.
  const makers = new Map<string, number>();
  for (const s of normal) {
    if (!s.producedBy) continue;
    const p = s.producedBy;
    const key = `control plane: ${p.controlPlane}; istio-init: ${p.istioInit}; proxy: ${p.proxy}`;
    makers.set(key, (makers.get(key) ?? 0) + 1);
  }
  if (makers.size > 0) lines.push('');
  for (const [key, n] of makers) lines.push(c.dim(`${n} scenario${n === 1 ? '' : 's'} ran on ${v(key)}`));
  lines.push('', summaryLine(report, c));
  return `${lines.join('\n')}\n`;
}

/** `44 scenarios: 43 passed, 1 failed, 0 skipped (76 probes) in 95.2s; explain = envoy: 41/41`, red when one failed. */
export function summaryLine(report: RunReport, c: Colors = pc.createColors(false)): string {
  const { scenarios, passed, failed, skipped, probes, explain } = report.summary;
  // How often explain, on the sidecar's own config_dump, named the Envoy hop the sidecar logged.
  const agreement = explain.compared > 0 ? `; explain = envoy: ${explain.agree}/${explain.compared}` : '';
  const summary = `${scenarios} scenario${scenarios === 1 ? '' : 's'}: ${passed} passed, ${failed} failed, ${skipped} skipped (${probes} probe${probes === 1 ? '' : 's'}) in ${seconds(report.durationMs)}${agreement}`;
  return failed > 0 ? c.red(summary) : c.green(summary);
}

/**
 * What the terminal shows when the reports went to files (--out): each failed probe (or
 * scenario that failed before its probes) in one line, --check-fault's scenarios that passed
 * without their change, and the summary line.
 */
export function formatSummary(report: RunReport, options: { color: boolean }): string {
  const c = pc.createColors(options.color);
  const lines: string[] = [];
  for (const s of report.scenarios) {
    if (s.mode === 'without-change') {
      if (s.status === 'passed') lines.push(`${c.red(MARK.failed)} ${s.name}: PASSED without its fault: its probes do not detect the fault`);
      if (unprobed(s)) lines.push(`${c.red(MARK.failed)} ${s.name}: its probes did not run without its fault, so the fault is not checked${s.reason ? `: ${v(s.reason)}` : ''}`);
      continue;
    }
    if (s.status !== 'failed') continue;
    if (s.probes.length === 0) lines.push(`${c.red(MARK.failed)} ${s.name}: ${v(s.reason ?? 'failed')}`);
    for (const p of s.probes.filter((x) => x.status === 'failed')) lines.push(`${c.red(MARK.failed)} ${s.name} · ${p.probe}: ${v(firstDifferenceLine(p) ?? p.reason ?? 'failed')}`);
  }
  lines.push(summaryLine(report, c));
  return `${lines.join('\n')}\n`;
}
