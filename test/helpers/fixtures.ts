// Shared read-only fixtures live beside the repository: ../shared/fixtures.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

export function fixturePath(rel: string): string {
  return fileURLToPath(new URL(`../../../shared/fixtures/${rel}`, import.meta.url));
}

export function readFixture(rel: string): string {
  return readFileSync(fixturePath(rel), 'utf8');
}

export function fixtureJson(rel: string): unknown {
  return JSON.parse(readFixture(rel));
}

/** A file of this repository, decoded from YAML. */
export function repoYaml(rel: string): unknown {
  return parse(readFileSync(new URL(`../../${rel}`, import.meta.url), 'utf8'));
}
