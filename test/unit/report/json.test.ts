// The JSON report against its published schema, checked by an independent validator (ajv,
// draft 2020-12): every fixture run validates, corrupted reports do not, and the committed
// schema is the one RunReportSchema generates.
import { readFileSync } from 'node:fs';
import test from 'ava';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { REPORT_SCHEMA_PATH, formatJson, reportJsonSchemaText } from '../../../src/report/json.ts';
import type { RunReport } from '../../../src/paths/verdict.ts';
import { ALL_RUNS, failingRun } from './fixtures.ts';

const schemaText = readFileSync(REPORT_SCHEMA_PATH, 'utf8');
const ajv = new Ajv2020({ allErrors: true, strict: true });
addFormats.default(ajv);
const validate = ajv.compile(JSON.parse(schemaText) as object);

test(`${REPORT_SCHEMA_PATH} is the one the report types generate (else: npm run schema)`, (t) => {
  t.is(schemaText, reportJsonSchemaText());
});

for (const [name, report] of ALL_RUNS) {
  test(`json: the ${name} validates against ${REPORT_SCHEMA_PATH} and reads back unchanged`, (t) => {
    const text = formatJson(report);
    t.true(text.startsWith('{\n  "apiVersion": "pathlab/v1",'));
    const data: unknown = JSON.parse(text);
    t.true(validate(data), JSON.stringify(validate.errors, null, 2));
    t.deepEqual(data, report);
  });
}

const probe0 = (r: RunReport) => r.scenarios[1]!.probes[0]! as Record<string, unknown>;
const corruptions: Array<[string, (r: RunReport & Record<string, unknown>) => void]> = [
  ['a wrong apiVersion', (r) => (r.apiVersion = 'pathlab/v2' as 'pathlab/v1')],
  ['a probe status outside passed/failed/skipped', (r) => (probe0(r).status = 'flaky')],
  ['a firstDifference index that is not an integer', (r) => ((probe0(r).firstDifference as Record<string, unknown>).index = 1.5)],
  ['an unknown field on a probe', (r) => (probe0(r).hops = [])],
  ['evidence without lines', (r) => delete (probe0(r).evidence as Array<Partial<Record<string, unknown>>>)[0]!.lines],
  ['a missing summary', (r) => delete (r as Partial<RunReport>).summary],
];

for (const [name, corrupt] of corruptions) {
  test(`json: a report with ${name} does not validate`, (t) => {
    const data = JSON.parse(formatJson(failingRun)) as RunReport & Record<string, unknown>;
    corrupt(data);
    t.false(validate(data));
  });
}
