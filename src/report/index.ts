// The reporters by name, as `pathlab run --reporter` takes them, and the files a run writes.
// Pure: the CLI prints or writes what these return.
import { posix } from 'node:path';
import type { RunReport } from '../paths/verdict.ts';
import { formatConsole } from './console.ts';
import { formatHtml } from './html.ts';
import { formatJson } from './json.ts';
import { formatJunit } from './junit.ts';
import { formatTap } from './tap.ts';

export { formatConsole, formatSummary } from './console.ts';

export type Formatter = (report: RunReport) => string;

export const REPORTER_NAMES = ['console', 'json', 'junit', 'tap', 'html'] as const;
export type ReporterName = (typeof REPORTER_NAMES)[number];

/** Name → formatter. `console` here is uncoloured (for a file); the CLI calls formatConsole itself for a terminal. */
export const reporters: Readonly<Record<ReporterName, Formatter>> = {
  console: (report) => formatConsole(report, { color: false }),
  json: formatJson,
  junit: formatJunit,
  tap: formatTap,
  html: formatHtml,
};

/** The file each reporter writes into --out DIR. */
export const REPORT_FILES: Readonly<Record<ReporterName, string>> = {
  console: 'report.txt',
  json: 'report.json',
  junit: 'junit.xml',
  tap: 'report.tap',
  html: 'report.html',
};

export function isReporterName(name: string): name is ReporterName {
  return (REPORTER_NAMES as readonly string[]).includes(name);
}

/**
 * The files to write: path (REPORT_FILES[name], inside outDir when given) → text, one per
 * distinct reporter, in the order asked.
 */
export function writeReports(report: RunReport, options: { reporters: readonly ReporterName[]; outDir?: string }): Map<string, string> {
  const files = new Map<string, string>();
  for (const name of options.reporters) {
    const file = options.outDir === undefined ? REPORT_FILES[name] : posix.join(options.outDir, REPORT_FILES[name]);
    if (!files.has(file)) files.set(file, reporters[name](report));
  }
  return files;
}
