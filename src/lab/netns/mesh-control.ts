// The netns lab's control plane. It does what istiod, the sidecar injector and kube-proxy do
// on a cluster: istio-init's rules per meshed pod (rendered for the lab's Istio version and
// the pod's annotations, loaded with iptables-restore inside the pod), a listener table per
// sidecar (synthesized from the lab's Services and the applied resources, pushed to the
// sidecar model), Service VIPs and names. A scenario's setup steps change that state, and
// `reset()` brings the lab back to its definition.
import { mkdirSync, readFileSync, writeFileSync, chownSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { parseMesh } from '../../mesh/envoy/mesh.ts';
import { synthesizeSidecar } from '../../mesh/envoy/synthesize-sidecar.ts';
import type { SidecarConfig } from './sidecar/sidecar.ts';
import { SIDECAR_PORTS } from './sidecar/sidecar.ts';
import { PROXY_UID, istioInitRules } from '../../mesh/iptables/index.ts';
import type { LabSpec, SetupStep } from '../../scenario/schema.ts';
import { execOk } from '../exec.ts';
import { createLabCa, createPodCert, type PodCert } from './lab-ca.ts';
import { clusterEndpoints, meshForPod, type MeshState } from './mesh-for-pod.ts';
import { hostsFile, planService, serviceDnatRules, type LabPlan, type PlannedHost, type PlannedService } from './plan.ts';
import type { ExecResult } from '../exec.ts';
import { bundledAgents } from './agents/bundle.ts';


export interface PodState {
  annotations: Record<string, string>;
  /** What istio-init installed last (the iptables-restore payload). */
  rules?: string;
  sidecarPid?: number;
  configSha?: string;
}

/** What the control plane needs of the running lab (StartedNetnsLab has it). */
export interface MeshHostLab {
  readonly id: string;
  readonly dir: string;
  readonly plan: LabPlan;
  run(host: string, argv: readonly string[]): Promise<ExecResult>;
  spawnDetached(host: string, what: string, argv: readonly string[], user?: { uid: number; gid: number }): { pid: number; log: string };
  waitListening(host: string, ports: number[]): Promise<void>;
}

/** A setup step as the lab applies it, with files already read. */
export type AppliedStep = SetupStep & { resources?: Array<Record<string, unknown>> };

export class MeshControl {
  private state: MeshState;
  private readonly pods = new Map<string, PodState>();
  private extraServices: PlannedService[] = [];
  private ca: { ca: string; caKey: string } | undefined;
  private readonly certs = new Map<string, PodCert>();
  /** The bundled sidecar: it resolves koffi from its own folder (the checkout may be unreadable to the proxy uid). */
  private sidecarFile = '';
  /** How long istio-init's rules took to load at start (all pods, in parallel). */
  rulesMs = 0;

  constructor(
    private readonly lab: MeshHostLab,
    private readonly spec: LabSpec,
  ) {
    this.state = this.initialState();
    for (const h of this.meshedPods()) this.pods.set(h.name, { annotations: { ...(h.pod?.annotations ?? {}) } });
  }

  private initialState(): MeshState {
    return { mode: this.spec.meshConfig?.outboundTrafficPolicy?.mode ?? 'ALLOW_ANY', resources: [] };
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

  /** First start: CA, certificates, istio-init, sidecars. */
  async start(): Promise<void> {
    const meshed = this.meshedPods();
    if (meshed.length === 0) return;
    const caDir = join(this.lab.dir, 'ca');
    this.ca = await createLabCa(caDir, this.lab.id);
    await Promise.all(
      meshed.map(async (h) => {
        this.certs.set(h.name, await createPodCert(caDir, this.ca!, { name: h.name, namespace: h.namespace }, this.proxyUser));
      }),
    );
    const r0 = performance.now();
    await Promise.all(meshed.map((h) => this.loadRules(h)));
    this.rulesMs = performance.now() - r0;
    const agents = bundledAgents(join(this.lab.dir, '..', 'agents'));
    this.sidecarFile = agents.sidecar;
    for (const h of meshed) {
      const cfgFile = this.writeSidecarConfig(h);
      const { pid } = this.lab.spawnDetached(h.name, 'sidecar', [process.execPath, agents.sidecar, cfgFile], this.proxyUser);
      this.pods.get(h.name)!.sidecarPid = pid;
    }
    await Promise.all(meshed.map((h) => this.lab.waitListening(h.name, Object.values(SIDECAR_PORTS))));
  }

  /** istio-init: the rendered rules, loaded in the pod's namespace (tables replaced whole). */
  private async loadRules(h: PlannedHost): Promise<boolean> {
    const st = this.pods.get(h.name)!;
    const ports = (h.pod?.ports ?? []).map((p) => p.port);
    const { payload } = istioInitRules(this.spec.istio.version, st.annotations, this.proxyUser, ports);
    if (st.rules === payload) return false;
    // Flush what a previous rendering left (nat, and mangle/raw that TPROXY or DNS use),
    // then load as istio-init does, with --noflush.
    const flush = st.rules === undefined ? '' : '*nat\nCOMMIT\n*mangle\nCOMMIT\n*raw\nCOMMIT\n';
    if (flush) await execOk(['ip', 'netns', 'exec', h.ns, 'iptables-restore'], { input: flush, where: h.name });
    await execOk(['ip', 'netns', 'exec', h.ns, 'iptables-restore', '--noflush'], { input: payload, where: `${h.name}: istio-init` });
    st.rules = payload;
    return true;
  }

  private meshedIps(): string[] {
    return this.meshedPods().map((h) => h.ip);
  }

  /** Writes the pod's listener table and the sidecar's config; returns the config file. */
  private writeSidecarConfig(h: PlannedHost): string {
    const dir = join(this.lab.dir, 'pods', h.name);
    mkdirSync(dir, { recursive: true });
    const mesh = parseMesh(meshForPod(this.spec, { ...this.lab.plan, services: this.services() }, h, this.state));
    const dump = `${JSON.stringify(synthesizeSidecar(mesh).configDump)}\n`;
    const dumpFile = join(dir, 'config_dump.json');
    writeFileSync(dumpFile, dump);
    const accessLog = join(dir, 'access.log');
    writeFileSync(accessLog, '', { flag: 'a' });
    chownSync(accessLog, this.proxyUser.uid, this.proxyUser.gid);
    const cert = this.certs.get(h.name)!;
    const cfg: SidecarConfig = {
      pod: h.name,
      namespace: h.namespace,
      podIp: h.ip,
      requireFrom: this.sidecarFile,
      configDumpFile: dumpFile,
      endpoints: clusterEndpoints(this.lab.plan, this.extraServices),
      meshedIps: this.meshedIps(),
      tls: cert,
      accessLog,
    };
    const cfgFile = join(dir, 'sidecar.json');
    writeFileSync(cfgFile, `${JSON.stringify(cfg, null, 2)}\n`);
    this.pods.get(h.name)!.configSha = sha(dump);
    return cfgFile;
  }

  /** The pod's sidecar config_dump as last pushed. */
  configDump(pod: string): unknown {
    return JSON.parse(readFileSync(join(this.lab.dir, 'pods', pod, 'config_dump.json'), 'utf8'));
  }

  accessLogPath(pod: string): string {
    return join(this.lab.dir, 'pods', pod, 'access.log');
  }

  /** Recomputes everything from the current state and pushes what changed; true when a pod's rules were reloaded. */
  async sync(): Promise<boolean> {
    await this.syncServices();
    const meshed = this.meshedPods();
    const reloaded = await Promise.all(meshed.map((h) => this.loadRules(h)));
    const changed: PlannedHost[] = [];
    for (const h of meshed) {
      const before = this.pods.get(h.name)!.configSha;
      this.writeSidecarConfig(h);
      if (this.pods.get(h.name)!.configSha !== before) changed.push(h);
    }
    await Promise.all(changed.map((h) => this.reload(h)));
    return reloaded.some(Boolean);
  }

  /** Tells a sidecar to re-read its config (SIGHUP) and waits until its admin serves it. */
  private async reload(h: PlannedHost): Promise<void> {
    const st = this.pods.get(h.name)!;
    if (st.sidecarPid === undefined) return;
    process.kill(st.sidecarPid, 'SIGHUP');
    const want = st.configSha;
    for (let i = 0; i < 200; i++) {
      const r = await this.lab.run(h.name, ['curl', '-s', '--max-time', '1', `http://127.0.0.1:${SIDECAR_PORTS.admin}/server_info`]);
      if (r.stdout.includes(`"config_sha":"${want}"`)) return;
      await new Promise((res) => setTimeout(res, 10));
    }
    throw new Error(`${h.name}: the sidecar did not take the new listener table (config ${want})`);
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
    const taken = new Set([...this.lab.plan.hosts.map((h) => h.ip), ...this.services().map((s) => s.vip)]);
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

function sha(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}
