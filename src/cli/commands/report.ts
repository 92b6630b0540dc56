// `pathlab report diff A.json B.json`: what changed, probe by probe, between two runs' JSON
// reports (before and after an upgrade, one Istio version against another).
import type { Command } from 'commander';
import { RunReportSchema, type RunReport } from '../../paths/verdict.ts';
import { diffReports, formatReportDiff } from '../../report/report-diff.ts';
import type { CliContext } from '../context.ts';
import { CliError, EXIT_BAD_INPUT, EXIT_CHECK_FAILED } from '../exit-codes.ts';
import { readText } from '../load-documents.ts';
import { formatData, outputFormat, withOutput } from '../output.ts';

/** A run's JSON report, checked against the report's schema (exit 2 with the first problems otherwise). */
function loadReport(file: string): RunReport {
  let doc: unknown;
  try {
    doc = JSON.parse(readText(file));
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError(`${file}: not JSON (${(e as Error).message}); report diff reads the files of pathlab run --reporter json`, EXIT_BAD_INPUT);
  }
  const r = RunReportSchema.safeParse(doc);
  if (!r.success) {
    const problems = r.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`);
    throw new CliError(`${file}: not a pathlab run report (pathlab run --reporter json writes one):\n  ${problems.join('\n  ')}`, EXIT_BAD_INPUT);
  }
  return r.data;
}

export function registerReport(program: Command, ctx: CliContext): void {
  const report = program.command('report').description('work with run reports (the JSON of pathlab run --reporter json)');
  withOutput(
    report
      .command('diff')
      .description('what changed between two runs, probe by probe: status, observed path, predicted path, reply (ephemeral ports, timestamps, durations and lab ids left out); exit 1 when a probe\'s observed path or status changed')
      .argument('<a>', 'the first run\'s report.json (e.g. before the upgrade)')
      .argument('<b>', 'the second run\'s report.json'),
    'text',
    'each changed probe with its paths side by side, then a summary line',
  )
    .addHelpText('after', '\nExample:\n  pathlab run --istio-version 1.5 --reporter json --out before/ && pathlab run --reporter json --out after/\n  pathlab report diff before/report.json after/report.json')
    .action((a: string, b: string, opts: { output?: string; json?: boolean }) => {
      const format = outputFormat(opts);
      const d = diffReports(loadReport(a), loadReport(b), { a, b });
      ctx.io.out(format === 'text' ? formatReportDiff(d) : formatData(format, d));
      if (d.changed > 0) ctx.exit(EXIT_CHECK_FAILED);
    });
}
