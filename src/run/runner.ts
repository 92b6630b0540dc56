// The runner, once for every backend: scenarios a backend cannot run are skipped with the
// reason; the others are grouped by lab definition (one lab per group, groups run
// `concurrency` at a time, a group's scenarios in order); each scenario runs once with its
// setup and, with --check-fault, once more without its change. A setup that fails fails its
// scenario, not the run. When `signal` aborts (Ctrl-C), no new probe starts, the probe under
// way is marked interrupted with every one after it, the labs are torn down as every scope
// ends, and the results say what finished. Results come back in the order the scenarios were
// given.
import type { ScenarioResult } from '../paths/verdict.ts';
import type { LoadedScenario } from '../scenario/loaded.ts';
import { modesOf, stepsFor, type RunMode } from '../scenario/setup-roles.ts';
import { skippedResult, type Backend, type EvidenceFolder, type SessionOptions, type StartedBackend } from './backend.ts';
import { interruptedReason, runProbes, type ProbeEvents } from './probe.ts';
import { labKey } from './select.ts';

export interface RunOptions extends Omit<SessionOptions, 'scenarios'> {
  /** How many labs run at once (capped by the backend). */
  concurrency?: number;
  /** Called when a scenario starts and when it finishes (each mode of it), for progress output. */
  onScenarioStart?: (name: string, mode: RunMode) => void;
  onScenario?: (r: ScenarioResult) => void;
  /** Called when each probe starts and ends, for progress output. */
  probeEvents?: ProbeEvents;
  /** Stops the run between probes; its reason (e.g. "SIGINT") goes into the results. */
  signal?: AbortSignal;
  /** Where failed probes leave their evidence bundles (--out); without it nothing is written. */
  evidence?: EvidenceFolder;
}

interface RunResults {
  results: ScenarioResult[];
  skipped: ScenarioResult[];
}

/** Groups scenarios that share one lab definition, in the order they come. */
export function groupByLab(scenarios: readonly LoadedScenario[]): LoadedScenario[][] {
  const groups = new Map<string, LoadedScenario[]>();
  for (const s of scenarios) {
    const key = labKey(s);
    groups.set(key, [...(groups.get(key) ?? []), s]);
  }
  return [...groups.values()];
}

export async function runScenarios(backend: Backend, scenarios: readonly LoadedScenario[], opts: RunOptions): Promise<RunResults> {
  const skipped: ScenarioResult[] = [];
  const runnable: LoadedScenario[] = [];
  for (const s of scenarios) {
    const why = backend.unsupported(s.scenario);
    if (why) skipped.push(skippedResult(s, backend.name, why));
    else runnable.push(s);
  }
  const results: ScenarioResult[] = [];
  if (runnable.length === 0) return { results, skipped };
  const warn = (what: string, e: unknown) => opts.onProgress?.(`warning: ${what}: ${(e as Error).message}`);
  const session = await backend.open({ ...opts, scenarios: runnable });
  const queue = groupByLab(runnable);
  /** Each scenario of the group in each of its modes, its result as `result` gives it, in order. */
  const each = async (group: readonly LoadedScenario[], result: (s: LoadedScenario, mode: RunMode) => ScenarioResult | Promise<ScenarioResult>) => {
    for (const s of group) {
      for (const mode of modesOf(s.scenario, opts.checkFault)) {
        opts.onScenarioStart?.(s.scenario.metadata.name, mode);
        const r = await result(s, mode);
        results.push(r);
        opts.onScenario?.(r);
      }
    }
  };
  const worker = async () => {
    for (let group = queue.shift(); group; group = queue.shift()) {
      if (opts.signal?.aborted) {
        await each(group, (s, mode) => interruptedResult(s, backend.name, mode, opts.signal!));
        continue;
      }
      let lab: StartedBackend;
      try {
        lab = await session.start(group);
      } catch (e) {
        // A lab that cannot start fails its scenarios; the other labs of the run go on.
        await each(group, (s, mode) => failedResult(s, backend.name, mode, `the lab could not start: ${(e as Error).message}`));
        continue;
      }
      try {
        let dirty: string | undefined;
        await each(group, async (s, mode) => {
          if (opts.signal?.aborted) return interruptedResult(s, backend.name, mode, opts.signal);
          if (dirty) return failedResult(s, backend.name, mode, `not run: ${dirty} (${NOT_BACK})`);
          const r = await runScenario(lab, s, mode, opts.signal, opts.evidence, opts.probeEvents);
          if (r.reason?.includes(NOT_BACK)) dirty = `${s.scenario.metadata.name} left the lab changed`;
          return r;
        });
      } finally {
        // A lab that does not stop cleanly is said so; it does not hide what the run found.
        await lab.stop().catch((e: unknown) => warn(`stopping the lab of ${group[0]!.scenario.metadata.name}`, e));
      }
    }
  };
  try {
    const workers = Math.max(1, Math.min(opts.concurrency ?? 1, backend.maxConcurrentLabs, queue.length));
    await Promise.all(Array.from({ length: workers }, worker));
  } finally {
    await session.close().catch((e: unknown) => warn('closing the backend session', e));
  }
  const order = new Map(scenarios.map((s, i) => [s.file, i]));
  const modeOrder = (r: ScenarioResult) => (r.mode === 'with-setup' ? 0 : 1);
  results.sort((a, b) => modeOrder(a) - modeOrder(b) || (order.get(a.file) ?? 0) - (order.get(b.file) ?? 0));
  return { results, skipped };
}

/** A scenario that failed before any probe ran, and why. */
function failedResult(s: LoadedScenario, backend: Backend['name'], mode: RunMode, reason: string): ScenarioResult {
  return { ...skippedResult(s, backend, reason), mode, status: 'failed' };
}

/** What an interrupted run says of a scenario it did not run. */
function interruptedResult(s: LoadedScenario, backend: Backend['name'], mode: RunMode, signal: AbortSignal): ScenarioResult {
  return { ...skippedResult(s, backend, interruptedReason(signal)), mode };
}

/** One scenario in one mode on a running lab: its setup, its probes, the lab back as it was. */
async function runScenario(lab: StartedBackend, s: LoadedScenario, mode: RunMode, signal?: AbortSignal, evidence?: EvidenceFolder, events?: ProbeEvents): Promise<ScenarioResult> {
  const t0 = performance.now();
  const failed = (reason: string): ScenarioResult => ({ ...failedResult(s, lab.backend, mode, reason), durationMs: performance.now() - t0 });
  let result: ScenarioResult;
  try {
    const { notes } = await lab.applySetup(s, stepsFor(s.scenario, mode), mode);
    result = { ...(await runProbes(lab, s, mode, notes, signal, evidence, events)), durationMs: performance.now() - t0 };
  } catch (e) {
    // A lab process that died explains a failed setup first (a reload of a dead sidecar fails); the step's own error follows.
    const broken = await lab.health([...s.scenario.lab.pods.map((p) => p.name), ...(s.scenario.lab.externalHosts ?? []).map((h) => h.name)]).catch(() => []);
    result = failed([...broken, `the setup failed: ${(e as Error).message}`].join('; '));
  }
  // The lab must be back as it was for the next scenario: when it is not, this one says so.
  const notBack = await lab.revertSetup().then(
    () => undefined,
    (e: Error) => e,
  );
  result = { ...result, producedBy: { ...lab.producedBy } };
  return notBack ? { ...result, status: 'failed', reason: `${result.reason ? `${result.reason}; ` : ''}${NOT_BACK}: ${notBack.message}` } : result;
}

/** What a scenario says when the lab could not be brought back after it: the next ones of its lab do not run on it. */
const NOT_BACK = 'the lab could not be brought back after it';
