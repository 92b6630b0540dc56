// `pathlab lab up|down|status --backend kind` (routed here by lab.ts) and `pathlab doctor`.
// The kind backend's library (src/lab/kind) does the work; this file parses, prints and
// maps failures to exit codes: 2 bad input, 3 the environment (no Docker, an UNPINNED
// value, a context that is not a lab), each with what to do.
import { homedir } from 'node:os';
import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { CliError, EXIT_BAD_INPUT, EXIT_ENVIRONMENT } from '../exit-codes.ts';
import { loadScenarioFile } from '../../scenario/loader.ts';
import { formatProblem } from '../../scenario/problems.ts';
import type { Scenario } from '../../scenario/schema.ts';
import { exec } from '../../lab/exec.ts';
import { formatDoctor, runDoctor, type Runner as DoctorRunner } from '../../lab/kind/doctor.ts';
import { defaultCacheDir } from '../../lab/kind/istioctl-cache.ts';
import { KindEnvironmentError, kindLab, listKindLabs, readLabFiles, runKindSteps } from '../../lab/kind/kind-lab.ts';
import { DRY_RUN_ID, checkLabId, clusterName, contextName } from '../../lab/kind/labels.ts';
import { newLabId } from '../../lab/lab-id.ts';
import { formatKindPlan, planKindDown, planKindLab } from '../../lab/kind/plan.ts';
import { ISTIO_VERSION, KIND_NODE_IMAGE, KIND_VERSION, imageRef, kindPins } from '../../lab/kind/versions.ts';

export interface KindUpOptions {
  dryRun?: boolean;
  labId?: string;
  /** A scenario file whose lab (pods, services, mesh config) joins the base lab. */
  scenario?: string;
  cacheDir?: string;
}
export interface KindDownOptions {
  dryRun?: boolean;
  labId?: string;
  all?: boolean;
  cacheDir?: string;
}

const host = (argv: readonly string[], opts: { input?: string } = {}) => exec(argv, { ...(opts.input === undefined ? {} : { input: opts.input }), where: 'host' });

function labId(id: string | undefined, fallback: string): string {
  try {
    return checkLabId(id ?? fallback);
  } catch (e) {
    throw new CliError(`--lab-id: ${(e as Error).message}`, EXIT_BAD_INPUT);
  }
}

function loadScenario(path: string): Scenario {
  const r = loadScenarioFile(path);
  if (!r.ok) throw new CliError(r.problems.map(formatProblem).join('\n'), EXIT_BAD_INPUT);
  return r.scenario;
}

/** The header of a printed plan: what is pinned, and to what. */
function pinsHeader(id: string): string {
  const pins = kindPins('linux-amd64');
  return [
    `kind lab ${id}: cluster ${clusterName(id)}, context ${contextName(id)}`,
    `pinned: kind ${KIND_VERSION}, node image ${imageRef(KIND_NODE_IMAGE)}`,
    `pinned: Istio ${ISTIO_VERSION}, istioctl from ${pins.istioctl.url} (sha256 ${pins.istioctl.sha256})`,
    '',
  ].join('\n');
}

export async function kindLabUp(opts: KindUpOptions, ctx: CliContext): Promise<void> {
  const scenario = opts.scenario === undefined ? undefined : loadScenario(opts.scenario);
  const cacheDir = opts.cacheDir ?? defaultCacheDir();
  if (opts.dryRun) {
    const id = labId(opts.labId, DRY_RUN_ID);
    // The printed plan is the linux-amd64 one, so that it reads the same on every machine.
    const plan = planKindLab({ id, pins: kindPins('linux-amd64'), labFiles: readLabFiles(), cacheDir, ...(scenario ? { scenario } : {}) });
    ctx.io.out(pinsHeader(id) + formatKindPlan(plan, { home: homedir() }));
    for (const m of plan.missingPins) ctx.io.err(`UNPINNED: ${m}\n`);
    return;
  }
  const lab = kindLab()
    .withId(labId(opts.labId, newLabId()))
    .withCacheDir(cacheDir)
    .withProgress((e) => {
      if (e.outcome === 'start') ctx.io.err(`[${e.index + 1}/${e.total}] ${e.step.what}\n`);
      else if (e.outcome === 'skipped') ctx.io.err(`[${e.index + 1}/${e.total}] skipped (condition not met)\n`);
    });
  if (scenario) lab.withScenario(scenario);
  const missing = lab.plan().missingPins;
  if (missing.length) throw new CliError(`cannot start a kind lab, these are UNPINNED:\n  ${missing.join('\n  ')}`, EXIT_ENVIRONMENT);
  const report = await runDoctor(host, { cacheDir });
  if (!report.ok) throw new CliError(formatDoctor(report), EXIT_ENVIRONMENT);
  try {
    const started = await lab.start();
    ctx.io.out(`kind lab ${started.id} is up: kubectl --context ${started.context} get pods -A\n`);
  } catch (e) {
    if (e instanceof KindEnvironmentError) throw new CliError(e.message, EXIT_ENVIRONMENT);
    throw e;
  }
}

export async function kindLabDown(opts: KindDownOptions, ctx: CliContext): Promise<void> {
  const cacheDir = opts.cacheDir ?? defaultCacheDir();
  let ids: string[];
  if (opts.all) {
    try {
      ids = await listKindLabs(host);
    } catch (e) {
      throw new CliError(`${(e as Error).message}\nrun 'pathlab doctor' to see what is missing`, EXIT_ENVIRONMENT);
    }
  } else if (opts.labId !== undefined || opts.dryRun) {
    ids = [labId(opts.labId, DRY_RUN_ID)];
  } else {
    throw new CliError('say which lab: --lab-id <id>, or --all for every pathlab kind cluster', EXIT_BAD_INPUT);
  }
  const plan = planKindDown(ids, cacheDir);
  if (opts.dryRun) {
    ctx.io.out(formatKindPlan(plan, { home: homedir() }));
    return;
  }
  if (ids.length === 0) {
    ctx.io.out('no pathlab kind clusters\n');
    return;
  }
  await runKindSteps(plan.steps, host, (e) => {
    if (e.outcome === 'start') ctx.io.err(`[${e.index + 1}/${e.total}] ${e.step.what}\n`);
  });
  ctx.io.out(`removed: ${ids.map(clusterName).join(', ')}\n`);
}

export async function kindLabStatus(_opts: Record<string, never>, ctx: CliContext): Promise<void> {
  let ids: string[];
  try {
    ids = await listKindLabs(host);
  } catch (e) {
    throw new CliError(`${(e as Error).message}\nrun 'pathlab doctor' to see what is missing`, EXIT_ENVIRONMENT);
  }
  if (ids.length === 0) {
    ctx.io.out('no pathlab kind clusters\n');
    return;
  }
  for (const id of ids) ctx.io.out(`${id}\tcluster ${clusterName(id)}\tcontext ${contextName(id)}\n`);
}

export async function kindDoctor(ctx: CliContext, opts: { cacheDir?: string; run?: DoctorRunner } = {}): Promise<void> {
  const report = await runDoctor(opts.run ?? host, { cacheDir: opts.cacheDir ?? defaultCacheDir() });
  ctx.io.out(formatDoctor(report));
  if (!report.ok) ctx.exit(EXIT_ENVIRONMENT);
}

export function registerDoctor(program: Command, ctx: CliContext): void {
  program
    .command('doctor')
    .description('check what the kind backend needs: Docker engine, compose, kind, kubectl, istioctl, memory; each problem with what to do')
    .addHelpText('after', '\nExit codes: 0 ready, 3 something is missing (each FAIL line says what to do).')
    .action(async () => {
      await kindDoctor(ctx);
    });
}
