// `pathlab run`: the main job. Loads scenarios, runs the ones the backend can run, reports.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { CliError, EXIT_BAD_INPUT, EXIT_CHECK_FAILED, EXIT_ENVIRONMENT } from '../exit-codes.ts';
import { collectScenarioFiles } from '../../scenario/collect.ts';
import { loadScenarioFile } from '../../scenario/loader.ts';
import { formatProblem } from '../../scenario/problems.ts';
import { ISTIO_VERSIONS, type LabSpec } from '../../scenario/schema.ts';
import { netnsUnavailable } from '../../lab/netns/requirements.ts';
import { runScenariosNetns, type LoadedScenario } from '../../paths/run-netns.ts';
import { KindGuardError, kindRunDryRun, kindUnsupported, runScenariosKind } from '../../paths/run-kind.ts';
import { defaultCacheDir } from '../../lab/kind/istioctl-cache.ts';
import { formatDoctor, runDoctor } from '../../lab/kind/doctor.ts';
import { KindEnvironmentError } from '../../lab/kind/kind-lab.ts';
import { checkLabId } from '../../lab/kind/labels.ts';
import { exec } from '../../lab/exec.ts';
import { REPORT_API_VERSION, type RunReport, type ScenarioResult } from '../../paths/verdict.ts';
import { formatConsole, isReporterName, REPORT_FILES, reporters, REPORTER_NAMES } from '../../report/index.ts';

interface RunOpts {
  backend: string;
  filter?: string;
  istioVersion?: string;
  reporter: string[];
  out?: string;
  keepLab?: boolean;
  checkFault?: boolean;
  concurrency?: string;
  dryRun?: boolean;
  labId?: string;
  context?: string;
  iKnowThisIsNotALab?: boolean;
}

function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
}

export function registerRun(program: Command, ctx: CliContext): void {
  program
    .command('run')
    .description('run scenarios in a lab and check every probe\'s path hop by hop (the main job)')
    .argument('[paths...]', 'scenario files or folders (default: scenarios/)')
    .option('--backend <backend>', 'netns (the default) or kind', 'netns')
    .option('--filter <glob>', 'only scenarios whose name matches, e.g. "incident-7000-*"')
    .option('--istio-version <v>', `run every scenario's lab with this Istio behaviour: ${ISTIO_VERSIONS.join(', ')}`)
    .option('--reporter <name>', 'console, json, junit or tap; repeatable', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--out <dir>', 'write each reporter\'s output to a file in this folder (report.json, junit.xml, report.tap, report.txt)')
    .option('--check-fault', 'also run every scenario without its fault/fix steps: each must then fail (the change is what the scenario is about)')
    .option('--keep-lab', 'leave the labs running after the run (pathlab lab down --all removes them)')
    .option('--concurrency <n>', 'labs run at once (scenarios of one lab run in order)', '1')
    .option('--dry-run', 'kind: print every command, manifest and API call of the run, in order, and run nothing')
    .option('--lab-id <id>', 'kind: run on this running lab (pathlab lab up --backend kind) instead of a new one')
    .option('--context <name>', 'kind: run on this kubeconfig context; one that is not a pathlab lab also needs --i-know-this-is-not-a-lab')
    .option('--i-know-this-is-not-a-lab', 'kind: let the run change the cluster of --context although it is not a pathlab lab')
    .addHelpText(
      'after',
      `
Exit codes: 0 every scenario passed, 1 a scenario failed, 2 bad input, 3 the lab could not start.
Examples:
  pathlab run                                   the whole catalogue on the netns backend
  pathlab run scenarios/incident-7000 --reporter console --reporter junit --out out/
  pathlab run --filter 'incident-7000-*' --check-fault
  pathlab run --backend kind --dry-run          the kind run's plan: every command, manifest and API call
  pathlab run --backend kind --lab-id a1b2c3    the scenarios that name kind, on a running kind lab`,
    )
    .action(async (paths: string[], opts: RunOpts) => {
      const names = opts.reporter.length ? opts.reporter : ['console'];
      for (const n of names) if (!isReporterName(n)) throw new CliError(`--reporter ${n}: expected one of ${REPORTER_NAMES.join(', ')}`, EXIT_BAD_INPUT);
      if (opts.istioVersion !== undefined && !(ISTIO_VERSIONS as readonly string[]).includes(opts.istioVersion)) {
        throw new CliError(`--istio-version ${opts.istioVersion}: expected one of ${ISTIO_VERSIONS.join(', ')}`, EXIT_BAD_INPUT);
      }
      if (opts.backend !== 'netns' && opts.backend !== 'kind') throw new CliError(`--backend ${opts.backend}: expected netns or kind`, EXIT_BAD_INPUT);
      const { files, missing } = collectScenarioFiles(paths.length ? paths : ['scenarios']);
      const problems = missing.map((m) => `${m.path}:1:1: (file): ${m.reason}`);
      const loaded: LoadedScenario[] = [];
      for (const f of files) {
        const r = loadScenarioFile(f);
        if (!r.ok) problems.push(...r.problems.map(formatProblem));
        else loaded.push({ file: f, scenario: r.scenario });
      }
      if (problems.length) throw new CliError(problems.join('\n'), EXIT_BAD_INPUT);
      const filter = opts.filter ? globToRegExp(opts.filter) : undefined;
      const selected = loaded.filter((s) => !filter || filter.test(s.scenario.metadata.name));
      if (selected.length === 0) throw new CliError(`no scenario to run${filter ? ` matches --filter ${opts.filter}` : ''}`, EXIT_BAD_INPUT);
      const kindOnly = [opts.dryRun && '--dry-run', opts.labId !== undefined && '--lab-id', opts.context !== undefined && '--context', opts.iKnowThisIsNotALab && '--i-know-this-is-not-a-lab'].filter(Boolean);
      if (opts.backend !== 'kind' && kindOnly.length) throw new CliError(`${kindOnly.join(', ')}: only with --backend kind`, EXIT_BAD_INPUT);
      if (opts.backend === 'kind') {
        await runKind(selected, opts, names, ctx);
        return;
      }
      const why = netnsUnavailable();
      if (why) throw new CliError(why, EXIT_ENVIRONMENT);

      const version = opts.istioVersion as LabSpec['istio']['version'] | undefined;
      const runnable = selected
        .filter((s) => s.scenario.metadata.backends.includes('netns'))
        .map((s) => (version ? { ...s, scenario: { ...s.scenario, lab: { ...s.scenario.lab, istio: { ...s.scenario.lab.istio, version } } } } : s));
      const skipped: ScenarioResult[] = selected
        .filter((s) => !s.scenario.metadata.backends.includes('netns'))
        .map((s) => ({ name: s.scenario.metadata.name, file: s.file, backend: 'netns', mode: 'with-setup', status: 'skipped', reason: `the scenario names the backends ${s.scenario.metadata.backends.join(', ')}`, probes: [], durationMs: 0 }));

      const startedAt = new Date();
      const t0 = performance.now();
      const progress = (r: ScenarioResult) => {
        if (names.includes('console')) return;
        ctx.io.err(`${r.status === 'passed' ? 'ok' : r.status} ${r.name}${r.mode === 'without-change' ? ' (without its change)' : ''}\n`);
      };
      let results: ScenarioResult[];
      try {
        results = await runScenariosNetns(runnable, { onScenario: progress, keepLab: opts.keepLab ?? false, concurrency: Math.max(1, Number(opts.concurrency) || 1) });
        if (opts.checkFault) {
          const withChange = runnable.filter((s) => (s.scenario.setup ?? []).some((st) => st.role !== 'context'));
          results.push(...(await runScenariosNetns(withChange, { onScenario: progress, withoutChange: true, concurrency: Math.max(1, Number(opts.concurrency) || 1) })));
        }
      } catch (e) {
        throw new CliError(`the lab could not start or run: ${(e as Error).message}`, EXIT_ENVIRONMENT);
      }
      report({ results, skipped, backend: 'netns', startedAt, t0, checkFault: opts.checkFault ?? false, names, out: opts.out }, ctx);
    });
}

/** `pathlab run --backend kind`: the scenarios that name kind, on a kind cluster with real Istio. */
async function runKind(selected: LoadedScenario[], opts: RunOpts, names: string[], ctx: CliContext): Promise<void> {
  if (opts.labId !== undefined) {
    try {
      checkLabId(opts.labId);
    } catch (e) {
      throw new CliError(`--lab-id: ${(e as Error).message}`, EXIT_BAD_INPUT);
    }
  }
  if (opts.iKnowThisIsNotALab && opts.context === undefined) throw new CliError('--i-know-this-is-not-a-lab needs the context it applies to: --context <name>', EXIT_BAD_INPUT);
  const runnable = selected.filter((s) => kindUnsupported(s.scenario) === undefined);
  const skipped: ScenarioResult[] = selected
    .filter((s) => kindUnsupported(s.scenario) !== undefined)
    .map((s) => ({ name: s.scenario.metadata.name, file: s.file, backend: 'kind', mode: 'with-setup', status: 'skipped', reason: kindUnsupported(s.scenario)!, probes: [], durationMs: 0 }));
  if (runnable.length === 0) throw new CliError(`no selected scenario can run on kind (${skipped.length} skipped: ${[...new Set(skipped.map((r) => r.reason))].join('; ')})`, EXIT_BAD_INPUT);
  const cacheDir = defaultCacheDir();
  if (opts.dryRun) {
    ctx.io.out(kindRunDryRun(runnable, { cacheDir, ...(opts.labId !== undefined ? { labId: opts.labId } : {}), ...(opts.context !== undefined ? { context: opts.context } : {}), ...(opts.checkFault ? { checkFault: true } : {}), ...(opts.keepLab ? { keepLab: true } : {}) }));
    ctx.io.err(`plan of ${runnable.length} scenario(s) on kind; ${skipped.length} skipped (not for kind)\n`);
    return;
  }
  const doctor = await runDoctor((argv: readonly string[], o: { input?: string } = {}) => exec(argv, { ...(o.input === undefined ? {} : { input: o.input }), where: 'host' }), { cacheDir });
  if (!doctor.ok) throw new CliError(formatDoctor(doctor), EXIT_ENVIRONMENT);
  const startedAt = new Date();
  const t0 = performance.now();
  let results: ScenarioResult[];
  try {
    results = await runScenariosKind(runnable, {
      cacheDir,
      checkFault: opts.checkFault ?? false,
      keepLab: opts.keepLab ?? false,
      ...(opts.labId !== undefined ? { labId: opts.labId } : {}),
      ...(opts.context !== undefined ? { context: opts.context } : {}),
      ...(opts.iKnowThisIsNotALab ? { iKnowThisIsNotALab: true } : {}),
      onProgress: (line) => ctx.io.err(`${line}\n`),
      onScenario: (r) => {
        if (!names.includes('console')) ctx.io.err(`${r.status === 'passed' ? 'ok' : r.status} ${r.name}${r.mode === 'without-change' ? ' (without its change)' : ''}\n`);
      },
    });
  } catch (e) {
    if (e instanceof KindGuardError || e instanceof KindEnvironmentError) throw new CliError(e.message, EXIT_ENVIRONMENT);
    throw new CliError(`the kind lab could not start or run: ${(e as Error).message}`, EXIT_ENVIRONMENT);
  }
  report({ results, skipped, backend: 'kind', startedAt, t0, checkFault: opts.checkFault ?? false, names, out: opts.out }, ctx);
}

/** The run's report through every reporter asked for; exit 1 when a scenario failed. */
function report(x: { results: ScenarioResult[]; skipped: ScenarioResult[]; backend: 'netns' | 'kind'; startedAt: Date; t0: number; checkFault: boolean; names: string[]; out: string | undefined }, ctx: CliContext): void {
  const all = [...x.results, ...x.skipped];
  // A run without its change must fail: such a run that failed is the good outcome.
  const good = (r: ScenarioResult) => (r.mode === 'without-change' ? r.status === 'failed' : r.status === 'passed');
  const bad = (r: ScenarioResult) => (r.mode === 'without-change' ? r.status === 'passed' : r.status === 'failed');
  const report: RunReport = {
    apiVersion: REPORT_API_VERSION,
    kind: 'RunReport',
    startedAt: x.startedAt.toISOString(),
    durationMs: performance.now() - x.t0,
    backend: x.backend,
    checkFault: x.checkFault,
    scenarios: all,
    summary: {
      scenarios: all.length,
      passed: all.filter(good).length,
      failed: all.filter(bad).length,
      skipped: all.filter((r) => r.status === 'skipped').length,
      probes: all.reduce((n, r) => n + r.probes.length, 0),
    },
  };
  if (x.out) mkdirSync(x.out, { recursive: true });
  for (const n of x.names.filter(isReporterName)) {
    const text = n === 'console' && !x.out ? formatConsole(report, { color: process.stdout.isTTY === true }) : reporters[n](report);
    if (x.out) writeFileSync(join(x.out, REPORT_FILES[n]), text);
    else ctx.io.out(text.endsWith('\n') ? text : `${text}\n`);
  }
  if (x.out) ctx.io.err(`wrote ${x.names.map((n) => join(x.out!, REPORT_FILES[n as keyof typeof REPORT_FILES])).join(', ')}\n`);
  if (report.summary.failed > 0) ctx.exit(EXIT_CHECK_FAILED);
}
