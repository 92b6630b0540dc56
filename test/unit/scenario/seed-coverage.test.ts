// Every seed document becomes scenarios: the catalogue listed by `source.seed`, failing when
// a seed in ../shared/seeds has none.
import { readdirSync } from 'node:fs';
import test from 'ava';
import { collectScenarioFiles } from '../../../src/scenario/collect.ts';
import { loadScenarioFile } from '../../../src/scenario/loader.ts';
import { sharedPath } from '../../helpers/shared-fixtures.ts';

test('every seed in shared/seeds has at least one scenario', (t) => {
  const seeds = readdirSync(sharedPath('seeds')).flatMap((f) => /^(\d{3})_/.exec(f)?.[1] ?? []).sort();
  t.true(seeds.length >= 5, `seeds found: ${seeds.join(', ')}`);
  const bySeed = new Map<string, string[]>();
  for (const file of collectScenarioFiles(['scenarios']).files) {
    const r = loadScenarioFile(file);
    if (!r.ok || !r.scenario.metadata.source.seed) continue;
    const seed = r.scenario.metadata.source.seed;
    bySeed.set(seed, [...(bySeed.get(seed) ?? []), r.scenario.metadata.name]);
  }
  for (const seed of seeds) t.log(`seed ${seed}: ${(bySeed.get(seed) ?? []).join(', ') || '(none)'}`);
  t.deepEqual(seeds.filter((s) => !bySeed.has(s)), [], 'seeds without a scenario');
});
