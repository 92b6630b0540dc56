// The kind lab's lifecycle, in the style of the netns lab (and testcontainers): a definition
// (`kindLab()`, `withX()` builders) is not a running lab; `start()` runs the plan and returns
// a StartedKindLab that is AsyncDisposable, so `await using lab = await kindLab().start()`
// deletes the cluster on every exit path. A failed start removes what it created.
import { packagePath } from '../package-root.ts';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Scenario } from '../../scenario/schema.ts';
import { BackendUnavailableError } from '../../run/backend.ts';
import { ExecError, exec, type ExecResult } from '../exec.ts';
import { decideBeforeContact, decideContext, type GuardDecision, type GuardOverride } from './guard.ts';
import { ensureIstioctl, defaultCacheDir } from './istioctl-cache.ts';
import { LAB_LABEL, POD_LABEL, checkLabId, contextName, labIdOf } from './labels.ts';
import { newLabId } from '../lab-id.ts';
import { LAB_DIR } from './manifests.ts';
import { PodExecClient } from './exec-client.ts';
import { planKindDown, planKindLab, type KindPlan, type KindStep } from './plan.ts';
import { kindPins, type KindPins } from './versions.ts';

export type Runner = (argv: readonly string[], opts?: { input?: string }) => Promise<ExecResult>;
export type StepEvent = { index: number; total: number; step: KindStep; outcome: 'start' | 'done' | 'skipped' | 'failed'; result?: ExecResult };

/** `lab up` cannot run: a pin is missing or the environment lacks something (exit 3). */
export class KindEnvironmentError extends BackendUnavailableError {
  override name = 'KindEnvironmentError';
}

/** Reads labs/kind-istio/*.yaml (the plan's input). */
export function readLabFiles(dir = packagePath(LAB_DIR)): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of readdirSync(dir).sort()) if (f.endsWith('.yaml')) out[f] = readFileSync(join(dir, f), 'utf8');
  return out;
}

export async function runKindSteps(steps: readonly KindStep[], run: Runner, onStep: (e: StepEvent) => void = () => {}): Promise<void> {
  const total = steps.length;
  for (const [index, step] of steps.entries()) {
    onStep({ index, total, step, outcome: 'start' });
    if (step.kind === 'fetch') {
      await ensureIstioctl(step);
    } else if (step.kind === 'write') {
      mkdirSync(dirname(step.path), { recursive: true });
      writeFileSync(step.path, step.content);
    } else if (step.kind === 'exec' || step.kind === 'api') {
      throw new Error(`kind lab step ${index + 1}/${total}: ${step.what}: exec and API steps are the runner's, not runKindSteps'`);
    } else {
      if (step.onlyIf) {
        const pre = await run(step.onlyIf);
        if (pre.exitCode !== 0) {
          onStep({ index, total, step, outcome: 'skipped', result: pre });
          continue;
        }
      }
      if (step.unless) {
        const pre = await run(step.unless);
        if (pre.exitCode === 0) {
          onStep({ index, total, step, outcome: 'skipped', result: pre });
          continue;
        }
      }
      const r = await run(step.argv, step.input === undefined ? {} : { input: step.input });
      if (r.exitCode !== 0) {
        onStep({ index, total, step, outcome: 'failed', result: r });
        if (step.optional) continue;
        throw new ExecError(r, `kind lab step ${index + 1}/${total}: ${step.what}`);
      }
      onStep({ index, total, step, outcome: 'done', result: r });
      continue;
    }
    onStep({ index, total, step, outcome: 'done' });
  }
}

/** Runs a program on this machine (kind, kubectl, docker). */
export const hostRunner: Runner = (argv, opts = {}) => exec(argv, { ...(opts.input === undefined ? {} : { input: opts.input }), where: 'host' });

/** The pathlab labs (by kind cluster name) on this Docker engine. */
export async function listKindLabs(run: Runner = hostRunner): Promise<string[]> {
  const r = await run(['kind', 'get', 'clusters']);
  if (r.exitCode !== 0) throw new KindEnvironmentError(`kind get clusters failed: ${(r.spawnError ?? r.stderr).trim()}`);
  return r.stdout
    .split('\n')
    .map((l) => labIdOf(l.trim()))
    .filter((id): id is string => id !== undefined)
    .sort();
}

export class KindLab {
  private id = newLabId();
  private scenario: Scenario | undefined;
  private cacheDir = defaultCacheDir();
  private labFiles: Record<string, string> | undefined;
  private pins: KindPins = kindPins();
  private run: Runner = hostRunner;
  private onStep: (e: StepEvent) => void = () => {};

  withId(id: string): this {
    this.id = checkLabId(id);
    return this;
  }
  withScenario(s: Scenario): this {
    this.scenario = s;
    return this;
  }
  withCacheDir(dir: string): this {
    this.cacheDir = dir;
    return this;
  }
  withLabFiles(files: Record<string, string>): this {
    this.labFiles = files;
    return this;
  }
  withPins(pins: KindPins): this {
    this.pins = pins;
    return this;
  }
  withRunner(run: Runner): this {
    this.run = run;
    return this;
  }
  withProgress(onStep: (e: StepEvent) => void): this {
    this.onStep = onStep;
    return this;
  }

  plan(): KindPlan {
    return planKindLab({
      id: this.id,
      pins: this.pins,
      labFiles: this.labFiles ?? readLabFiles(),
      cacheDir: this.cacheDir,
      ...(this.scenario ? { scenario: this.scenario } : {}),
    });
  }

  async start(): Promise<StartedKindLab> {
    const plan = this.plan();
    if (plan.missingPins.length) throw new KindEnvironmentError(`cannot start a kind lab, these are UNPINNED:\n  ${plan.missingPins.join('\n  ')}`);
    if ((await listKindLabs(this.run)).includes(plan.id)) throw new KindEnvironmentError(`a kind cluster ${plan.cluster} already exists: use another --lab-id or 'pathlab lab down --backend kind --lab-id ${plan.id}'`);
    const started = new StartedKindLab(plan, this.cacheDir, this.run);
    // Nothing is sent to the lab's context until it is known to be the cluster kind just made:
    // a stale context of that name pointing elsewhere would otherwise receive every step after it.
    const created = plan.steps.findIndex((s) => s.kind === 'run' && s.argv[0] === 'kind' && s.argv[1] === 'create');
    try {
      await runKindSteps(plan.steps.slice(0, created + 1), this.run, this.onStep);
      if (created >= 0) {
        const { KubeConfig } = await import('@kubernetes/client-node');
        const kc = new KubeConfig();
        kc.loadFromDefault();
        const ctx = kc.getContextObject(started.context);
        const server = ctx ? kc.getCluster(ctx.cluster)?.server : undefined;
        const d = server === undefined ? { allow: false as const, reason: `kind wrote no context ${started.context}`, fix: 'check the kind create output' } : decideBeforeContact({ context: started.context, server });
        if (d && !d.allow) throw new KindEnvironmentError(`${d.reason}\n${d.fix}`);
      }
      await runKindSteps(plan.steps.slice(created + 1), this.run, this.onStep);
    } catch (e) {
      await started.stop().catch(() => {});
      throw e;
    }
    return started;
  }
}

export function kindLab(): KindLab {
  return new KindLab();
}

/** The guard's view of a context: its server and kube-system's labels, read through client-node. */
export async function checkContext(kc: KubeConfig, context: string, override: GuardOverride = {}): Promise<GuardDecision> {
  const cluster = kc.getContextObject(context) ? kc.getCluster(kc.getContextObject(context)!.cluster) : null;
  if (!cluster) return { allow: false, reason: `kubeconfig has no context "${context}"`, fix: 'kubectl config get-contexts lists them' };
  // Decide what can be decided without the cluster first: a context that is refused for its
  // name or its server never receives a request (nor its credentials).
  const early = decideBeforeContact({ context, server: cluster.server }, override);
  if (early) return early;
  let kubeSystem: { labels: Record<string, string>; annotations: Record<string, string> } | undefined;
  try {
    const { CoreV1Api, KubeConfig: Kc } = await import('@kubernetes/client-node');
    // A copy pointed at `context`: the caller's KubeConfig (and current context) stay as they were.
    const scoped = new Kc();
    scoped.loadFromString(kc.exportConfig());
    scoped.setCurrentContext(context);
    const ns = await scoped.makeApiClient(CoreV1Api).readNamespace({ name: 'kube-system' });
    kubeSystem = { labels: ns.metadata?.labels ?? {}, annotations: ns.metadata?.annotations ?? {} };
  } catch {
    kubeSystem = undefined;
  }
  return decideContext({ context, server: cluster.server, ...(kubeSystem ? { kubeSystem } : {}) }, override);
}

export class StartedKindLab implements AsyncDisposable {
  private stopped = false;
  private kc: KubeConfig | undefined;

  constructor(
    readonly plan: KindPlan,
    private readonly cacheDir: string,
    private readonly run: Runner,
  ) {}

  get id(): string {
    return this.plan.id;
  }
  get context(): string {
    return contextName(this.plan.id);
  }

  /** The lab's kubeconfig context, checked by the guard before first use. */
  async kubeConfig(): Promise<KubeConfig> {
    if (this.kc) return this.kc;
    const { KubeConfig } = await import('@kubernetes/client-node');
    const kc = new KubeConfig();
    kc.loadFromDefault();
    const d = await checkContext(kc, this.context);
    if (!d.allow) throw new KindEnvironmentError(`${d.reason}\n${d.fix}`);
    kc.setCurrentContext(this.context);
    this.kc = kc;
    return kc;
  }

  /** The running pod of a scenario pod (label pathlab.dev/pod) or of a lab Deployment (label app). */
  async podName(namespace: string, name: string): Promise<string> {
    const { CoreV1Api } = await import('@kubernetes/client-node');
    const api = (await this.kubeConfig()).makeApiClient(CoreV1Api);
    for (const selector of [`${POD_LABEL}=${name}`, `app=${name}`]) {
      const list = await api.listNamespacedPod({ namespace, labelSelector: `${selector},${LAB_LABEL}=${this.id}` });
      const running = list.items.find((p) => p.status?.phase === 'Running' && !p.metadata?.deletionTimestamp);
      if (running?.metadata?.name) return running.metadata.name;
    }
    throw new Error(`lab ${this.id} has no running pod "${name}" in namespace ${namespace}`);
  }

  /** Runs argv in a container of a lab pod (exec API); a non-zero exit is data. */
  async exec(namespace: string, pod: string, container: string, argv: readonly string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<ExecResult> {
    const name = await this.podName(namespace, pod);
    return new PodExecClient(await this.kubeConfig()).exec({ namespace, pod: name, container }, argv, opts);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await runKindSteps(planKindDown([this.id], this.cacheDir).steps, this.run);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
