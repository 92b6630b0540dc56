// The kind backend behind the runner's seam. The session is one cluster for the whole run: a
// new lab, or a running one named by --lab-id, or a context the user vouches for (--context X
// --i-know-this-is-not-a-lab). A lab group's pods, Services and external hosts (containers
// beside the cluster, externals.ts) are started when its lab starts and removed when it stops; a scenario's
// setup is applied from the run's plan (run-plan.ts, what --dry-run prints) and waited for
// until the probing sidecars serve the listeners the scenario expects, in a new LDS version.
import type { KubeConfig } from '@kubernetes/client-node';
import { type Backend, type BackendSession, type SessionOptions, type StartedBackend } from '../../run/backend.ts';
import type { LoadedScenario } from '../../scenario/loaded.ts';
import type { RunMode } from '../../scenario/setup-roles.ts';
import type { LabSpec, Scenario, SetupStep } from '../../scenario/schema.ts';
import { KindEnvironmentError, checkContext, hostRunner, kindLab, runKindSteps, type StartedKindLab } from './kind-lab.ts';
import { DRY_RUN_ID, LAB_LABEL, contextName, checkLabId } from './labels.ts';
import { listenerSnapshot, waitForListeners, type ListenerSnapshot } from '../../mesh/envoy/listener-wait.ts';
import { KindProbeLab } from './probe-lab.ts';
import { externalProblem, externalsProject, startExternals, type StartedExternals } from './externals.ts';
import { IMAGES, ISTIO_VERSION, KIND_ISTIO_RELEASES, imageRef, kindIstioRelease, kindPins } from './versions.ts';
import { defaultCacheDir } from './istioctl-cache.ts';
import { formatDoctor, runDoctor } from './doctor.ts';
import { kindLabCommands } from './lab-commands.ts';
import { KIND_ISTIO_VERSION, expectedListeners, externalsComposePath, groupTitle, kindRunDryRun, planKindRun, runLabel, type KindRunSection } from './run-plan.ts';


/** Runs a section's commands (its exec and API steps are the runner's own calls); returns how many ran. */
export async function runSection(sections: readonly KindRunSection[], title: string, progress: (line: string) => void): Promise<number> {
  const runnable = sections.find((x) => x.title === title)?.steps.filter((st) => st.kind !== 'exec' && st.kind !== 'api') ?? [];
  await runKindSteps(runnable, hostRunner, (e) => e.outcome === 'start' && progress(`[${title}] ${e.step.what}`));
  return runnable.length;
}

/** A lab group on the run's cluster: the probe-side operations of KindProbeLab, and setup from the plan. */
export class StartedKindGroup extends KindProbeLab implements StartedBackend {
  private before = new Map<string, ListenerSnapshot>();
  private current: { s: LoadedScenario; mode: RunMode } | undefined;

  constructor(
    lab: ConstructorParameters<typeof KindProbeLab>[0],
    private readonly sections: readonly KindRunSection[],
    private readonly title: string,
    private readonly progress: (line: string) => void,
    /** The group's external hosts: their compose file (written by the group's section) and the hosts. */
    private readonly externalHosts?: { file: string; project: string; hosts: NonNullable<LabSpec['externalHosts']> },
  ) {
    super(lab);
  }
  private externals: StartedExternals | undefined;

  /** The steps come from the run's plan, made with the same choice of steps per mode (stepsFor). */
  async applySetup(s: LoadedScenario, _steps: readonly SetupStep[], mode: RunMode): Promise<{ notes: string[] }> {
    this.current = { s, mode };
    const wants = expectedListeners(s);
    this.before = new Map();
    for (const pod of wants.keys()) this.before.set(pod, listenerSnapshot(await this.configDump(pod)));
    const changes = await runSection(this.sections, `${runLabel(s.scenario, mode)}: setup`, this.progress);
    this.forget();
    const notes: string[] = [];
    for (const [pod, w] of wants) {
      // After a change, the sidecar must have taken a new configuration, not only the names.
      const was = this.before.get(pod)?.versionInfo;
      const r = await waitForListeners(() => this.configDump(pod), { ...w, ...(changes > 0 && was !== undefined ? { changedFrom: was } : {}) }, { timeoutMs: mode === 'without-change' ? 10_000 : 60_000 });
      notes.push(`${pod}'s sidecar: LDS version ${r.snapshot.versionInfo ?? '(none)'} after ${r.polls} poll(s)${r.ok ? '' : `; still missing ${r.missing.join(', ')}`}`);
    }
    return { notes };
  }

  async revertSetup(): Promise<void> {
    if (!this.current) return;
    const { s, mode } = this.current;
    this.current = undefined;
    // The listeners the setup added must be gone again before the next scenario.
    const added = new Map<string, string[]>();
    for (const [pod, b] of this.before) added.set(pod, listenerSnapshot(await this.configDump(pod)).names.filter((n) => !b.names.includes(n)));
    await runSection(this.sections, `${runLabel(s.scenario, mode)}: revert`, this.progress);
    this.forget();
    for (const [pod, b] of this.before) {
      const w = await waitForListeners(() => this.configDump(pod), { expected: b.names, absent: added.get(pod) ?? [] }, { timeoutMs: 60_000 });
      if (!w.ok) this.progress(`warning: ${pod}'s sidecar is not back as before the setup: ${w.missing.join(', ')}`);
    }
  }

  /** The group's objects deleted (and the lab's mesh config restored when the group changed it). */
  async stop(): Promise<void> {
    try {
      await runSection(this.sections, `${this.title}: remove`, this.progress);
    } finally {
      const ext = this.externals;
      this.externals = undefined;
      await ext?.stop();
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /** The group's objects applied, with rollout waits; what a failed start applied is removed. */
  async start(): Promise<this> {
    try {
      await runSection(this.sections, this.title, this.progress);
      if (this.externalHosts?.hosts.length) this.externals = await startExternals(this.externalHosts);
    } catch (e) {
      await this.stop().catch((why: Error) => this.progress(`warning: removing the lab group after a failed start: ${why.message}`));
      throw e;
    }
    return this;
  }
}

/** The Istio release a cluster runs: the tag of istiod's image (istio-system/istiod), or undefined when it cannot be read. */
export async function installedIstio(kc: KubeConfig): Promise<string | undefined> {
  const { AppsV1Api } = await import('@kubernetes/client-node');
  try {
    const d = await kc.makeApiClient(AppsV1Api).readNamespacedDeployment({ name: 'istiod', namespace: 'istio-system' });
    const image = d.spec?.template.spec?.containers.find((c) => c.name === 'discovery')?.image ?? d.spec?.template.spec?.containers[0]?.image;
    return imageTag(image);
  } catch {
    return undefined;
  }
}

/** `docker.io/istio/pilot:1.29.2@sha256:…` → `1.29.2`. */
export function imageTag(image: string | undefined): string | undefined {
  const m = /:([\w][\w.-]{0,127})(@sha256:[0-9a-f]{64})?$/.exec(image ?? '');
  return m?.[1];
}

async function openKind(opts: SessionOptions): Promise<BackendSession> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const cacheDir = defaultCacheDir();
  const progress = opts.onProgress ?? (() => {});
  let release = opts.istioRelease ?? ISTIO_VERSION;
  let started: StartedKindLab | undefined;
  let ctx: string;
  let id: string;
  const kc: KubeConfig = new KubeConfig();
  if (opts.context !== undefined || opts.labId !== undefined) {
    ctx = opts.context ?? contextName(opts.labId!);
    kc.loadFromDefault();
    const d = await checkContext(kc, ctx, { ...(opts.context !== undefined ? { context: opts.context } : {}), iKnowThisIsNotALab: opts.iKnowThisIsNotALab ?? false });
    if (!d.allow) throw new KindEnvironmentError(`${d.reason}\n${d.fix}`);
    id = d.labId ?? opts.labId ?? DRY_RUN_ID;
    kc.setCurrentContext(ctx);
    // A running lab or cluster has the Istio it was given: the report names that one.
    release = (await installedIstio(kc)) ?? `unknown (istiod's image not read; pathlab's default is ${ISTIO_VERSION})`;
  } else {
    started = await kindLab()
      .withCacheDir(cacheDir)
      .withPins(kindPins(undefined, release))
      .withProgress((e) => e.outcome === 'start' && progress(`[lab up ${e.index + 1}/${e.total}] ${e.step.what}`))
      .start();
    ctx = started.context;
    id = started.id;
  }
  const close = async () => {
    if (started && !opts.keepLab) await started.stop();
  };
  let sections: KindRunSection[];
  try {
    // Everything after the cluster exists: a failure here removes the cluster this run made.
    if (started) {
      kc.loadFromString((await started.kubeConfig()).exportConfig());
      kc.setCurrentContext(ctx);
    }
    sections = planKindRun({ scenarios: [...opts.scenarios], id, pins: kindPins(undefined, release), cacheDir, existing: { context: ctx }, ...(opts.checkFault ? { checkFault: true } : {}) });
  } catch (e) {
    await close().catch((why: Error) => progress(`warning: cleaning up after a failed start: ${why.message}`));
    throw e;
  }
  return {
    async start(group) {
      const namespaces = new Map(group[0]!.scenario.lab.pods.map((p) => [p.name, p.namespace ?? 'default']));
      const title = groupTitle(group);
      const hosts = group[0]!.scenario.lab.externalHosts ?? [];
      const lab = { kc, namespaces, captureImage: imageRef(IMAGES.toolbox!), ...(id !== DRY_RUN_ID ? { labSelector: `${LAB_LABEL}=${id}` } : {}), labId: id, istioVersion: release, externalAddresses: hosts.map((h) => h.address) };
      const externals = hosts.length ? { file: externalsComposePath(cacheDir, id, group), project: externalsProject(id), hosts } : undefined;
      return new StartedKindGroup(lab, sections, title, progress, externals).start();
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

export const kindBackend: Backend = {
  name: 'kind',
  summary: 'a kind cluster with real Istio and real Envoy (needs Docker, kind, kubectl)',
  options: { dryRun: true, existingLab: true },
  maxConcurrentLabs: 1,
  istioReleases: { pinned: Object.keys(KIND_ISTIO_RELEASES), default: ISTIO_VERSION, resolve: kindIstioRelease },
  unsupported(s: Scenario): string | undefined {
    const era = s.lab.istio.version !== KIND_ISTIO_VERSION ? `the kind lab installs current Istio (${Object.keys(KIND_ISTIO_RELEASES).join(' or ')}); this scenario's lab is Istio ${s.lab.istio.version}` : undefined;
    if (!s.metadata.backends.includes('kind')) return s.metadata.notOn?.kind ?? era ?? `the scenario names the backends ${s.metadata.backends.join(', ')}`;
    if (era) return era;
    if (s.probes.some((p) => p.from.uid !== undefined)) return 'the kind backend runs a probe as its container\'s user; from.uid cannot be honoured';
    for (const h of s.lab.externalHosts ?? []) {
      const why = externalProblem(h);
      if (why) return why;
    }
    return undefined;
  },
  optionProblem(opts) {
    if (opts.controlPlane === 'model') return '--control-plane model: the kind backend runs Istio\'s own istiod; the model is a netns lab\'s';
    // A context that is not a kind cluster has no node container to `docker exec` into: that is the cluster backend's.
    if (opts.context !== undefined && !opts.context.startsWith('kind-')) return `--context ${opts.context}: not a kind cluster (kind names its contexts kind-<cluster>); for any other cluster use --backend cluster --context ${opts.context}, which runs in namespaces of its own`;
    if (opts.istioRelease !== undefined && (opts.labId !== undefined || opts.context !== undefined)) return '--istio-version: a running lab or cluster has the Istio it was given; give --istio-version to lab up (or to a run that makes its own lab)';
    if (opts.labId === undefined) return undefined;
    try {
      checkLabId(opts.labId);
      return undefined;
    } catch (e) {
      return `--lab-id: ${(e as Error).message}`;
    }
  },
  async unavailable() {
    const doctor = await kindBackend.doctor();
    return doctor.ok ? undefined : doctor.text;
  },
  dryRun: (opts) =>
    kindRunDryRun([...opts.scenarios], {
      cacheDir: defaultCacheDir(),
      ...(opts.labId !== undefined ? { labId: opts.labId } : {}),
      ...(opts.context !== undefined ? { context: opts.context } : {}),
      ...(opts.checkFault ? { checkFault: true } : {}),
      ...(opts.keepLab ? { keepLab: true } : {}),
      ...(opts.istioRelease !== undefined ? { istioRelease: opts.istioRelease } : {}),
    }),
  open: openKind,
  labs: kindLabCommands(),
  async doctor() {
    const report = await runDoctor(hostRunner, { cacheDir: defaultCacheDir() });
    return { ok: report.ok, text: formatDoctor(report) };
  },
};
