// A scenario as the runner takes it: the file it came from, the validated document, and each
// probe's expected hops parsed once (the loader has already checked their notation). Pure.
import { parseHop, type Hop } from '../paths/hop.ts';
import type { Scenario } from './schema.ts';

export interface ExpectedHops {
  path: Hop[];
  notPath: Hop[];
}

export interface LoadedScenario {
  file: string;
  scenario: Scenario;
  /** Per probe, in the order of `scenario.probes`. */
  expected: ExpectedHops[];
}

/** Parses every probe's expected hops; throws HopSyntaxError on notation the loader would refuse. */
function expectedHopsOf(scenario: Scenario): ExpectedHops[] {
  return scenario.probes.map((p) => ({ path: (p.expect.path ?? []).map((h) => parseHop(h)), notPath: (p.expect.notPath ?? []).map((h) => parseHop(h)) }));
}

export function loadedScenario(file: string, scenario: Scenario): LoadedScenario {
  return { file, scenario, expected: expectedHopsOf(scenario) };
}
