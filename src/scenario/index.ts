export * from './schema.ts';
export { loadScenarioFile, loadScenarioText, loadScenarioBytes, MAX_SCENARIO_BYTES, type LoadResult } from './loader.ts';
export { collectScenarioFiles } from './collect.ts';
export { formatProblem, type ScenarioProblem } from './problems.ts';
