// The catalogue as an AVA suite: one test per probe of every scenario, on the default backend
// (netns, as root), found in the registry like the CLI finds it. `npx ava test/scenarios.test.ts` is the regression suite a
// platform team runs before and after a mesh upgrade. Without root the tests are registered
// as skipped with the reason in their title.
import test from 'ava';
import { collectScenarioFiles } from '../src/scenario/collect.ts';
import { loadScenarioFile } from '../src/scenario/loader.ts';
import type { LoadedScenario } from '../src/scenario/loaded.ts';
import { BACKEND_REGISTRY, DEFAULT_BACKEND } from '../src/lab/registry.ts';
import { runScenarios } from '../src/run/runner.ts';
import type { ProbeResult } from '../src/paths/verdict.ts';

const backend = BACKEND_REGISTRY[DEFAULT_BACKEND];
const catalogue: LoadedScenario[] = collectScenarioFiles(['scenarios']).files.flatMap((file) => {
  const r = loadScenarioFile(file);
  return r.ok ? [r] : [];
});
const runnable = catalogue.filter((s) => backend.unsupported(s.scenario) === undefined);
const why = await backend.unavailable({});
const results = new Map<string, ProbeResult>();

if (!why) {
  test.before(async () => {
    for (const s of (await runScenarios(backend, runnable, { concurrency: 2, checkFault: false, keepLab: false })).results) {
      for (const p of s.probes) results.set(`${s.name}/${p.probe}`, p);
    }
  });
}

test('the catalogue has netns scenarios', (t) => {
  t.true(runnable.length > 0);
});

for (const s of runnable) {
  for (const probe of s.scenario.probes) {
    const title = `${s.scenario.metadata.name} › ${probe.name}`;
    if (why) {
      test.skip(`${title} [needs root: ${why.split('\n')[0]}]`, () => {});
      continue;
    }
    test(title, (t) => {
      const r = results.get(`${s.scenario.metadata.name}/${probe.name}`);
      if (!r) return t.fail('the probe did not run');
      if (r.status !== 'passed') {
        t.log(`expected: ${JSON.stringify(r.expected, null, 2)}`);
        t.log(`observed: ${JSON.stringify(r.observed, null, 2)}`);
        for (const e of r.evidence) t.log(`${e.source}:\n  ${e.lines.join('\n  ')}`);
      }
      t.is(r.status, 'passed', r.reason);
    });
  }
}
