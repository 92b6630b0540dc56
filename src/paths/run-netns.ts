// Runs scenarios on the netns backend: the runner (runner.ts) on a netns lab. Scenarios with
// the same lab definition share one lab; each scenario's setup is applied to a reset lab, so
// scenarios never see each other's changes.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { netnsLab, type StartedNetnsLab } from '../lab/netns/netns-lab.ts';
import { readResourceFile, type AppliedStep } from '../lab/netns/mesh-control.ts';
import { APP_USER } from '../lab/netns/workloads.ts';
import type { Probe } from '../scenario/schema.ts';
import type { AccessLogLine } from './observe.ts';
import { runProbes, type LabUser, type LoadedScenario, type ProbeLab, type ProbeTarget } from './runner.ts';
import type { ScenarioResult } from './verdict.ts';

export type { LoadedScenario } from './runner.ts';

export interface RunOptions {
  /** Run without the scenario's fault and fix steps (--check-fault's second run). */
  withoutChange?: boolean;
  /** Called when a scenario finishes, for progress output. */
  onScenario?: (r: ScenarioResult) => void;
  /** Leave the labs running (pathlab run --keep-lab). */
  keepLab?: boolean;
  /** How many labs run at once (the scenarios of one lab always run in order). */
  concurrency?: number;
}

/** The lab's Setup steps of a scenario, files read, in order (without fault/fix when asked). */
function setupSteps(s: LoadedScenario, withoutChange: boolean): AppliedStep[] {
  return (s.scenario.setup ?? [])
    .filter((step) => !withoutChange || step.role === 'context')
    .map((step) => (step.applyFile ? { ...step, resources: readResourceFile(resolve(dirname(s.file), step.applyFile)) } : step));
}

/** A netns lab as the runner sees it: every command runs in the host's own namespace. */
export class NetnsProbeLab implements ProbeLab {
  readonly backend = 'netns';
  readonly accessLogWaitMs = 1000;

  constructor(readonly lab: StartedNetnsLab) {}

  get proxyUser(): LabUser {
    return this.lab.mesh.proxyUser;
  }

  userOf(from: Probe['from']): LabUser {
    if (from.uid !== undefined) return { uid: from.uid, gid: from.uid };
    return from.container === 'istio-proxy' ? this.lab.mesh.proxyUser : APP_USER;
  }

  async pod(name: string) {
    const h = this.lab.host(name);
    return { name: h.name, ip: h.ip, meshed: this.lab.mesh.podState(h.name) !== undefined };
  }

  async resolveHost(host: string, port: number): Promise<ProbeTarget | undefined> {
    const svc = this.lab.mesh.services().find((s) => [s.name, `${s.name}.${s.namespace}`, `${s.name}.${s.namespace}.svc`, `${s.name}.${s.namespace}.svc.cluster.local`].includes(host));
    if (svc) return { ip: svc.vip, port, name: host };
    const h = this.lab.plan.hosts.find((x) => x.name === host);
    if (h) return { ip: h.ip, port, name: host };
    return undefined;
  }

  async peerPod(self: string, target: ProbeTarget) {
    const pod = this.lab.plan.hosts.find((h) => h.kind === 'pod' && h.ip === target.ip);
    let found: { name: string; port: number } | undefined = pod ? { name: pod.name, port: target.port } : undefined;
    if (!found) {
      const svc = this.lab.mesh.services().find((s) => s.vip === target.ip);
      const p = svc?.ports.find((x) => x.port === target.port);
      if (svc && p && svc.endpoints.length === 1) found = { name: svc.endpoints[0]!, port: p.targetPort };
    }
    if (!found || found.name === self || this.lab.mesh.podState(found.name) === undefined) return undefined;
    return found;
  }

  probe(pod: string, argv: readonly string[], opts: { user: LabUser; timeoutMs: number; input?: string }) {
    return this.lab.run(pod, argv, opts);
  }

  netns(pod: string, argv: readonly string[]) {
    return this.lab.run(pod, argv);
  }

  async configDump(pod: string): Promise<unknown> {
    return this.lab.mesh.configDump(pod);
  }

  /** The sidecar model logs its listener itself: `config` is not needed. */
  async accessLogFrom(pod: string): Promise<() => Promise<AccessLogLine[]>> {
    const read = (): string[] => {
      try {
        return readFileSync(this.lab.mesh.accessLogPath(pod), 'utf8').split('\n').filter(Boolean);
      } catch {
        return [];
      }
    };
    const before = read().length;
    return async () => read().slice(before).map((l) => JSON.parse(l) as AccessLogLine);
  }

  async startCapture(pod: string, iface: string, filter: string) {
    const c = await this.lab.startCapture(pod, iface, filter);
    return { stop: async () => (await c.stop()).stdout };
  }

  traceKernel<T>(pod: string, matches: Parameters<ProbeLab['traceKernel']>[1], during: () => Promise<T>) {
    return this.lab.traceKernel(pod, matches, during);
  }

  async controlSyn(pod: string, ip: string, port: number): Promise<void> {
    await this.lab.run(pod, ['nc', '-z', '-w', '1', ip, String(port)], { user: this.lab.mesh.proxyUser, timeoutMs: 3000 });
  }
}

export async function runScenariosNetns(scenarios: LoadedScenario[], opts: RunOptions = {}): Promise<ScenarioResult[]> {
  const results: ScenarioResult[] = [];
  // One lab per distinct lab definition, in catalogue order.
  const groups = new Map<string, LoadedScenario[]>();
  for (const s of scenarios) {
    const key = JSON.stringify(s.scenario.lab);
    groups.set(key, [...(groups.get(key) ?? []), s]);
  }
  const queue = [...groups.values()];
  const worker = async () => {
    for (let group = queue.shift(); group; group = queue.shift()) {
      const lab = await netnsLab(group[0]!.scenario.lab).withLabel(group[0]!.scenario.metadata.name).start();
      const probeLab = new NetnsProbeLab(lab);
      try {
        for (const s of group) {
          const t0 = performance.now();
          await lab.mesh.reset();
          for (const step of setupSteps(s, opts.withoutChange ?? false)) await lab.mesh.apply(step);
          const r = { ...(await runProbes(probeLab, s, opts.withoutChange ? 'without-change' : 'with-setup')), durationMs: performance.now() - t0 };
          results.push(r);
          opts.onScenario?.(r);
        }
      } finally {
        if (!opts.keepLab) await lab.stop();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.concurrency ?? 1, queue.length) }, worker));
  // Report in catalogue order, whatever order the labs finished in.
  const order = new Map(scenarios.map((s, i) => [s.file, i]));
  results.sort((a, b) => (order.get(a.file) ?? 0) - (order.get(b.file) ?? 0));
  return results;
}
