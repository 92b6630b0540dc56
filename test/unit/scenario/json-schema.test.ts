// The published JSON Schema, checked by an independent validator (ajv): it must be the one
// the zod definition generates, accept every catalogue scenario, and reject each malformed
// file whose mistake JSON Schema can see — and only those.
import { readFileSync } from 'node:fs';
import test from 'ava';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { parse } from 'yaml';
import { collectScenarioFiles } from '../../../src/scenario/collect.ts';
import { LAB_SCHEMA_PATH, SCENARIO_SCHEMA_PATH, labJsonSchemaText, scenarioJsonSchemaText } from '../../../src/scenario/json-schema.ts';
import { MALFORMED_CASES } from './malformed-cases.ts';

const schemaText = readFileSync(SCENARIO_SCHEMA_PATH, 'utf8');
const ajv = new Ajv2020({ allErrors: true, strict: true });
addFormats.default(ajv);
const validate = ajv.compile(JSON.parse(schemaText) as object);

test(`${SCENARIO_SCHEMA_PATH} is the one the schema definition generates (else: npm run schema)`, (t) => {
  t.is(schemaText, scenarioJsonSchemaText());
});

test(`${LAB_SCHEMA_PATH} is the one the schema definition generates (else: npm run schema)`, (t) => {
  t.is(readFileSync(LAB_SCHEMA_PATH, 'utf8'), labJsonSchemaText());
});

const validateLab = ajv.compile(JSON.parse(readFileSync(LAB_SCHEMA_PATH, 'utf8')) as object);
test('ajv accepts the netns lab definitions in labs/netns', (t) => {
  const labs = collectScenarioFiles(['labs/netns']).others.filter((o) => o.kind === 'lab');
  t.true(labs.length > 0, 'a Lab file to check');
  for (const { path: f } of labs) {
    t.true(validateLab(parse(readFileSync(f, 'utf8'))), `${f}: ${JSON.stringify(validateLab.errors)}`);
  }
});

const catalogue = collectScenarioFiles(['scenarios']).files;

test('the catalogue is not empty', (t) => {
  t.true(catalogue.length >= 1);
});

for (const file of catalogue) {
  test(`ajv accepts ${file}`, (t) => {
    const ok = validate(parse(readFileSync(file, 'utf8')));
    t.true(ok, JSON.stringify(validate.errors, null, 2));
  });
}

for (const c of MALFORMED_CASES.filter((m) => m.yaml !== false)) {
  test(`ajv ${c.schema ? 'rejects' : 'accepts (a cross-field check catches it)'} ${c.file}`, (t) => {
    const ok = validate(parse(readFileSync(c.file, 'utf8')));
    t.is(ok, !c.schema, JSON.stringify(validate.errors));
  });
}
