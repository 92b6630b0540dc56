// The scenario catalogue: every file loads, names are unique, and every file starts with the
// yaml-language-server header that points editors at the published schema.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import test from 'ava';
import { collectScenarioFiles } from '../../../src/scenario/collect.ts';
import { loadScenarioFile } from '../../../src/scenario/loader.ts';
import { formatProblem } from '../../../src/scenario/problems.ts';

const files = collectScenarioFiles(['scenarios']).files;
const HEADER = /^# yaml-language-server: \$schema=(\S+)\n/;

for (const file of files) {
  test(`${file} is a valid scenario with the schema header`, (t) => {
    const r = loadScenarioFile(file);
    t.true(r.ok, r.ok ? '' : r.problems.map(formatProblem).join('\n'));
    const m = HEADER.exec(readFileSync(file, 'utf8'));
    t.truthy(m, 'the first line must be # yaml-language-server: $schema=<path to schema/scenario.schema.json>');
    const target = resolve(dirname(file), m![1]!);
    t.is(target, resolve('schema/scenario.schema.json'));
    t.true(existsSync(target));
  });
}

test('scenario names are unique across the catalogue', (t) => {
  const names = files.map((f) => {
    const r = loadScenarioFile(f);
    return r.ok ? r.scenario.metadata.name : f;
  });
  t.deepEqual([...new Set(names)].sort(), [...names].sort());
});
