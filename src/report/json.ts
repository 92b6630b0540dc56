// The JSON report: the RunReport as it is, two-space indent. Its published schema,
// schema/report.schema.json, is generated from RunReportSchema (npm run schema).
import { z } from 'zod';
import { RunReportSchema, type RunReport } from '../paths/verdict.ts';

export const REPORT_SCHEMA_PATH = 'schema/report.schema.json';

export function formatJson(report: RunReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

/** The committed file's text: stable key order, two-space indent, final newline. */
export function reportJsonSchemaText(): string {
  return `${JSON.stringify(z.toJSONSchema(RunReportSchema, { target: 'draft-2020-12', io: 'input' }), null, 2)}\n`;
}
