// The cluster backend: the kind backend's run on any Kubernetes cluster with Istio, named by a
// kubeconfig context (a staging cluster before and after a mesh upgrade). It needs kubectl and
// API access, no Docker and no kind. Nothing of the cluster's own is changed: the scenarios are
// moved into namespaces of the run's own (`pathlab-<run id>-<name>`, relocate.ts), labelled with
// the run id, made first and deleted last, also on Ctrl-C; a scenario that would touch the mesh
// config, Istio's root namespace or hosts beside a kind lab is left out with why. Evidence as on
// kind: commands in the pods through the exec API, tcpdump in an ephemeral container, and the
// node-side commands (pid, iptables-save, the kernel trace) in a privileged node debug pod
// (node-debug.ts); a cluster that refuses either makes the probe fail saying so, never pass.
// The non-lab guard stays: without --i-know-this-is-not-a-lab for the named context, nothing
// is applied, and --dry-run says the real run would be refused.
import type { KubeConfig } from '@kubernetes/client-node';
import { BackendInputError, type Backend, type BackendSession, type SessionOptions } from '../../run/backend.ts';
import type { LoadedScenario } from '../../scenario/loaded.ts';
import type { Scenario } from '../../scenario/schema.ts';
import { loadedScenario } from '../../scenario/loaded.ts';
import { KindEnvironmentError, checkContext, hostRunner } from '../kind/kind-lab.ts';
import { LAB_LABEL, labIdOf } from '../kind/labels.ts';
import { StartedKindGroup, installedIstio, kindBackend, runSection } from '../kind/backend.ts';
import { formatKindStep, labStateDir, type KindStep } from '../kind/plan.ts';
import { renderManifest } from '../kind/manifests.ts';
import { defaultCacheDir } from '../kind/istioctl-cache.ts';
import { IMAGES, imageRef, kindPins } from '../kind/versions.ts';
import { groupTitle, planKindRun, type KindRunSection } from '../kind/run-plan.ts';
import { homedir } from 'node:os';
import { NODE_DEBUG_CONTAINER, NodeDebug, nodeDebugArgv, nodeDebugPod } from './node-debug.ts';
import { relocate, relocationProblem, runNamespace, scenarioNamespaces } from './relocate.ts';
import { formatClusterDoctor, runClusterDoctor } from './doctor.ts';

/** The namespace of the run's node debug pods. */
const NODES = 'nodes';
/** Pod Security: istio-init needs NET_ADMIN and NET_RAW, the node debug pod is privileged. */
const PSA_PRIVILEGED = { 'pod-security.kubernetes.io/enforce': 'privileged' };
const kubectl = (ctx: string, ...args: string[]) => ['kubectl', '--context', ctx, ...args];
const removeTitle = (id: string) => `remove the run's namespaces (run ${id})`;
const namespacesTitle = (id: string) => `the run's namespaces (run ${id})`;

/** Why the run would be refused by the guard, decided without the cluster (a lab-named context is checked at open). */
function guardProblem(opts: Pick<SessionOptions, 'context' | 'iKnowThisIsNotALab'>): string | undefined {
  if (opts.iKnowThisIsNotALab || labIdOf(opts.context ?? '') !== undefined) return undefined;
  return `context "${opts.context}" is not a pathlab lab: nothing is applied without --context ${opts.context} --i-know-this-is-not-a-lab (the run makes and deletes only namespaces of its own, pathlab-<run id>-*)`;
}

/** The whole run on a cluster as sections of steps: the run's namespaces, the kind run plan on them, node commands through node debug pods, the namespaces removed. */
export function planClusterRun(scenarios: readonly LoadedScenario[], o: { id: string; context: string; cacheDir: string; checkFault?: boolean }): KindRunSection[] {
  const ctx = o.context;
  const nodes = runNamespace(o.id, NODES);
  const namespaces = [...new Set([...scenarios.flatMap(scenarioNamespaces), nodes])].sort();
  const objects = namespaces.map((name) => ({
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name, labels: { [LAB_LABEL]: o.id, ...(name === nodes ? {} : { 'istio-injection': 'enabled' }), ...PSA_PRIVILEGED } },
  }));
  const viaNodeDebug = (st: KindStep): KindStep =>
    st.kind === 'run' && st.argv[0] === 'docker' && st.argv[1] === 'exec'
      ? { kind: 'exec', what: `${st.what} (on the node, in its debug pod)`, target: `${nodes}/<node debug pod on ${st.argv[2]}>/${NODE_DEBUG_CONTAINER}`, argv: nodeDebugArgv(st.argv.slice(3)) }
      : st;
  const run = planKindRun({ scenarios: [...scenarios], id: o.id, pins: kindPins('linux-amd64'), cacheDir: o.cacheDir, existing: { context: ctx }, ...(o.checkFault ? { checkFault: true } : {}) });
  return [
    {
      title: namespacesTitle(o.id),
      steps: [
        // A field manager of its own: the lab groups' applies of the same namespaces (manager pathlab) leave these labels alone.
        { kind: 'run', what: 'make the run\'s namespaces (Pod Security privileged: istio-init needs NET_ADMIN and NET_RAW)', argv: kubectl(ctx, 'apply', '--server-side', '--field-manager=pathlab-run', '-f', '-'), input: renderManifest(objects) },
        { kind: 'api', what: 'on a node\'s first node command: its node debug pod, waited for until it runs (up to 60 s)', call: `POST /api/v1/namespaces/${nodes}/pods ${JSON.stringify(nodeDebugPod('<node>', nodes, imageRef(IMAGES.toolbox), o.id))}` },
      ],
    },
    ...run.map((sec) => ({ ...sec, steps: sec.steps.map(viaNodeDebug) })),
    {
      title: removeTitle(o.id),
      steps: [
        { kind: 'run', what: 'delete the run\'s namespaces and everything in them', argv: kubectl(ctx, 'delete', 'namespace', ...namespaces, '--ignore-not-found', '--wait=true', '--timeout=300s') },
        { kind: 'run', what: 'remove the run\'s files on this machine (the echo app it put in ConfigMaps)', argv: ['rm', '-rf', '--', labStateDir(o.cacheDir, o.id)] },
      ],
    },
  ];
}

/** This process's open cluster runs: a second Ctrl-C removes their namespaces at once. */
const open = new Set<() => Promise<void>>();

async function openCluster(opts: SessionOptions): Promise<BackendSession> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const progress = opts.onProgress ?? (() => {});
  const ctx = opts.context!;
  const id = opts.runId!;
  const kc: KubeConfig = new KubeConfig();
  kc.loadFromDefault();
  const d = await checkContext(kc, ctx, { context: ctx, iKnowThisIsNotALab: opts.iKnowThisIsNotALab ?? false });
  if (!d.allow) throw new KindEnvironmentError(`${d.reason}\n${d.fix}`);
  kc.setCurrentContext(ctx);
  const refused = opts.scenarios.flatMap((s) => {
    const why = relocationProblem(s, id);
    return why ? [`${s.scenario.metadata.name}: ${why}`] : [];
  });
  if (refused.length) throw new BackendInputError(`the cluster backend cannot run:\n  ${refused.join('\n  ')}`);
  const release = (await installedIstio(kc)) ?? 'unknown (istiod\'s image not read)';
  const cacheDir = defaultCacheDir();
  const sections = planClusterRun(opts.scenarios, { id, context: ctx, cacheDir, checkFault: opts.checkFault });
  const nodeDebug = new NodeDebug(kc, runNamespace(id, NODES), imageRef(IMAGES.toolbox), id);
  let removed = false;
  const close = async () => {
    if (removed) return;
    removed = true;
    open.delete(close);
    await runSection(sections, removeTitle(id), progress);
  };
  open.add(close);
  try {
    await runSection(sections, namespacesTitle(id), progress);
  } catch (e) {
    await close().catch((why: Error) => progress(`warning: removing the run's namespaces after a failed start: ${why.message}`));
    throw e;
  }
  return {
    async start(group) {
      const namespaces = new Map(group[0]!.scenario.lab.pods.map((p) => [p.name, p.namespace ?? 'default']));
      const lab = { kc, namespaces, captureImage: imageRef(IMAGES.toolbox), labSelector: `${LAB_LABEL}=${id}`, labId: id, istioVersion: release, backend: 'cluster' as const, host: nodeDebug.runner };
      return new StartedKindGroup(lab, sections, groupTitle(group), progress).start();
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

export const clusterBackend: Backend = {
  name: 'cluster',
  summary: 'any Kubernetes cluster with Istio, by --context: the run\'s own namespaces only (needs kubectl and API access; no Docker, no kind)',
  options: { dryRun: true, existingLab: true },
  maxConcurrentLabs: 1,
  unsupported(s: Scenario): string | undefined {
    // What runs on a kind lab runs here, unless moving it into the run's own namespaces would change the cluster's own
    // (asked first: a kind lab's own reasons, such as its hosts beside the cluster, do not apply here). Six characters: a run id (lab-id.ts).
    return relocationProblem(loadedScenario('', s), '000000') ?? kindBackend.unsupported(s);
  },
  optionProblem(opts) {
    if (opts.context === undefined) return '--backend cluster runs on the cluster a kubeconfig context names: give --context <name> (kubectl config get-contexts lists them)';
    if (opts.labId !== undefined) return '--lab-id: the cluster backend makes namespaces of its own run, named by a new run id; it has no lab to name';
    if (opts.istioRelease !== undefined) return '--istio-version: a cluster has the Istio it was given (the report names it, read from istiod\'s image)';
    if (opts.controlPlane === 'model') return '--control-plane model: the cluster runs its own istiod';
    return undefined;
  },
  async unavailable(opts) {
    const kubectlHere = await hostRunner(['kubectl', 'version', '--client', '--output=json']);
    if (kubectlHere.exitCode !== 0) return `the cluster backend needs kubectl on this machine: ${(kubectlHere.spawnError ?? kubectlHere.stderr).trim() || `exit ${kubectlHere.exitCode}`}\ninstall it (https://kubernetes.io/docs/tasks/tools/); pathlab doctor --context ${opts.context ?? '<name>'} checks the rest`;
    return undefined;
  },
  adapt: (scenarios, runId) => scenarios.map((s) => relocate(s, runId)),
  dryRun(opts) {
    const id = opts.runId ?? 'dryrun';
    const refusal = guardProblem(opts);
    const sections = planClusterRun(opts.scenarios, { id, context: opts.context!, cacheDir: defaultCacheDir(), checkFault: opts.checkFault });
    const text = sections.map((sec) => [`== ${sec.title}`, ...sec.steps.flatMap((st, i) => formatKindStep(st, i + 1, { home: homedir() }))].join('\n')).join('\n\n');
    return `${refusal ? `# the real run would be refused: ${refusal}\n\n` : ''}${text}\n`;
  },
  open: openCluster,
  labs: {
    async up() {
      throw new BackendInputError('the cluster backend makes no lab: it runs on the cluster --context names, in namespaces of each run\'s own (pathlab run --backend cluster --context <name>)');
    },
    async status(_opts, io) {
      io.err('the cluster backend keeps no labs: each run removes its namespaces\n');
    },
    async down() {
      throw new BackendInputError('the cluster backend keeps no labs: each run removes its namespaces');
    },
  },
  async abandon() {
    await Promise.all([...open].map((close) => close().catch(() => undefined)));
  },
  async doctor(opts = {}) {
    if (opts.context === undefined) return { ok: true, text: 'give --context <name> to check a cluster: pathlab doctor --backend cluster --context <name>\n' };
    const report = await runClusterDoctor(opts.context);
    return { ok: report.ok, text: formatClusterDoctor(report) };
  },
};
