// `pathlab run`: the main job. Loads scenarios, runs them on the backend named by --backend
// (found in the registry: this command never asks which one it is), reports.
import { parseShard, selectScenarios, selectionWords, shardScenarios } from '../../run/select.ts';
import { PATHLAB_VERSION, packagePath, shownPath } from '../../lab/package-root.ts';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { CliError, EXIT_BAD_INPUT, EXIT_CHECK_FAILED, EXIT_ENVIRONMENT } from '../exit-codes.ts';
import { collectScenarioFiles } from '../../scenario/collect.ts';
import { loadScenarioFile } from '../../scenario/loader.ts';
import type { LoadedScenario } from '../../scenario/loaded.ts';
import { formatProblem } from '../../scenario/problems.ts';
import { ISTIO_VERSIONS, type BackendName, type LabSpec } from '../../scenario/schema.ts';
import { BACKEND_REGISTRY, DEFAULT_BACKEND, backendNamed } from '../../lab/registry.ts';
import { newLabId } from '../../lab/lab-id.ts';
import { BackendUnavailableError, CONTROL_PLANES, skippedResult, type ControlPlaneChoice, type SessionOptions } from '../../run/backend.ts';
import { runScenarios } from '../../run/runner.ts';
import { holdsForProblem } from '../../scenario/istio-range.ts';
import { ISTIO_BUILD_PINS } from '../../istio/istio-build.ts';
import { evidenceFolder } from '../evidence-folder.ts';
import { createProgress } from '../progress.ts';
import { modesOf } from '../../scenario/setup-roles.ts';
import { recordRefusal, recordRun } from '../../run/record.ts';
import { REPORT_API_VERSION, outcomeOf, type RunReport, type ScenarioResult } from '../../paths/verdict.ts';
import { formatConsole, formatSummary, isReporterName, reporters, REPORTER_NAMES, writeReports } from '../../report/index.ts';

interface RunOpts {
  backend: string;
  filter?: string;
  tag: string[];
  probe: string[];
  istioVersion?: string;
  reporter: string[];
  out?: string;
  keepLab?: boolean;
  checkFault?: boolean;
  record?: boolean;
  concurrency?: string;
  dryRun?: boolean;
  labId?: string;
  context?: string;
  iKnowThisIsNotALab?: boolean;
  controlPlane?: string;
  shard?: string;
}


const names = Object.keys(BACKEND_REGISTRY).join(', ');
/** The release the netns lab's current Istio is built from (istiod and istio-iptables), for version ranges. */
const CURRENT_RELEASE = ISTIO_BUILD_PINS.find((p) => p.istio === 'current')?.release ?? '1.30';
const withDryRun = Object.values(BACKEND_REGISTRY).filter((b) => b.options.dryRun).map((b) => b.name).join(', ');
const withExisting = Object.values(BACKEND_REGISTRY).filter((b) => b.options.existingLab).map((b) => b.name).join(', ');

export function registerRun(program: Command, ctx: CliContext): void {
  program
    .command('run')
    .description('run scenarios in a lab and check every probe\'s path hop by hop (the main job)')
    .argument('[paths...]', 'scenario files or folders (default: pathlab\'s own catalogue, its scenarios/ folder, from any folder)')
    .option('--backend <backend>', `where the labs run: ${Object.values(BACKEND_REGISTRY).map((b) => `${b.name} (${b.summary})`).join(' or ')}`, DEFAULT_BACKEND)
    .option('--filter <pattern>', 'only scenarios whose name contains it, or matches it when it is a glob (* ? [...]), e.g. incident-7000 or "incident-7000-fix-*"')
    .option('--tag <tag>', 'only scenarios with this tag; repeatable (every tag given)', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--probe <pattern>', 'only probes whose name contains it (or matches the glob); repeatable; scenarios without one are left out', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--istio-version <v>', `netns: run every scenario's lab with this Istio behaviour (${ISTIO_VERSIONS.join(', ')}); kind: install this pinned Istio release (${Object.values(BACKEND_REGISTRY).flatMap((b) => b.istioReleases?.pinned ?? []).join(', ')}, or its minor)`)
    .option('--reporter <name>', 'console, json, junit, tap or html (one page with each path drawn); repeatable; without --out, one of json, junit, tap and html goes to stdout (console then to stderr)', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--out <dir>', 'write each reporter\'s output to a file in this folder (report.json, junit.xml, report.tap, report.txt, report.html), and each failed probe\'s evidence bundle under evidence/<scenario>/<probe>/: the pods\' pcaps (tcpdump -r), iptables-save, sidecar config_dump (pathlab proxy-config), access log, kernel trace and the probe\'s output')
    .option('--control-plane <which>', 'who configures the sidecars: istiod (Istio\'s own generation over xDS to pilot-agent in every pod; built for current Istio), model (the Envoy model as file-based xDS, every era) or auto: istiod where built, else the model', 'auto')
    .option('--check-fault', 'also run every scenario without its fault/fix steps: each must then fail (the change is what the scenario is about)')
    .option('--record', 'after the run, write each probe\'s observed path (and its outcome and reply, where it expects one that did not hold) into its expect in the scenario file, keeping comments and layout, and print the diff; not with --check-fault, --dry-run or --istio-version')
    .option('--keep-lab', 'leave the labs running after the run (pathlab lab down --all removes them)')
    .option('--concurrency <n>', 'labs run at once (scenarios of one lab run in order)', '1')
    .option('--shard <i/n>', 'run only shard i of n (for a CI matrix): each lab definition goes whole to one shard, the same in every run; 1/n … n/n together run every scenario once')
    .option('--dry-run', `${withDryRun}: print every command, manifest and API call of the run, in order, and run nothing`)
    .option('--lab-id <id>', `${withExisting}: run on this running lab (pathlab lab up --backend kind) instead of a new one`)
    .option('--context <name>', `${withExisting}: run on this kubeconfig context; one that is not a pathlab lab also needs --i-know-this-is-not-a-lab`)
    .option('--i-know-this-is-not-a-lab', `${withExisting}: let the run change the cluster of --context although it is not a pathlab lab`)
    .addHelpText(
      'after',
      `
Exit codes: 0 every scenario passed, 1 a scenario failed, 2 bad input, 3 the lab could not start.
Examples:
  pathlab run                                   the whole catalogue on the netns backend
  pathlab run scenarios/incident-7000 --reporter console --reporter junit --out out/
  pathlab run --reporter html --out out/        out/report.html: every path drawn; a failed probe's bundle under out/evidence/
  pathlab run --filter 'incident-7000-*' --check-fault
  pathlab run --filter incident-7000 --tag fix  scenarios whose name contains incident-7000 and that have the tag fix
  pathlab run --probe redis                     only the probes whose name contains redis
  pathlab run --shard 2/4 --reporter junit --out out/   the second quarter of the catalogue (a CI matrix job)
  pathlab run --record scenarios/lesson.yaml    run it, then write what was observed into its expect (a diff per file)
  pathlab run --backend kind --dry-run          the kind run's plan: every command, manifest and API call
  pathlab run --backend kind --lab-id a1b2c3    the scenarios that name kind, on a running kind lab`,
    )
    .action(async (paths: string[], opts: RunOpts) => {
      const reporterNames = opts.reporter.length ? opts.reporter : ['console'];
      for (const n of reporterNames) if (!isReporterName(n)) throw new CliError(`--reporter ${n}: expected one of ${REPORTER_NAMES.join(', ')}`, EXIT_BAD_INPUT);
      // stdout carries one report a program reads: two would interleave (a JSON report then unparseable).
      const onStdout = [...new Set(reporterNames.filter((n) => n !== 'console'))];
      if (opts.out === undefined && onStdout.length > 1) throw new CliError(`--reporter ${onStdout.join(', ')}: only one of them can go to stdout; give --out DIR to write each to its file`, EXIT_BAD_INPUT);
      const backend = backendNamed(opts.backend);
      if (!backend) throw new CliError(`--backend ${opts.backend}: expected one of ${names}`, EXIT_BAD_INPUT);
      // --istio-version: on a backend that installs real Istio, the pinned release to install (the
      // scenarios' labs keep their era); elsewhere the Istio behaviour every scenario's lab reproduces.
      const releases = backend.istioReleases;
      const release = opts.istioVersion !== undefined && releases ? releases.resolve(opts.istioVersion) : undefined;
      if (opts.istioVersion !== undefined && releases && release === undefined) {
        throw new CliError(`--istio-version ${opts.istioVersion}: the ${backend.name} backend installs a pinned Istio release: ${releases.pinned.join(', ')} (a release, its minor, or current = ${releases.default})`, EXIT_BAD_INPUT);
      }
      if (opts.istioVersion !== undefined && !releases && !(ISTIO_VERSIONS as readonly string[]).includes(opts.istioVersion)) {
        throw new CliError(`--istio-version ${opts.istioVersion}: expected one of ${ISTIO_VERSIONS.join(', ')}`, EXIT_BAD_INPUT);
      }
      const concurrency = Number(opts.concurrency);
      if (!Number.isInteger(concurrency) || concurrency < 1) throw new CliError(`--concurrency ${opts.concurrency}: expected a whole number from 1`, EXIT_BAD_INPUT);
      const notTaken = [
        !backend.options.dryRun && opts.dryRun && '--dry-run',
        ...(backend.options.existingLab ? [] : [opts.labId !== undefined && '--lab-id', opts.context !== undefined && '--context', opts.iKnowThisIsNotALab && '--i-know-this-is-not-a-lab']),
      ].filter(Boolean);
      if (notTaken.length) throw new CliError(`${notTaken.join(', ')}: not an option of the ${backend.name} backend`, EXIT_BAD_INPUT);
      const refused = opts.record ? recordRefusal({ ...opts, paths }) : undefined;
      if (refused) throw new CliError(refused, EXIT_BAD_INPUT);
      if (opts.iKnowThisIsNotALab && opts.context === undefined) throw new CliError('--i-know-this-is-not-a-lab needs the context it applies to: --context <name>', EXIT_BAD_INPUT);
      if (!(CONTROL_PLANES as readonly string[]).includes(opts.controlPlane ?? 'auto')) {
        throw new CliError(`--control-plane ${opts.controlPlane}: expected one of ${CONTROL_PLANES.join(', ')}`, EXIT_BAD_INPUT);
      }
      const shard = opts.shard === undefined ? undefined : parseShard(opts.shard);
      if (opts.shard !== undefined && !shard) throw new CliError(`--shard ${opts.shard}: expected i/n with i from 1 to n, e.g. 2/4`, EXIT_BAD_INPUT);
      const optionProblem = backend.optionProblem({ ...opts, controlPlane: (opts.controlPlane ?? 'auto') as ControlPlaneChoice, ...(release !== undefined ? { istioRelease: release } : {}) });
      if (optionProblem) throw new CliError(optionProblem, EXIT_BAD_INPUT);

      const { files, missing } = collectScenarioFiles(paths.length ? paths : [shownPath(packagePath('scenarios'))]);
      const problems = missing.map((m) => `${m.path}:1:1: (file): ${m.reason}`);
      const loaded: LoadedScenario[] = [];
      for (const f of files) {
        const r = loadScenarioFile(f);
        if (!r.ok) problems.push(...r.problems.map(formatProblem));
        else loaded.push({ file: f, scenario: r.scenario, expected: r.expected, files: r.files });
      }
      if (problems.length) throw new CliError(problems.join('\n'), EXIT_BAD_INPUT);
      const version = releases ? undefined : (opts.istioVersion as LabSpec['istio']['version'] | undefined);
      const recorded = release ?? version;
      const selection = { ...(opts.filter !== undefined ? { filter: opts.filter } : {}), tags: opts.tag, probes: opts.probe };
      const picked = selectScenarios(loaded, selection).map((s) => (version ? { ...s, scenario: { ...s.scenario, lab: { ...s.scenario.lab, istio: { ...s.scenario.lab.istio, version } } } } : s));
      if (picked.length === 0) throw new CliError(`no scenario to run${selectionWords(selection) ? ` matches ${selectionWords(selection)}` : ''}`, EXIT_BAD_INPUT);
      const selected = shard ? shardScenarios(picked, shard) : picked;
      // The Istio each scenario runs as: the release a backend installs, else its lab's era (current: the built release).
      const releaseOf = (s: LoadedScenario): string => (releases ? (release ?? releases.default) : s.scenario.lab.istio.version === 'current' ? CURRENT_RELEASE : s.scenario.lab.istio.version);
      const outOfRange = (s: LoadedScenario) => holdsForProblem(s.scenario.lab.istio.holdsFor, releaseOf(s), releases ? releaseOf(s) : s.scenario.lab.istio.version === 'current' ? `current (${CURRENT_RELEASE})` : s.scenario.lab.istio.version);
      const notHere = (s: LoadedScenario) => backend.unsupported(s.scenario) ?? outOfRange(s);
      // A backend that moves the scenarios (the cluster backend's namespaces of the run's own) runs, plans and checks them as moved.
      const runId = opts.dryRun ? 'dryrun' : newLabId();
      const fit = selected.filter((s) => notHere(s) === undefined);
      const runnable = backend.adapt ? backend.adapt(fit, runId) : fit;
      // Nothing to run because of the shard (a CI matrix job) or of the scenarios' Istio ranges is no
      // error: the report lists them skipped, with why.
      if (runnable.length === 0 && (shard || selected.every((s) => backend.unsupported(s.scenario) === undefined))) {
        const where = shard ? `--shard ${shard.index}/${shard.count}: ${selected.length} of the ${picked.length} selected scenarios are in this shard` : `${selected.length} scenario(s) selected`;
        ctx.io.err(`${where}, none to run on ${backend.name} here; nothing to run\n`);
        const skipped = selected.map((s) => skippedResult(s, backend.name, notHere(s)!));
        report({ results: [], skipped, backend: backend.name, ...(recorded ? { istioVersion: recorded } : {}), startedAt: new Date(), t0: performance.now(), checkFault: opts.checkFault ?? false, names: reporterNames, out: opts.out }, ctx);
        return;
      }
      if (runnable.length === 0) {
        const reasons = [...new Set(selected.map(notHere))].join('; ');
        throw new CliError(`no selected scenario can run on ${backend.name} (${selected.length} skipped: ${reasons})`, EXIT_BAD_INPUT);
      }
      // Progress on stderr as the run goes: a live status line on a terminal, plain lines in a pipe or CI.
      const progress = createProgress({ write: (text) => ctx.io.err(text), tty: process.stderr.isTTY === true && process.env.CI === undefined, columns: process.stderr.columns }, runnable.flatMap((s) => modesOf(s.scenario, opts.checkFault ?? false)).length);
      const session: Omit<SessionOptions, 'scenarios'> = {
        checkFault: opts.checkFault ?? false,
        keepLab: opts.keepLab ?? false,
        onProgress: (line) => progress.note(line),
        ...(opts.labId !== undefined ? { labId: opts.labId } : {}),
        ...(opts.context !== undefined ? { context: opts.context } : {}),
        ...(opts.iKnowThisIsNotALab ? { iKnowThisIsNotALab: true } : {}),
        controlPlane: (opts.controlPlane ?? 'auto') as ControlPlaneChoice,
        ...(release !== undefined ? { istioRelease: release } : {}),
        runId,
      };
      if (opts.dryRun && backend.dryRun) {
        ctx.io.out(backend.dryRun({ ...session, scenarios: runnable }));
        // Each scenario the plan leaves out, with why: a user sees what the real run would skip.
        for (const sc of selected) {
          const why = notHere(sc);
          if (why) ctx.io.err(`skipped ${sc.scenario.metadata.name}: ${why}\n`);
        }
        ctx.io.err(`plan of ${runnable.length} scenario(s) on ${backend.name}; ${selected.length - runnable.length} skipped (not for ${backend.name})\n`);
        return;
      }
      const why = await backend.unavailable(session);
      if (why) throw new CliError(why, EXIT_ENVIRONMENT);

      const startedAt = new Date();
      const t0 = performance.now();
      // Ctrl-C or SIGTERM (a CI job's timeout): no new probe starts, the labs are torn down as
      // the runner's scopes end, the report says what finished, and the exit is 130 / 143.
      const stop = new AbortController();
      const onSignal = (sig: NodeJS.Signals) => {
        const code = sig === 'SIGINT' ? 130 : 143;
        if (stop.signal.aborted) {
          // A second signal: no waiting for the probe under way; remove this run's labs now and leave.
          progress.note(`${sig} again: removing this run's labs now`);
          void (backend.abandon?.() ?? Promise.resolve()).finally(() => process.exit(code));
          return;
        }
        progress.note(`${sig}: stopping after the probe under way, then tearing the labs down (again to stop at once)`);
        stop.abort(sig);
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      let run;
      try {
        run = await runScenarios(backend, selected.filter((s) => outOfRange(s) === undefined), {
          ...session,
          concurrency,
          signal: stop.signal,
          ...(opts.out !== undefined ? { evidence: evidenceFolder(opts.out) } : {}),
          onScenarioStart: (name) => progress.scenarioStarted(name),
          onScenario: (r) => progress.scenarioDone(r),
          probeEvents: { started: (scenario, probe) => progress.probeStarted(scenario, probe), done: (p) => progress.probeDone(p) },
        });
      } catch (e) {
        if (e instanceof BackendUnavailableError) throw new CliError(e.message, EXIT_ENVIRONMENT);
        throw new CliError(`the lab could not start or run: ${(e as Error).message}`, EXIT_ENVIRONMENT);
      } finally {
        progress.end();
        process.removeListener('SIGINT', onSignal);
        process.removeListener('SIGTERM', onSignal);
      }
      // Scenarios that do not hold for this run's Istio are reported skipped, with why.
      const rangeSkipped = selected.flatMap((s) => {
        const why = backend.unsupported(s.scenario) === undefined ? outOfRange(s) : undefined;
        return why ? [skippedResult(s, backend.name, why)] : [];
      });
      report({ ...run, skipped: [...run.skipped, ...rangeSkipped], backend: backend.name, ...(recorded ? { istioVersion: recorded } : {}), startedAt, t0, checkFault: opts.checkFault ?? false, names: reporterNames, out: opts.out }, ctx);
      // The diffs go to stdout unless a reporter's data does (json, junit, tap without --out).
      if (opts.record) (opts.out === undefined && reporterNames.some((n) => n !== 'console') ? ctx.io.err : ctx.io.out)(recordRun([...run.results, ...run.skipped], { read: (f) => readFileSync(f, 'utf8'), write: (f, text) => writeFileSync(f, text) }, { interrupted: stop.signal.aborted }));
      if (stop.signal.aborted) ctx.exit(stop.signal.reason === 'SIGINT' ? 130 : 143);
    });
}

/** The run's report through every reporter asked for; exit 1 when a scenario failed. */
function report(x: { results: ScenarioResult[]; skipped: ScenarioResult[]; backend: BackendName; istioVersion?: string; startedAt: Date; t0: number; checkFault: boolean; names: string[]; out: string | undefined }, ctx: CliContext): void {
  const all = [...x.results, ...x.skipped];
  const report: RunReport = {
    apiVersion: REPORT_API_VERSION,
    kind: 'RunReport',
    startedAt: x.startedAt.toISOString(),
    durationMs: performance.now() - x.t0,
    backend: x.backend,
    pathlab: PATHLAB_VERSION,
    ...(x.istioVersion !== undefined ? { istioVersion: x.istioVersion } : {}),
    checkFault: x.checkFault,
    scenarios: all,
    summary: {
      scenarios: all.length,
      passed: all.filter((r) => outcomeOf(r) === 'good').length,
      failed: all.filter((r) => outcomeOf(r) === 'bad').length,
      skipped: all.filter((r) => r.status === 'skipped').length,
      probes: all.reduce((n, r) => n + r.probes.length, 0),
      explain: {
        agree: all.flatMap((r) => r.probes).filter((p) => p.explainAgrees === true).length,
        compared: all.flatMap((r) => r.probes).filter((p) => p.explainAgrees !== undefined).length,
      },
    },
  };
  const names = x.names.filter(isReporterName);
  if (x.out) {
    mkdirSync(x.out, { recursive: true });
    const files = writeReports(report, { reporters: names, outDir: x.out });
    for (const [file, text] of files) writeFileSync(file, text);
    // The files hold the reports; the terminal still gets what failed and the summary.
    ctx.io.out(formatSummary(report, { color: process.stdout.isTTY === true }));
    ctx.io.err(`wrote ${[...files.keys()].join(', ')}\n`);
  } else {
    // A report a program reads has stdout to itself: the console report then goes to stderr.
    const machine = names.some((n) => n !== 'console');
    for (const n of names) {
      const terminal = machine ? process.stderr : process.stdout;
      // On a terminal the hop tables fit its width (stacked when wider); in a file or a pipe they are tables.
      const text = n === 'console' ? formatConsole(report, { color: terminal.isTTY === true, ...(terminal.isTTY === true && terminal.columns ? { columns: terminal.columns } : {}) }) : reporters[n](report);
      (n === 'console' && machine ? ctx.io.err : ctx.io.out)(text.endsWith('\n') ? text : `${text}\n`);
    }
  }
  if (report.summary.failed > 0) ctx.exit(EXIT_CHECK_FAILED);
}
