// `pathlab lab up|status|down` on the kind backend: a kind cluster with Istio, Bookinfo and the
// samples that outlives the command (or its plan, with --dry-run), the pathlab clusters there
// are, and their removal.
import { homedir } from 'node:os';
import { BackendInputError, BackendUnavailableError, type LabCommands, type LabIo, type LabUpOptions } from '../../run/backend.ts';
import { loadScenarioFile } from '../../scenario/loader.ts';
import { formatProblem } from '../../scenario/problems.ts';
import type { Scenario } from '../../scenario/schema.ts';
import { newLabId } from '../lab-id.ts';
import { formatDoctor, runDoctor } from './doctor.ts';
import { defaultCacheDir } from './istioctl-cache.ts';
import { checkContext, hostRunner, kindLab, listKindLabs, readLabFiles, runKindSteps, type Runner } from './kind-lab.ts';
import type { GuardDecision } from './guard.ts';
import { DRY_RUN_ID, checkLabId, clusterName, contextName } from './labels.ts';
import { formatKindPlan, planKindDown, planKindLab } from './plan.ts';
import { ISTIO_VERSION, KIND_ISTIO_RELEASES, KIND_NODE_IMAGE, KIND_VERSION, imageRef, kindIstioRelease, kindPins } from './versions.ts';



function labId(id: string | undefined, fallback: string): string {
  try {
    return checkLabId(id ?? fallback);
  } catch (e) {
    throw new BackendInputError(`--lab-id: ${(e as Error).message}`);
  }
}

function loadScenario(path: string): Scenario {
  const r = loadScenarioFile(path);
  if (!r.ok) throw new BackendInputError(r.problems.map(formatProblem).join('\n'));
  return r.scenario;
}

/** The header of a printed plan: what is pinned, and to what. */
function pinsHeader(id: string, release: string): string {
  const pins = kindPins('linux-amd64', release);
  return [
    `kind lab ${id}: cluster ${clusterName(id)}, context ${contextName(id)}`,
    `pinned: kind ${KIND_VERSION}, node image ${imageRef(KIND_NODE_IMAGE)}`,
    `pinned: Istio ${release}, istioctl from ${pins.istioctl.url} (sha256 ${pins.istioctl.sha256})`,
    '',
  ].join('\n');
}

async function up(cacheDir: string, opts: LabUpOptions, io: LabIo): Promise<void> {
  if (opts.lab !== undefined) throw new BackendInputError('--lab: not an option of the kind backend (--scenario adds a scenario\'s lab)');
  const release = opts.istioVersion === undefined ? ISTIO_VERSION : kindIstioRelease(opts.istioVersion);
  if (release === undefined) throw new BackendInputError(`--istio-version ${opts.istioVersion}: the kind backend installs a pinned Istio release: ${Object.keys(KIND_ISTIO_RELEASES).join(', ')} (or current, ${ISTIO_VERSION})`);
  const scenario = opts.scenario === undefined ? undefined : loadScenario(opts.scenario);
  if (opts.dryRun) {
    const id = labId(opts.labId, DRY_RUN_ID);
    // The printed plan is the linux-amd64 one, so that it reads the same on every machine.
    const plan = planKindLab({ id, pins: kindPins('linux-amd64', release), labFiles: readLabFiles(), cacheDir, ...(scenario ? { scenario } : {}) });
    io.out(pinsHeader(id, release) + formatKindPlan(plan, { home: homedir() }));
    for (const m of plan.missingPins) io.err(`UNPINNED: ${m}\n`);
    return;
  }
  const lab = kindLab()
    .withId(labId(opts.labId, newLabId()))
    .withCacheDir(cacheDir)
    .withPins(kindPins(undefined, release))
    .withProgress((e) => {
      if (e.outcome === 'start') io.err(`[${e.index + 1}/${e.total}] ${e.step.what}\n`);
      else if (e.outcome === 'skipped') io.err(`[${e.index + 1}/${e.total}] skipped (condition not met)\n`);
    });
  if (scenario) lab.withScenario(scenario);
  const missing = lab.plan().missingPins;
  if (missing.length) throw new BackendUnavailableError(`cannot start a kind lab, these are UNPINNED:\n  ${missing.join('\n  ')}`);
  const report = await runDoctor(hostRunner, { cacheDir });
  if (!report.ok) throw new BackendUnavailableError(formatDoctor(report));
  const started = await lab.start();
  io.out(`kind lab ${started.id} is up: kubectl --context ${started.context} get pods -A\n`);
}

/** Is the cluster of this id a lab pathlab made (the guard's lab label and annotation, asked only of a local server)? */
export type LabCheck = (id: string) => Promise<GuardDecision>;

async function guardOf(id: string): Promise<GuardDecision> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  kc.loadFromDefault();
  return checkContext(kc, contextName(id));
}

async function down(cacheDir: string, run: Runner, isLab: LabCheck, opts: { ids: string[]; all?: boolean; dryRun?: boolean }, io: LabIo): Promise<void> {
  if (opts.all && opts.ids.length) throw new BackendInputError('name lab ids or --all, not both');
  let ids: string[];
  if (opts.all) {
    let named: string[];
    try {
      named = await listKindLabs(run);
    } catch (e) {
      throw new BackendUnavailableError(`${(e as Error).message}\nrun 'pathlab doctor' to see what is missing`);
    }
    // A cluster named pathlab-* is removed only when it carries the lab's label: the name alone is anyone's to take.
    ids = [];
    for (const id of named) {
      const d = await isLab(id);
      if (d.allow) ids.push(id);
      else io.err(`not removing ${clusterName(id)}: ${d.reason}\n`);
    }
  } else if (opts.ids.length || opts.dryRun) {
    ids = opts.ids.length ? opts.ids.map((id) => labId(id, DRY_RUN_ID)) : [DRY_RUN_ID];
    // A named lab too is removed only when the guard takes its cluster for one (a plan is only printed).
    if (!opts.dryRun) {
      for (const id of ids) {
        const d = await isLab(id);
        if (!d.allow) throw new BackendUnavailableError(`not removing ${clusterName(id)}: ${d.reason}`);
      }
    }
  } else {
    throw new BackendInputError('say which lab: its id, or --all for every pathlab kind cluster');
  }
  const plan = planKindDown(ids, cacheDir);
  if (opts.dryRun) {
    io.out(formatKindPlan(plan, { home: homedir() }));
    return;
  }
  if (ids.length === 0) {
    io.out('no pathlab kind clusters\n');
    return;
  }
  await runKindSteps(plan.steps, run, (e) => {
    if (e.outcome === 'start') io.err(`[${e.index + 1}/${e.total}] ${e.step.what}\n`);
  });
  io.out(`removed: ${ids.map(clusterName).join(', ')}\n`);
}

async function status(io: LabIo): Promise<void> {
  let ids: string[];
  try {
    ids = await listKindLabs(hostRunner);
  } catch (e) {
    throw new BackendUnavailableError(`${(e as Error).message}\nrun 'pathlab doctor' to see what is missing`);
  }
  if (ids.length === 0) {
    io.out('no pathlab kind clusters\n');
    return;
  }
  for (const id of ids) io.out(`${id}\tcluster ${clusterName(id)}\tcontext ${contextName(id)}\n`);
}

/** The kind lab commands, with istioctl and the labs' files under `cacheDir`. */
export function kindLabCommands(cacheDir: string = defaultCacheDir(), run: Runner = hostRunner, isLab: LabCheck = guardOf): LabCommands {
  return {
    up: (opts, io) => up(cacheDir, opts, io),
    status: (opts, io) => {
      if (opts.output !== undefined && opts.output !== 'text') throw new BackendInputError(`-o ${opts.output}: the kind backend's lab status prints text only`);
      return status(io);
    },
    down: (opts, io) => down(cacheDir, run, isLab, opts, io),
  };
}
