// The main job's cost: the whole catalogue on the netns backend (pathlab run scenarios/),
// against a floor measured in the same run: starting and stopping the same labs with no
// scenario applied and no probe run. Targets: the whole run under 60 s on this machine, and
// each probe's cost beyond the labs (setup, instruments, the probe, its evidence) ≤ 300 ms.
// (It was ≤ 150 ms with the Node sidecar model, 96 ms measured; real Envoy adds a push and a
// wait for each setup step and its revert, a 50 ms pause before nc's half-close, and Envoy's
// own 1 s delayed close where a probe keeps its side open.)
import { collectScenarioFiles } from '../src/scenario/collect.ts';
import { loadScenarioFile } from '../src/scenario/loader.ts';
import type { LoadedScenario } from '../src/scenario/loaded.ts';
import { netnsLab } from '../src/lab/netns/netns-lab.ts';
import { netnsBackend } from '../src/lab/netns/backend.ts';
import { runScenarios } from '../src/run/runner.ts';

const why = await netnsBackend.unavailable({});
if (why) {
  console.log(`catalogue bench skipped: ${why}`);
} else {
  const scenarios: LoadedScenario[] = collectScenarioFiles(['scenarios']).files.flatMap((file) => {
    const r = loadScenarioFile(file);
    return r.ok && netnsBackend.unsupported(r.scenario) === undefined ? [r] : [];
  });
  const labs = [...new Map(scenarios.map((s) => [JSON.stringify(s.scenario.lab), s.scenario.lab])).values()];
  const f0 = performance.now();
  for (const spec of labs) await (await netnsLab(spec).start()).stop();
  const floor = performance.now() - f0;
  const t0 = performance.now();
  const { results } = await runScenarios(netnsBackend, scenarios, { checkFault: false, keepLab: false });
  const whole = performance.now() - t0;
  const probes = results.reduce((n, r) => n + r.probes.length, 0);
  const passed = results.filter((r) => r.status === 'passed').length;
  const perProbe = (whole - floor) / probes;
  console.log(`catalogue: ${results.length} scenarios (${passed} passed), ${probes} probes, ${labs.length} labs`);
  console.log(`floor: the same ${labs.length} labs up and down, nothing run   ${(floor / 1000).toFixed(1)} s = 1.00`);
  console.log(`pathlab run scenarios/ (netns)                         ${(whole / 1000).toFixed(1)} s = ${(whole / floor).toFixed(2)} × floor (target: under 60 s)`);
  console.log(`per probe, beyond the labs                             ${perProbe.toFixed(0)} ms (target: ≤ 300 ms)`);
  if (whole >= 60_000 || passed !== results.length || perProbe > 300) process.exitCode = 1;
}
