// Writes schema/scenario.schema.json from the zod definition in src/scenario/schema.ts.
// `--check` only compares, and exits 1 when the committed file is stale.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SCENARIO_SCHEMA_PATH, scenarioJsonSchemaText } from '../src/scenario/json-schema.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const target = join(root, SCENARIO_SCHEMA_PATH);
const text = scenarioJsonSchemaText();
if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(target, 'utf8');
  } catch {
    // missing counts as stale
  }
  if (current !== text) {
    console.error(`${SCENARIO_SCHEMA_PATH} is stale: run npm run schema`);
    process.exit(1);
  }
  console.log(`${SCENARIO_SCHEMA_PATH} is up to date`);
} else {
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, text);
  console.log(`wrote ${SCENARIO_SCHEMA_PATH}`);
}
