// Which setup steps a run applies. Fault and fix steps are the change a scenario is about;
// context steps always apply. A step without a role is a change (a fault): the same on every
// backend. `--check-fault` runs a scenario with a change a second time, without it. Pure.
import type { Scenario, SetupStep } from './schema.ts';

export type RunMode = 'with-setup' | 'without-change';

export const isChange = (step: SetupStep): boolean => (step.role ?? 'fault') !== 'context';

/** The runs of a scenario: with its setup, and with --check-fault without its change when it has one. */
export function modesOf(s: Scenario, checkFault: boolean): RunMode[] {
  return checkFault && (s.setup ?? []).some(isChange) ? ['with-setup', 'without-change'] : ['with-setup'];
}

/** The steps a run in `mode` applies, in order. */
export function stepsFor(s: Scenario, mode: RunMode): SetupStep[] {
  return (s.setup ?? []).filter((step) => mode === 'with-setup' || !isChange(step));
}
