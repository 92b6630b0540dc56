// `pathlab lab up|status|down`: a lab that outlives the command, for workshops and for
// poking at by hand. The netns backend is the default; `--backend kind` runs the kind
// backend's plan.
import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { CliError, EXIT_BAD_INPUT, EXIT_ENVIRONMENT } from '../exit-codes.ts';
import { kindLabDown, kindLabStatus, kindLabUp } from './lab-kind.ts';
import { loadDocumentFile } from '../../scenario/loader.ts';
import { formatProblem } from '../../scenario/problems.ts';
import type { LabSpec } from '../../scenario/schema.ts';
import { ISTIO_VERSIONS } from '../../scenario/schema.ts';
import { netnsUnavailable } from '../../lab/netns/requirements.ts';
import { listLabNamespaces, netnsLab, readLabRecords, removeLab, sweepLabs } from '../../lab/netns/netns-lab.ts';

export const DEFAULT_NETNS_LAB = 'labs/netns/bookinfo.yaml';

interface UpOptions {
  backend: string;
  lab?: string;
  scenario?: string;
  istioVersion?: string;
  dryRun?: boolean;
  labId?: string;
}

/** The lab a `--lab` or `--scenario` file defines (exit 2 with every problem when invalid). */
export function labFromFile(path: string): { spec: LabSpec; name: string } {
  const r = loadDocumentFile(path, path, { allowLab: true });
  if (!r.ok) throw new CliError(r.problems.map(formatProblem).join('\n'), EXIT_BAD_INPUT);
  return 'lab' in r ? { spec: r.lab.lab, name: r.lab.metadata.name } : { spec: r.scenario.lab, name: r.scenario.metadata.name };
}

function withVersion(spec: LabSpec, version: string | undefined): LabSpec {
  if (version === undefined) return spec;
  if (!(ISTIO_VERSIONS as readonly string[]).includes(version)) {
    throw new CliError(`--istio-version ${version}: expected one of ${ISTIO_VERSIONS.join(', ')}`, EXIT_BAD_INPUT);
  }
  return { ...spec, istio: { ...spec.istio, version: version as LabSpec['istio']['version'] } };
}

function requireNetns(): void {
  const why = netnsUnavailable();
  if (why) throw new CliError(why, EXIT_ENVIRONMENT);
}

async function netnsUp(opts: UpOptions, ctx: CliContext): Promise<void> {
  if (opts.lab && opts.scenario) throw new CliError('give --lab FILE or --scenario FILE, not both', EXIT_BAD_INPUT);
  const file = opts.lab ?? opts.scenario ?? DEFAULT_NETNS_LAB;
  const { spec, name } = labFromFile(file);
  const lab = netnsLab(withVersion(spec, opts.istioVersion)).withLabel(name);
  if (opts.labId) lab.withId(opts.labId);
  if (opts.dryRun) {
    const plan = lab.plan();
    ctx.io.out(`# pathlab lab up --backend netns: lab ${plan.id} from ${file}\n`);
    for (const f of plan.files) ctx.io.out(`\n# write ${f.path}\n${f.content}`);
    for (const step of plan.steps) {
      ctx.io.out(`\n# ${step.what}\n${step.argv.join(' ')}\n`);
      if (step.input !== undefined) ctx.io.out(step.input.replace(/^/gm, '  < '));
    }
    ctx.io.out('\n# then: istio-init rules, certificates and the sidecar model for each meshed pod, the workloads\n');
    return;
  }
  requireNetns();
  let id: string | undefined;
  let stopping: Promise<never> | undefined;
  // Ctrl-C while the lab comes up: take down what was made, then leave (130 / 143, as a
  // shell reports a process ended by that signal).
  const onSignal = (sig: NodeJS.Signals) => {
    const cleanup = id ? removeLab(id) : sweepLabs(new Set(readLabRecords().filter((r) => r.ownerPid === process.pid).map((r) => r.id)));
    stopping = cleanup.then(
      () => process.exit(sig === 'SIGINT' ? 130 : 143),
      () => process.exit(sig === 'SIGINT' ? 130 : 143),
    );
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const t0 = performance.now();
    let started;
    try {
      started = await lab.start();
    } catch (e) {
      // The teardown a signal started makes the steps under way fail: let it finish and exit.
      if (stopping) await stopping;
      throw e;
    }
    id = started.id;
    const ms = performance.now() - t0;
    ctx.io.out(`lab ${started.id} (${name}) is up in ${(ms / 1000).toFixed(2)} s, Istio ${spec.istio.version} behaviour\n\n`);
    ctx.io.out('HOST                 KIND       NAMESPACE            IP              SIDECAR\n');
    for (const h of started.plan.hosts) {
      ctx.io.out(`${h.name.padEnd(20)} ${h.kind.padEnd(10)} ${h.ns.padEnd(20)} ${h.ip.padEnd(15)} ${h.meshed ? 'yes' : '-'}\n`);
    }
    for (const s of started.mesh.services()) {
      ctx.io.out(`service ${s.name}.${s.namespace} ${s.vip} ports ${s.ports.map((p) => p.port).join(',')}\n`);
    }
    const first = started.plan.hosts.find((h) => h.kind === 'pod');
    if (first) ctx.io.out(`\nrun a command in a pod:  ip netns exec ${first.ns} curl -s http://productpage:9080/productpage\n`);
    ctx.io.out(`tear it down:            pathlab lab down ${started.id}\n`);
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

export function registerLab(program: Command, ctx: CliContext): void {
  const lab = program.command('lab').description('start, list and remove labs');
  lab
    .command('up')
    .description('start a lab and leave it running')
    .option('--backend <backend>', 'netns (Linux namespaces, the default) or kind (a kind cluster with real Istio)', 'netns')
    .option('--lab <file>', `a Lab file (default: ${DEFAULT_NETNS_LAB})`)
    .option('--scenario <file>', "a scenario file: its lab, without its setup")
    .option('--istio-version <v>', `the Istio behaviour to reproduce: ${ISTIO_VERSIONS.join(', ')}`)
    .option('--lab-id <id>', 'use this lab id (six hex digits for netns)')
    .option('--dry-run', 'print the plan (every command and file, in order) and do nothing')
    .addHelpText('after', `\nExit codes: 0 up, 2 bad input, 3 the machine cannot run it (root, missing tools, no Docker for kind).`)
    .action(async (opts: UpOptions) => {
      if (opts.backend === 'kind') {
        await kindLabUp({ ...(opts.dryRun ? { dryRun: true } : {}), ...(opts.labId ? { labId: opts.labId } : {}), ...(opts.scenario ? { scenario: opts.scenario } : {}) }, ctx);
        return;
      }
      if (opts.backend !== 'netns') throw new CliError(`--backend ${opts.backend}: expected netns or kind`, EXIT_BAD_INPUT);
      await netnsUp(opts, ctx);
    });
  lab
    .command('status')
    .description('list the running labs and what each holds')
    .option('--backend <backend>', 'netns or kind', 'netns')
    .option('--json', 'print JSON')
    .action(async (opts: { backend: string; json?: boolean }) => {
      if (opts.backend === 'kind') return kindLabStatus({}, ctx);
      requireNetns();
      const live = await listLabNamespaces();
      const records = readLabRecords();
      const rows = records.map((r) => ({ ...r, namespacesAlive: live.get(r.id)?.length ?? 0 }));
      const orphans = [...live.keys()].filter((id) => !records.some((r) => r.id === id));
      if (opts.json) {
        ctx.io.out(`${JSON.stringify({ labs: rows, orphans }, null, 2)}\n`);
        return;
      }
      if (rows.length === 0 && orphans.length === 0) ctx.io.out('no labs\n');
      for (const r of rows) {
        ctx.io.out(`lab ${r.id} ${r.label ?? ''} created ${r.createdAt}: ${r.hosts.length} hosts (${r.hosts.filter((h) => h.meshed).length} meshed), ${r.namespacesAlive} namespaces alive\n`);
        for (const h of r.hosts) ctx.io.out(`  ${h.name.padEnd(20)} ${h.ns.padEnd(22)} ${h.ip}\n`);
      }
      for (const id of orphans) ctx.io.out(`lab ${id}: namespaces without a record (a crashed run): pathlab lab down --all\n`);
    });
  lab
    .command('down')
    .description('remove labs: namespaces, links, processes, /etc/netns entries, records')
    .argument('[ids...]', 'lab ids (see pathlab lab status)')
    .option('--all', 'remove every lab, also what a killed run left half-made')
    .option('--backend <backend>', 'netns or kind', 'netns')
    .option('--dry-run', 'kind: print the plan and do nothing')
    .action(async (ids: string[], opts: { all?: boolean; backend: string; dryRun?: boolean }) => {
      if (opts.backend === 'kind') {
        await kindLabDown({ ...(opts.all ? { all: true } : {}), ...(opts.dryRun ? { dryRun: true } : {}), ...(ids[0] ? { labId: ids[0] } : {}) }, ctx);
        return;
      }
      if (!opts.all && ids.length === 0) throw new CliError('name the lab ids to remove, or --all', EXIT_BAD_INPUT);
      requireNetns();
      const removed = opts.all ? await sweepLabs() : ids;
      if (!opts.all) for (const id of ids) await removeLab(id);
      ctx.io.out(removed.length ? `removed ${removed.map((i) => `lab ${i}`).join(', ')}\n` : 'no labs to remove\n');
    });
}
