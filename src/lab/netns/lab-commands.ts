// `pathlab lab up|status|down` on the netns backend: a lab that outlives the command, for
// workshops and for poking at by hand; its status from the records and the namespaces; its
// removal, also of what a killed run left half-made.
import { BackendInputError, BackendUnavailableError, type LabCommands, type LabIo, type LabUpOptions } from '../../run/backend.ts';
import { loadDocumentFile } from '../../scenario/loader.ts';
import { packagePath, shownPath } from '../package-root.ts';
import { formatData } from '../../report/data-format.ts';
import { formatProblem } from '../../scenario/problems.ts';
import { ISTIO_VERSIONS, type LabSpec } from '../../scenario/schema.ts';
import { checkNetnsLabId, findLabIds, listLabNamespaces, netnsLab, readLabRecords, removeLab, sweepLabs } from './netns-lab.ts';
import { netnsUnavailable } from './requirements.ts';
import { SidecarNotReady } from './mesh-control.ts';

/** The default lab, in the package (found from any folder: package-root.ts). */
export const DEFAULT_NETNS_LAB = 'labs/netns/bookinfo.yaml';

/** The lab a `--lab` or `--scenario` file defines (every problem of the file when invalid). */
export function labFromFile(path: string): { spec: LabSpec; name: string } {
  const r = loadDocumentFile(path, path, { allowLab: true });
  if (!r.ok) throw new BackendInputError(r.problems.map(formatProblem).join('\n'));
  return 'lab' in r ? { spec: r.lab.lab, name: r.lab.metadata.name } : { spec: r.scenario.lab, name: r.scenario.metadata.name };
}

function withVersion(spec: LabSpec, version: string | undefined): LabSpec {
  if (version === undefined) return spec;
  if (!(ISTIO_VERSIONS as readonly string[]).includes(version)) throw new BackendInputError(`--istio-version ${version}: expected one of ${ISTIO_VERSIONS.join(', ')}`);
  return { ...spec, istio: { ...spec.istio, version: version as LabSpec['istio']['version'] } };
}

function requireNetns(): void {
  const why = netnsUnavailable();
  if (why) throw new BackendUnavailableError(why);
}

async function up(opts: LabUpOptions, io: LabIo): Promise<void> {
  if (opts.lab && opts.scenario) throw new BackendInputError('give --lab FILE or --scenario FILE, not both');
  const file = opts.lab ?? opts.scenario ?? shownPath(packagePath(DEFAULT_NETNS_LAB));
  const { spec, name } = labFromFile(file);
  const lab = netnsLab(withVersion(spec, opts.istioVersion)).withLabel(name);
  if (opts.labId) {
    try {
      lab.withId(opts.labId);
    } catch (e) {
      throw new BackendInputError(`--lab-id: ${(e as Error).message}`);
    }
  }
  if (opts.dryRun) {
    const plan = lab.plan();
    io.out(`# pathlab lab up --backend netns: lab ${plan.id} from ${file}\n`);
    for (const f of plan.files) io.out(`\n# write ${f.path}\n${f.content}`);
    for (const step of plan.steps) {
      io.out(`\n# ${step.what}\n${step.argv.join(' ')}\n`);
      if (step.input !== undefined) io.out(step.input.replace(/^/gm, '  < '));
    }
    io.out('\n# then: istio-init rules, certificates and Envoy (upstream, configured by the model) for each meshed pod, the workloads\n');
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
      // The lab is torn down already (start() does it): a sidecar that cannot run is this machine's problem, exit 3.
      if (e instanceof SidecarNotReady) throw new BackendUnavailableError(`the lab is torn down: a sidecar is not ready: ${e.message}`);
      throw e;
    }
    id = started.id;
    // The lab outlives this command: nobody's, until a command attaches to it.
    started.keep();
    const ms = performance.now() - t0;
    io.out(`lab ${started.id} (${name}) is up in ${(ms / 1000).toFixed(2)} s, Istio ${spec.istio.version} behaviour\n\n`);
    io.out('HOST                 KIND       NAMESPACE            IP              SIDECAR\n');
    for (const h of started.plan.hosts) {
      io.out(`${h.name.padEnd(20)} ${h.kind.padEnd(10)} ${h.ns.padEnd(20)} ${h.ip.padEnd(15)} ${h.meshed ? 'yes' : '-'}\n`);
    }
    for (const s of started.mesh.services()) {
      io.out(`service ${s.name}.${s.namespace} ${s.headless ? 'headless' : s.vip} ports ${s.ports.map((p) => p.port).join(',')}\n`);
    }
    // A command that works in this lab: a request to its first Service, or (a lab without one, such as a capture's) the pod's rules.
    const first = started.plan.hosts.find((h) => h.kind === 'pod');
    const svc = started.mesh.services().find((x) => x.ports.length > 0);
    const example = svc ? `curl -s http://${svc.name}.${svc.namespace}:${svc.ports[0]!.port}/` : 'iptables-save -t nat';
    if (first) io.out(`\nrun a command in a pod:  ip netns exec ${first.ns} ${example}\n`);
    io.out(`tear it down:            pathlab lab down ${started.id}\n`);
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

async function status(opts: { output?: 'text' | 'json' | 'yaml' }, io: LabIo): Promise<void> {
  requireNetns();
  const live = await listLabNamespaces();
  const records = readLabRecords();
  const rows = records.map((r) => ({ ...r, namespacesAlive: live.get(r.id)?.length ?? 0 }));
  const orphans = [...live.keys()].filter((id) => !records.some((r) => r.id === id));
  if (opts.output === 'json' || opts.output === 'yaml') {
    io.out(formatData(opts.output, { labs: rows, orphans }));
    return;
  }
  if (rows.length === 0 && orphans.length === 0) io.out('no labs\n');
  for (const r of rows) {
    io.out(`lab ${r.id} ${r.label ?? ''} created ${r.createdAt}: ${r.hosts.length} hosts (${r.hosts.filter((h) => h.meshed).length} meshed), ${r.namespacesAlive} namespaces alive\n`);
    for (const h of r.hosts) io.out(`  ${h.name.padEnd(20)} ${h.ns.padEnd(22)} ${h.ip}\n`);
  }
  for (const id of orphans) io.out(`lab ${id}: namespaces without a record (a crashed run): pathlab lab down --all\n`);
}

async function down(opts: { ids: string[]; all?: boolean; dryRun?: boolean }, io: LabIo): Promise<void> {
  if (opts.dryRun) throw new BackendInputError('--dry-run: not an option of the netns backend\'s lab down');
  if (!opts.all && opts.ids.length === 0) throw new BackendInputError('name the lab ids to remove, or --all');
  if (opts.all && opts.ids.length) throw new BackendInputError('name lab ids or --all, not both');
  for (const id of opts.ids) checkNetnsLabId(id);
  requireNetns();
  if (!opts.all) {
    // Only labs that exist: a lab is what its record, namespaces or files name.
    const known = new Set(await findLabIds());
    const unknown = opts.ids.filter((id) => !known.has(id));
    if (unknown.length) throw new BackendInputError(`no lab ${unknown.join(', ')} (pathlab lab status lists the labs)`);
  }
  const removed = opts.all ? await sweepLabs() : opts.ids;
  if (!opts.all) for (const id of opts.ids) await removeLab(id);
  io.out(removed.length ? `removed ${removed.map((i) => `lab ${i}`).join(', ')}\n` : 'no labs to remove\n');
}

export const netnsLabCommands: LabCommands = { up, status, down };
