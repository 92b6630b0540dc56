import { z } from 'zod';
import { LabFileSchema, ScenarioDocumentSchema } from './schema.ts';

export const SCENARIO_SCHEMA_PATH = 'schema/scenario.schema.json';

/** The published JSON Schema of scenario files, as committed at schema/scenario.schema.json. */
export function scenarioJsonSchema(): Record<string, unknown> {
  const generated = z.toJSONSchema(ScenarioDocumentSchema, { target: 'draft-2020-12', io: 'input' }) as Record<string, unknown>;
  return generated;
}

/** The file's text: stable key order, two-space indent, final newline. */
export function scenarioJsonSchemaText(): string {
  return `${JSON.stringify(scenarioJsonSchema(), null, 2)}\n`;
}

export const LAB_SCHEMA_PATH = 'schema/lab.schema.json';

/** The published JSON Schema of Lab files (labs/*.yaml). */
export function labJsonSchemaText(): string {
  return `${JSON.stringify(z.toJSONSchema(LabFileSchema, { target: 'draft-2020-12', io: 'input' }), null, 2)}\n`;
}
