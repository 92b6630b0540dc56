// A kind cluster's probe side, as the runner sees it (run/backend.ts StartedBackend): pods found by their
// scenario name (label pathlab.dev/pod), commands run through the exec API, the pod's kernel
// reached from its kind node by the pid of one of its containers, packets captured by an
// ephemeral container, the sidecar read through pilot-agent and its log. Every command comes
// from evidence.ts, the module --dry-run prints from.
import type { CoreV1Api, KubeConfig, V1Pod } from '@kubernetes/client-node';
import { exec, type ExecResult } from '../exec.ts';
import type { EnvoyConfig } from '../../mesh/envoy/envoy-config.ts';
import type { BackendName } from '../../scenario/schema.ts';
import type { AccessLogLine } from '../../paths/observe.ts';
import { pcapArgv, pcapLoss, tcpdumpArgv, SYN_FILTER } from '../../probes/tcpdump.ts';
import { accessLogReader, type AccessLogReader, type LabUser, type ProbeTarget, type ProducedBy, type StartedBackend, type TraceMatch, type Watch, type WatchSpec } from '../../run/backend.ts';
import { ISTIO_VERSION } from './versions.ts';
import { accessLogLineOf, capturePortOf, parseAccessLogLine } from '../../paths/access-log.ts';
import {
  CAPTURE_CONTAINER,
  PROXY_CONTAINER,
  PROXY_USER,
  backgroundDropArgv,
  backgroundFileArgv,
  backgroundFilePath,
  backgroundReadyArgv,
  backgroundStartArgv,
  backgroundStopArgv,
  containerIdOf,
  controlSynArgv,
  controlSynCommand,
  envoyAdminArgv,
  inPodNetnsArgv,
  kernelTraceArgvs,
  nodeContainerPidArgv,
  type IptablesFlavour,
} from './evidence.ts';
import { POD_LABEL } from './labels.ts';
import { writeFileSync } from 'node:fs';
import { clusterNetworksOf, targetProblem, type ClusterNetworks } from './cluster-networks.ts';
import { PodExecClient } from './exec-client.ts';
import { CaptureContainerRefused, ensureCaptureContainer } from './capture-container.ts';
import { APP_CONTAINER, TOOLS_CONTAINER } from './manifests.ts';
import { setTimeout as sleep } from 'node:timers/promises';


type HostRunner = (argv: readonly string[], opts?: { input?: string; timeoutMs?: number }) => Promise<ExecResult>;

export interface KindProbeLabOptions {
  kc: KubeConfig;
  /** The namespace of each scenario pod, by its name. */
  namespaces: ReadonlyMap<string, string>;
  /** The image of the capture container (the pinned toolbox image). */
  captureImage: string;
  /** Restrict pod look-ups to this lab (label pathlab.dev/lab), when the cluster is a pathlab lab. */
  labSelector?: string;
  /** The lab's id and the Istio release it runs (the report records them). */
  labId?: string;
  istioVersion?: string;
  /** The backend the report names (kind when unset). */
  backend?: BackendName;
  /** The addresses of the lab group's external hosts: a probe may go there too. */
  externalAddresses?: readonly string[];
  host?: HostRunner;
}

interface PodFacts {
  pod: V1Pod;
  name: string;
  namespace: string;
  ip: string;
  node: string;
  pid: number;
  /** Why the pod's node cannot be entered (a cluster that refused the node debug pod): its netns commands then run in the capture container, and no kernel trace is read. */
  noNode?: string;
  meshed: boolean;
  /** The container probes run in: the tools container beside a workload whose image has no curl or nc, else the app's. */
  probing: string;
}

let keys = 0;
const newKey = (what: string) => `${what}-${process.pid}-${++keys}`;

type KindProbeSide = Omit<StartedBackend, 'applySetup' | 'revertSetup' | 'stop' | typeof Symbol.asyncDispose>;

export class KindProbeLab implements KindProbeSide {
  /** kind, or cluster (a cluster that is not a lab, src/lab/cluster), whose node commands go through node debug pods. */
  get backend(): BackendName {
    return this.o.backend ?? 'kind';
  }
  /** tcp_proxy logs when the connection closes; kubelet's log API follows a moment later. */
  readonly accessLogWaitMs = 5000;
  /** Everything on a kind cluster is Istio's own, of the pinned release it installed. */
  get producedBy(): ProducedBy {
    const v = this.o.istioVersion ?? ISTIO_VERSION;
    return {
      controlPlane: `istiod ${v}`,
      istioInit: `istio-init of Istio ${v}`,
      proxy: `istio-proxy ${v} (Istio's Envoy)`,
      istioVersion: v,
      envoyVersion: `istio-proxy ${v}`,
      labId: this.o.labId ?? 'unknown',
    };
  }
  readonly proxyUser: LabUser = PROXY_USER;
  private readonly host: HostRunner;
  private readonly client: PodExecClient;
  private facts = new Map<string, PodFacts>();
  private appUsers = new Map<string, LabUser>();
  private flavours = new Map<string, IptablesFlavour>();
  /** Pods (by scenario name) whose capture container is known to run. */
  private capturing = new Set<string>();
  private core: CoreV1Api | undefined;

  constructor(private readonly o: KindProbeLabOptions) {
    this.host = o.host ?? ((argv, opts = {}) => exec(argv, { ...opts, where: 'host' }));
    this.client = new PodExecClient(o.kc);
  }

  /** Pods change after a setup step (a rollout makes new ones): look them up again. */
  forget(): void {
    this.facts.clear();
    this.appUsers.clear();
    this.flavours.clear();
    this.capturing.clear();
  }

  private async api(): Promise<CoreV1Api> {
    if (!this.core) {
      const { CoreV1Api } = await import('@kubernetes/client-node');
      this.core = this.o.kc.makeApiClient(CoreV1Api);
    }
    return this.core;
  }

  private namespaceOf(name: string): string {
    return this.o.namespaces.get(name) ?? 'default';
  }

  private async facts_(name: string): Promise<PodFacts> {
    const known = this.facts.get(name);
    if (known) return known;
    const namespace = this.namespaceOf(name);
    const api = await this.api();
    const selector = [`${POD_LABEL}=${name}`, ...(this.o.labSelector ? [this.o.labSelector] : [])].join(',');
    const list = await api.listNamespacedPod({ namespace, labelSelector: selector });
    const pod = list.items.find((p) => p.status?.phase === 'Running' && !p.metadata?.deletionTimestamp);
    if (!pod?.metadata?.name || !pod.status?.podIP || !pod.spec?.nodeName) throw new Error(`no running pod "${name}" in namespace ${namespace} (selector ${selector})`);
    const statuses = [...(pod.status.containerStatuses ?? []), ...(pod.status.initContainerStatuses ?? [])];
    const running = statuses.find((c) => c.containerID && c.state?.running);
    if (!running?.containerID) throw new Error(`${namespace}/${pod.metadata.name}: no running container to enter its network namespace by`);
    const node = pod.spec.nodeName;
    const r = await this.host(nodeContainerPidArgv(node, containerIdOf(running.containerID)));
    const pid = Number(r.stdout.trim());
    // Exit 126, "no node access": the cluster refused the node debug pod (src/lab/cluster/node-debug.ts).
    const noNode = r.exitCode === 126 && r.stderr.startsWith('no node access: ') ? r.stderr.slice('no node access: '.length).trim() : undefined;
    if (!noNode && (r.exitCode !== 0 || !Number.isInteger(pid) || pid <= 0)) throw new Error(`the pid of ${namespace}/${pod.metadata.name} on node ${node}: ${(r.spawnError ?? r.stderr).trim() || r.stdout.trim()}`);
    const meshed = [...(pod.spec.containers ?? []), ...(pod.spec.initContainers ?? [])].some((c) => c.name === PROXY_CONTAINER);
    const probing = pod.spec.containers.some((c) => c.name === TOOLS_CONTAINER) ? TOOLS_CONTAINER : APP_CONTAINER;
    const f: PodFacts = { pod, name: pod.metadata.name, namespace, ip: pod.status.podIP, node, pid: noNode ? 0 : pid, ...(noNode ? { noNode } : {}), meshed, probing };
    this.facts.set(name, f);
    return f;
  }

  /** The probing container's user, as `pod()` read it (root when it could not). */
  appUser(pod: string): LabUser {
    return this.appUsers.get(pod) ?? { uid: 0, gid: 0 };
  }

  async pod(name: string) {
    const f = await this.facts_(name);
    if (!this.appUsers.has(name)) {
      // The uid probes run as: the prediction needs it (ISTIO_OUTPUT matches uid 1337).
      const r = await this.client.exec({ namespace: f.namespace, pod: f.name, container: f.probing }, ['sh', '-c', 'echo "$(id -u) $(id -g)"']);
      const m = /^(\d+) (\d+)/.exec(r.stdout.trim());
      if (m) this.appUsers.set(name, { uid: Number(m[1]), gid: Number(m[2]) });
    }
    return { name, ip: f.ip, meshed: f.meshed };
  }

  async resolveHost(host: string, port: number): Promise<ProbeTarget | undefined> {
    // A Service by its cluster names only (name, name.ns, name.ns.svc, name.ns.svc.cluster.local):
    // productpage.default.evil.example is not productpage.
    const m = /^([a-z0-9-]+)(?:\.([a-z0-9-]+)(?:\.svc(?:\.cluster\.local)?)?)?$/.exec(host);
    if (!m) return undefined;
    const [, svcName, svcNs] = m;
    const api = await this.api();
    const services = await api.listServiceForAllNamespaces({ fieldSelector: `metadata.name=${svcName}` });
    const svc = services.items.find((s) => (svcNs === undefined ? true : s.metadata?.namespace === svcNs) && s.spec?.clusterIP && s.spec.clusterIP !== 'None');
    if (svc?.spec?.clusterIP) return { ip: svc.spec.clusterIP, port, name: host };
    if (this.o.namespaces.has(host)) return { ip: (await this.facts_(host)).ip, port, name: host };
    return undefined;
  }

  async peerPod(self: string, target: ProbeTarget) {
    for (const name of this.o.namespaces.keys()) {
      if (name === self) continue;
      const f = await this.facts_(name).catch(() => undefined);
      if (f?.ip === target.ip) return f.meshed ? { name, port: target.port } : undefined;
    }
    // A Service VIP with one ready endpoint that is a scenario pod.
    const api = await this.api();
    const services = await api.listServiceForAllNamespaces({});
    const svc = services.items.find((s) => s.spec?.clusterIP === target.ip);
    const port = svc?.spec?.ports?.find((p) => p.port === target.port);
    if (!svc?.metadata?.name || !port) return undefined;
    const ep = await api.readNamespacedEndpoints({ name: svc.metadata.name, namespace: svc.metadata.namespace ?? 'default' }).catch(() => undefined);
    const addrs = (ep?.subsets ?? []).flatMap((s) => (s.addresses ?? []).map((a) => ({ ip: a.ip, port: s.ports?.find((p) => p.name === port.name || (s.ports?.length ?? 0) === 1)?.port })));
    if (addrs.length !== 1 || addrs[0]!.port === undefined) return undefined;
    for (const name of this.o.namespaces.keys()) {
      if (name === self) continue;
      const f = await this.facts_(name).catch(() => undefined);
      if (f?.ip === addrs[0]!.ip) return f.meshed ? { name, port: addrs[0]!.port } : undefined;
    }
    return undefined;
  }

  async probe(pod: string, argv: readonly string[], opts: { user: LabUser; timeoutMs: number; input?: string }): Promise<ExecResult> {
    const f = await this.facts_(pod);
    const container = opts.user.uid === PROXY_USER.uid && f.meshed ? PROXY_CONTAINER : f.probing;
    return this.client.exec({ namespace: f.namespace, pod: f.name, container }, argv, { timeoutMs: opts.timeoutMs, ...(opts.input === undefined ? {} : { input: opts.input }) });
  }

  private async flavour(pod: string): Promise<IptablesFlavour> {
    const known = this.flavours.get(pod);
    if (known) return known;
    // istio-init picks its iptables flavour itself; the one that holds ISTIO_ chains is it.
    const nft = await this.inNetns(pod, ['iptables-nft-save']);
    const flavour: IptablesFlavour = nft.exitCode === 0 && /:ISTIO_/.test(nft.stdout) ? 'nft' : (await this.inNetns(pod, ['iptables-legacy-save'])).stdout.includes(':ISTIO_') ? 'legacy' : 'nft';
    this.flavours.set(pod, flavour);
    return flavour;
  }

  async netns(pod: string, argv: readonly string[]): Promise<ExecResult> {
    // iptables-save / ip6tables-save of the flavour istio-init used (ip6tables' rules are made with the same one).
    const cmd = argv[0] === 'iptables-save' || argv[0] === 'ip6tables-save' ? [`${argv[0].replace(/-save$/, '')}-${await this.flavour(pod)}-save`, ...argv.slice(1)] : argv;
    return this.inNetns(pod, cmd);
  }

  /** A root command in the pod's network namespace: from its node, or, where the node cannot be entered, in the capture container (root, NET_ADMIN). */
  private async inNetns(pod: string, argv: readonly string[]): Promise<ExecResult> {
    const f = await this.facts_(pod);
    if (!f.noNode) return this.host(inPodNetnsArgv(f.node, f.pid, argv));
    await this.ensureCaptureContainer(pod, f);
    return this.client.exec({ namespace: f.namespace, pod: f.name, container: CAPTURE_CONTAINER }, argv);
  }

  async configDump(pod: string): Promise<unknown> {
    const f = await this.facts_(pod);
    const r = await this.client.exec({ namespace: f.namespace, pod: f.name, container: PROXY_CONTAINER }, envoyAdminArgv('config_dump'), { timeoutMs: 30_000 });
    if (r.exitCode !== 0) throw new Error(`config_dump of ${f.namespace}/${f.name}: ${(r.spawnError ?? r.stderr).trim()}`);
    return JSON.parse(r.stdout) as unknown;
  }

  private async proxyLog(f: PodFacts): Promise<string[]> {
    const text = await (await this.api()).readNamespacedPodLog({ name: f.name, namespace: f.namespace, container: PROXY_CONTAINER });
    return String(text).split('\n');
  }

  async accessLogFrom(pod: string, config: EnvoyConfig): Promise<AccessLogReader> {
    const f = await this.facts_(pod);
    const before = (await this.proxyLog(f)).length - 1;
    const entries = async () => {
      const out: Array<{ line: AccessLogLine; text: string }> = [];
      for (const text of (await this.proxyLog(f)).slice(Math.max(0, before))) {
        if (!text.startsWith('[')) continue; // pilot-agent's and Envoy's own messages
        try {
          const entry = parseAccessLogLine(text);
          out.push({ line: accessLogLineOf(entry, config, capturePortOf(entry, f.ip)), text });
        } catch {
          // not an access log line
        }
      }
      return out;
    };
    return accessLogReader(entries);
  }

  /** Adds the capture container to the pod once; it idles until a capture starts in it. */
  private async ensureCaptureContainer(pod: string, f: PodFacts): Promise<void> {
    if (this.capturing.has(pod)) return;
    try {
      await ensureCaptureContainer(await this.api(), { namespace: f.namespace, name: f.name }, this.o.captureImage);
    } catch (e) {
      if (!(e instanceof CaptureContainerRefused)) throw e;
      throw new Error(`${f.namespace}/${f.name}: the cluster refused the capture container (an ephemeral container, for tcpdump): ${e.message}; without it no packet is captured, so the probe cannot be checked`, { cause: e });
    }
    this.capturing.add(pod);
  }

  /** tcpdump in the capture container, listening when this resolves; the function returned stops it and gives its text. */
  private async startCapture(pod: string, iface: string, filter: string): Promise<() => Promise<string>> {
    return (await this.startTcpdump(pod, newKey('cap'), tcpdumpArgv(iface, filter))).stop;
  }

  /** A tcpdump (argv) in the background of the pod's capture container, listening when this resolves. */
  private async startTcpdump(pod: string, key: string, argv: readonly string[]) {
    const f = await this.facts_(pod);
    await this.ensureCaptureContainer(pod, f);
    const target = { namespace: f.namespace, pod: f.name, container: CAPTURE_CONTAINER };
    const stop = async () => (await this.client.exec(target, backgroundStopArgv(key))).stdout;
    const started = await this.client.exec(target, backgroundStartArgv(key, argv));
    if (started.exitCode !== 0) throw new Error(`tcpdump in ${f.namespace}/${f.name}: ${(started.spawnError ?? started.stderr).trim()}`);
    for (let i = 0; ; i++) {
      if ((await this.client.exec(target, backgroundReadyArgv(key, 'listening on'))).exitCode === 0) break;
      if (i >= 50) {
        await stop();
        throw new Error(`tcpdump in ${f.namespace}/${f.name} did not start listening`);
      }
      await sleep(100);
    }
    return { target, stop };
  }

  /**
   * The full pcap of the pod (tcpdump -w in the capture container, all interfaces), listening
   * when this resolves. The function returned stops it, brings the file over (base64: the exec
   * API's answer is text) into `file` when `keep`, and removes it from the container.
   */
  private async startPcap(pod: string, file: string): Promise<(keep: boolean) => Promise<{ pcap?: string; pcapNote?: string }>> {
    const key = newKey('pcap');
    const { target, stop } = await this.startTcpdump(pod, key, pcapArgv(backgroundFilePath(key, 'pcap')));
    return async (keep) => {
      const loss = pcapLoss(await stop());
      if (!keep) {
        await this.client.exec(target, backgroundDropArgv(key, 'pcap'));
        return {};
      }
      const r = await this.client.exec(target, backgroundFileArgv(key, 'pcap'), { timeoutMs: 60_000 });
      if (r.exitCode !== 0) return { pcapNote: `it could not be read from ${CAPTURE_CONTAINER} of ${target.namespace}/${target.pod}: ${(r.spawnError ?? r.stderr).trim() || `exit ${r.exitCode}`}` };
      writeFileSync(file, Buffer.from(r.stdout, 'base64'));
      return { pcap: file, ...(loss ? { pcapNote: loss } : {}) };
    };
  }

  /** A kernel trace of `matches` from the node (TRACE rules, a background xtables-monitor); the function returned stops it. */
  private async startTrace(pod: string, matches: TraceMatch[]): Promise<() => Promise<{ text: string; listings: Record<string, string> }>> {
    const f = await this.facts_(pod);
    // TRACE of legacy rules goes to the kernel log, not to xtables-monitor: no kernel hops. Nor where the node cannot be entered (the watch says so).
    if (f.noNode || (await this.flavour(pod)) === 'legacy') return async () => ({ text: '', listings: {} });
    const a = kernelTraceArgvs(f.node, f.pid, newKey('trace'), matches);
    try {
      for (const argv of a.add) await this.checked(argv);
      await this.checked(a.start);
      // xtables-monitor prints nothing until an event: give it a moment to subscribe.
      await sleep(300);
    } catch (e) {
      for (const argv of a.remove) await this.host(argv);
      throw e;
    }
    return async () => {
      try {
        await sleep(200);
        const listings: Record<string, string> = {};
        for (const l of a.listings) {
          const r = await this.host(l.argv);
          if (r.exitCode === 0) listings[l.table] = r.stdout;
        }
        return { text: (await this.host(a.stop)).stdout, listings };
      } finally {
        for (const argv of a.remove) await this.host(argv);
      }
    };
  }

  /** The pod's record for one probe: a kernel trace, the SYN capture and the probe's captures, started now, read by end(). */
  async watch(pod: string, spec: WatchSpec): Promise<Watch> {
    // Each instrument as it starts is remembered, so that a failure later stops the ones before it.
    let syns: (() => Promise<string>) | undefined;
    const captures: Array<() => Promise<string>> = [];
    let trace: (() => Promise<{ text: string; listings: Record<string, string> }>) | undefined;
    // The full pcap: one that does not start is said in the evidence bundle, it fails no probe.
    let pcap: ((keep: boolean) => Promise<{ pcap?: string; pcapNote?: string }>) | undefined;
    let pcapNote: string | undefined;
    const cancel = async () => {
      await trace?.().catch(() => undefined);
      for (const stop of [...(syns ? [syns] : []), ...captures]) await stop().catch(() => '');
      await pcap?.(false).catch(() => undefined);
    };
    try {
      if (spec.syns) syns = await this.startCapture(pod, 'eth0', SYN_FILTER);
      for (const c of spec.captures) captures.push(await this.startCapture(pod, c.iface, c.filter));
      if (spec.pcap) pcap = await this.startPcap(pod, spec.pcap).catch((e: unknown) => void (pcapNote = `it did not start: ${(e as Error).message}`));
      trace = await this.startTrace(pod, spec.trace);
    } catch (e) {
      await cancel();
      throw e;
    }
    const stopTrace = trace;
    return {
      cancel,
      end: async () => {
        // The caller no longer cancels this watch: whatever throws here, the full pcap's tcpdump and file go.
        let full: { pcap?: string; pcapNote?: string } | undefined;
        try {
          const t = await stopTrace();
          const synsText = syns ? await syns() : '';
          const texts: string[] = [];
          for (const c of captures) texts.push(await c());
          full = pcap ? await pcap(true).catch((e: unknown) => ({ pcapNote: `it could not be brought over: ${(e as Error).message}` })) : pcapNote ? { pcapNote } : {};
          const f = await this.facts_(pod);
          const notes = f.noNode ? [`the kernel hop could not be observed in ${f.namespace}/${f.name}: ${f.noNode}; its iptables hops are missing from the observed path, so a path that names them fails`] : [];
          return { trace: t.text, ruleset: Object.values(t.listings).join('\n'), syns: synsText, captures: texts, notes, ...full };
        } finally {
          if (full === undefined) await pcap?.(false).catch(() => undefined);
        }
      },
    };
  }

  private networks: ClusterNetworks | undefined;

  /** The cluster's own networks (read once), not the scenario's: a probe goes nowhere else. */
  async targetProblem(ip: string): Promise<string | undefined> {
    if (!this.networks) {
      const { NetworkingV1Api } = await import('@kubernetes/client-node');
      const nodes = await (await this.api()).listNode();
      const cidrs = await this.o.kc.makeApiClient(NetworkingV1Api).listServiceCIDR().catch(() => ({ items: [] }));
      this.networks = clusterNetworksOf(nodes.items, cidrs.items, (this.o.externalAddresses ?? []).map((a) => `${a}/32`));
    }
    return targetProblem(ip, this.networks);
  }

  /** Containers of these pods that ran when the lab looked them up and do not now, with their state. */
  async health(pods: readonly string[]): Promise<string[]> {
    const problems: string[] = [];
    const api = await this.api();
    for (const name of pods) {
      const known = this.facts.get(name);
      if (!known) continue;
      const now = await api.readNamespacedPod({ name: known.name, namespace: known.namespace }).catch(() => undefined);
      if (!now) {
        problems.push(`the pod ${known.namespace}/${known.name} (${name}) is gone`);
        continue;
      }
      // The containers that ran when the lab looked the pod up (its app, its sidecar, native sidecars among the init containers) must still run.
      const ran = new Set([...(known.pod.status?.containerStatuses ?? []), ...(known.pod.status?.initContainerStatuses ?? [])].filter((c) => c.state?.running).map((c) => c.name));
      for (const c of [...(now.status?.containerStatuses ?? []), ...(now.status?.initContainerStatuses ?? [])]) {
        if (!ran.has(c.name) || c.state?.running) continue;
        const why = c.state?.waiting?.reason ?? c.state?.terminated?.reason;
        problems.push(`the ${c.name} container of ${known.namespace}/${known.name} (${name}) is not running${why ? ` (${why})` : ''}`);
      }
    }
    return problems;
  }

  async controlSyn(pod: string, ip: string, port: number): Promise<void> {
    const f = await this.facts_(pod);
    if (!f.noNode) {
      await this.host(controlSynArgv(f.node, f.pid, ip, port), { timeoutMs: 5000 });
      return;
    }
    // The same SYN from the capture container, as the proxy uid (setpriv): without it, the absence of a SYN is not believed.
    await this.client.exec({ namespace: f.namespace, pod: f.name, container: CAPTURE_CONTAINER }, ['setpriv', `--reuid=${PROXY_USER.uid}`, `--regid=${PROXY_USER.gid}`, '--clear-groups', ...controlSynCommand(ip, port)], { timeoutMs: 5000 });
  }

  private async checked(argv: readonly string[]): Promise<ExecResult> {
    const r = await this.host(argv);
    if (r.exitCode !== 0) throw new Error(`${argv.join(' ')}: ${(r.spawnError ?? r.stderr).trim()}`);
    return r;
  }
}
