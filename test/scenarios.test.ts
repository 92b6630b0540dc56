// The catalogue as an AVA suite: one test per probe of every scenario, on the backend this
// machine can run (netns, as root). `npx ava test/scenarios.test.ts` is the regression suite a
// platform team runs before and after a mesh upgrade. Without root the tests are registered
// as skipped with the reason in their title.
import test from 'ava';
import { collectScenarioFiles } from '../src/scenario/collect.ts';
import { loadScenarioFile } from '../src/scenario/loader.ts';
import { netnsUnavailable } from '../src/lab/netns/requirements.ts';
import { runScenariosNetns, type LoadedScenario } from '../src/paths/run-netns.ts';
import type { ProbeResult } from '../src/paths/verdict.ts';

const catalogue: LoadedScenario[] = collectScenarioFiles(['scenarios']).files.flatMap((file) => {
  const r = loadScenarioFile(file);
  return r.ok ? [{ file, scenario: r.scenario }] : [];
});
const runnable = catalogue.filter((s) => s.scenario.metadata.backends.includes('netns'));
const why = netnsUnavailable();
const results = new Map<string, ProbeResult>();

if (!why) {
  test.before(async () => {
    for (const s of await runScenariosNetns(runnable, { concurrency: 2 })) {
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
