// Writes schema/scenario.schema.json and schema/lab.schema.json from the zod definitions in
// src/scenario/schema.ts, schema/report.schema.json from src/paths/verdict.ts and
// schema/mesh.schema.json from src/mesh/envoy/mesh.ts.
// `--check` only compares, and exits 1 when the committed file is stale.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { REPORT_SCHEMA_PATH, reportJsonSchemaText } from '../src/report/json.ts';
import { LAB_SCHEMA_PATH, SCENARIO_SCHEMA_PATH, labJsonSchemaText, scenarioJsonSchemaText } from '../src/scenario/json-schema.ts';
import { MESH_SCHEMA_PATH, meshJsonSchemaText } from '../src/mesh/envoy/mesh.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const files: Array<[string, string]> = [
  [SCENARIO_SCHEMA_PATH, scenarioJsonSchemaText()],
  [LAB_SCHEMA_PATH, labJsonSchemaText()],
  [REPORT_SCHEMA_PATH, reportJsonSchemaText()],
  [MESH_SCHEMA_PATH, meshJsonSchemaText()],
];
let stale = false;
for (const [path, text] of files) {
  const target = join(root, path);
  if (process.argv.includes('--check')) {
    let current = '';
    try {
      current = readFileSync(target, 'utf8');
    } catch {
      // missing counts as stale
    }
    if (current !== text) {
      console.error(`${path} is stale: run npm run schema`);
      stale = true;
    } else {
      console.log(`${path} is up to date`);
    }
  } else {
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, text);
    console.log(`wrote ${path}`);
  }
}
if (stale) process.exit(1);
