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
  /** The text of each file the setup names (applyFile), as the loader read and checked it: what a run applies. */
  files: Readonly<Record<string, string>>;
}

/** Parses every probe's expected hops; throws HopSyntaxError on notation the loader would refuse. */
function expectedHopsOf(scenario: Scenario): ExpectedHops[] {
  return scenario.probes.map((p) => ({ path: (p.expect.path ?? []).map((h) => parseHop(h)), notPath: (p.expect.notPath ?? []).map((h) => parseHop(h)) }));
}

export function loadedScenario(file: string, scenario: Scenario, files: Readonly<Record<string, string>> = {}): LoadedScenario {
  return { file, scenario, expected: expectedHopsOf(scenario), files };
}

/** The text of a file the scenario's setup names, as loaded (a scenario built without its files has none). */
export function namedFileText(s: LoadedScenario, rel: string): string {
  const text = s.files[rel];
  if (text === undefined) throw new Error(`${rel}: not read when the scenario was loaded`);
  return text;
}
