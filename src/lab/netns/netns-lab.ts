// The netns lab's lifecycle: a definition (`netnsLab(spec)`, with `withX()` builders) is not
// a running lab; `start()` returns a StartedNetnsLab that is AsyncDisposable, so
// `await using lab = await netnsLab(spec).start()` tears it down on every exit path.
// Everything it creates is named after its id (`pl-<id>-…`), so sweepLabs() can remove what
// a crashed run left behind.
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, closeSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LabSpec } from '../../scenario/schema.ts';
import { exec, execOk, inNetns, systemEnv, type ExecOptions, type ExecResult } from '../exec.ts';
import { LAB_PREFIX, NETNS_ETC, NODE_HOST, planLab, type LabPlan, type PlannedHost } from './plan.ts';
import { newLabId } from '../lab-id.ts';
import { BackendInputError } from '../../run/backend.ts';
import { bundledAgents } from './agents/bundle.ts';
import { APP_USER, NOBODY, appConfig, externalServers } from './workloads.ts';
import { MeshControl, type ControlPlaneChoice, type SpawnOptions } from './mesh-control.ts';
import { createPodCert, selfSigned } from './lab-ca.ts';
import type { ConfigSource } from './envoy-xds.ts';
import { tcpdumpArgv } from '../../probes/tcpdump.ts';
import { handlePositions, parseXtablesMonitor, traceRuleSpec, type KernelPacket } from '../../probes/kernel-trace.ts';

/** Where running labs are recorded (tmpfs: gone after a reboot, as the namespaces are). */
export const LAB_STATE_DIR = LAB_PREFIX === 'pl' ? '/run/pathlab' : `/run/pathlab/${LAB_PREFIX}`;
const LAB_NS = new RegExp(`^${LAB_PREFIX}-([0-9a-f]{6})-`);
/** A netns lab id: six hex digits (the only form that ever becomes a file or namespace name). */
const LAB_ID = /^[0-9a-f]{6}$/;

/** The id, if it is one; else an error that names it (printed safely: only its first 40 characters, escaped). */
export function checkNetnsLabId(id: string): string {
  if (!LAB_ID.test(id)) throw new BackendInputError(`not a lab id: ${JSON.stringify(id.slice(0, 40))} (six hex digits, as pathlab lab status lists them)`);
  return id;
}

/** How many random ids start() tries before it gives up (ids are 24 bits: a clash is rare). */
const ID_TRIES = 5;


export interface LabRecord {
  id: string;
  createdAt: string;
  ownerPid: number;
  label?: string;
  nodeNs: string;
  hosts: Array<{ name: string; kind: string; ns: string; ip: string; meshed: boolean }>;
  services: Array<{ name: string; namespace: string; vip: string; ports: number[] }>;
  /** The lab's definition: what a later command that attaches to the lab (pathlab probe, run --lab-id) plans it from. */
  spec?: LabSpec;
  /** Who configures the sidecars, once the lab is up. */
  controlPlane?: ConfigSource;
  /** The lab's long-running processes (sidecars, apps, servers, istiod), as the last command that held the lab left them; one that died stays listed. */
  processes?: Array<{ host: string; what: string; pid: number; log: string }>;
  /** A command has applied a scenario's setup and not (yet) reverted it: the lab is not at its definition. */
  changedBy?: number;
}

export class NetnsLab {
  private id = newLabId();
  private idChosen = false;
  private label: string | undefined;

  private controlPlane: ControlPlaneChoice = 'auto';

  constructor(private readonly spec: LabSpec) {}

  withId(id: string): this {
    this.id = checkNetnsLabId(id);
    this.idChosen = true;
    return this;
  }

  withLabel(label: string): this {
    this.label = label;
    return this;
  }

  /** Who generates the sidecars' configuration (default: istiod where the lab's Istio version is built). */
  withControlPlane(choice: ControlPlaneChoice): this {
    this.controlPlane = choice;
    return this;
  }

  /** The exact commands and files start() would run and write. */
  plan(): LabPlan {
    return planLab(this.spec, this.id);
  }

  /**
   * Takes the id for this lab: its record is created exclusively, so two starts never share
   * one, and an id whose namespaces or files a crashed lab left is not reused. A random id
   * that is taken is replaced; a chosen one is refused. Nothing is made before this.
   */
  private async reserve(): Promise<LabPlan> {
    mkdirSync(LAB_STATE_DIR, { recursive: true });
    const leftovers = new Set(await findLabIds());
    for (let i = 0; i < ID_TRIES; i++) {
      const plan = this.plan();
      if (!leftovers.has(plan.id)) {
        try {
          writeFileSync(join(LAB_STATE_DIR, `${plan.id}.json`), `${JSON.stringify({ ...labRecord(plan, this.label), spec: this.spec }, null, 2)}\n`, { flag: 'wx' });
          return plan;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        }
      }
      if (this.idChosen) throw new BackendInputError(`lab id ${plan.id} is taken (pathlab lab status lists the labs; pathlab lab down ${plan.id} removes it)`);
      this.id = newLabId();
    }
    throw new Error(`no free lab id after ${ID_TRIES} tries`);
  }

  async start(): Promise<StartedNetnsLab> {
    const plan = await this.reserve();
    const started = new StartedNetnsLab(plan);
    try {
      for (const f of plan.files) {
        mkdirSync(join(f.path, '..'), { recursive: true });
        writeFileSync(f.path, f.content);
      }
      const t0 = performance.now();
      for (const step of plan.steps) {
        await execOk(step.argv, { where: step.what, ...(step.input === undefined ? {} : { input: step.input }) });
      }
      const t1 = performance.now();
      // The apps and the mesh (certificates, istio-init, Envoys) need nothing of each other to start.
      started.mesh = new MeshControl(started, this.spec, this.controlPlane);
      let t2 = t1;
      const [workloads, mesh] = await Promise.allSettled([started.startWorkloads().then(() => (t2 = performance.now())), started.mesh.start()]);
      for (const r of [workloads, mesh]) if (r.status === 'rejected') throw r.reason;
      const t3 = performance.now();
      started.timings = { networkMs: t1 - t0, workloadsMs: t2 - t1, meshMs: t3 - t1, rulesMs: started.mesh.rulesMs, envoyMs: started.mesh.envoyMs, certsMs: started.mesh.certsMs };
      started.saveRecord();
    } catch (e) {
      await started.stop();
      throw e;
    }
    return started;
  }
}

export function netnsLab(spec: LabSpec): NetnsLab {
  return new NetnsLab(spec);
}

function labRecord(plan: LabPlan, label: string | undefined): LabRecord {
  return {
    id: plan.id,
    createdAt: new Date().toISOString(),
    ownerPid: process.pid,
    ...(label === undefined ? {} : { label }),
    nodeNs: plan.nodeNs,
    hosts: plan.hosts.map((h) => ({ name: h.name, kind: h.kind, ns: h.ns, ip: h.ip, meshed: h.meshed })),
    services: plan.services.map((s) => ({ name: s.name, namespace: s.namespace, vip: s.vip, ports: s.ports.map((p) => p.port) })),
  };
}

export interface RunOptions extends Omit<ExecOptions, 'where'> {
  /** Run as this user (default root). Probes of an app run as the app's uid. */
  user?: { uid: number; gid: number };
}

export class StartedNetnsLab implements AsyncDisposable {
  private stopped = false;
  /** The lab's control plane: istio-init rules, sidecars, Services (set by start()). */
  mesh!: MeshControl;
  /** How long each part of start() took (for the benchmark and `lab up`). */
  timings = { networkMs: 0, workloadsMs: 0, meshMs: 0, rulesMs: 0, envoyMs: 0, certsMs: 0 };

  constructor(readonly plan: LabPlan) {}

  get id(): string {
    return this.plan.id;
  }

  host(name: string): PlannedHost {
    const h = this.plan.hosts.find((x) => x.name === name);
    if (!h) throw new Error(`lab ${this.id} has no host "${name}" (hosts: ${this.plan.hosts.map((x) => x.name).join(', ')})`);
    return h;
  }

  /** Runs argv inside a host's namespace and returns what happened (a non-zero exit is data). */
  run(hostName: string, argv: readonly string[], opts: RunOptions = {}): Promise<ExecResult> {
    const h = this.host(hostName);
    const { user, ...rest } = opts;
    return exec(inNetns(h.ns, argv, user), { ...rest, where: h.name });
  }

  /**
   * Starts tcpdump in a host's namespace and resolves once it listens; `stop()` ends it
   * (SIGINT, so it flushes) and returns its output for parseTcpdump.
   */
  async startCapture(hostName: string, iface: string, filter: string, opts: { bytes?: boolean } = {}): Promise<{ stop(): Promise<ExecResult> }> {
    const h = this.host(hostName);
    const argv = inNetns(h.ns, tcpdumpArgv(iface, filter, opts));
    const started = performance.now();
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: systemEnv() });
    let stdout = '';
    let stderr = '';
    let lastData = performance.now();
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      lastData = performance.now();
    });
    const listening = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${hostName}: tcpdump did not start: ${stderr}`)), 5000);
      child.stderr.setEncoding('utf8').on('data', (d: string) => {
        stderr += d;
        if (stderr.includes('listening on')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.on('exit', () => {
        clearTimeout(timer);
        reject(new Error(`${hostName}: tcpdump exited: ${stderr}`));
      });
    });
    await listening;
    const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.on('close', (code, signal) => resolve({ code, signal })),
    );
    return {
      stop: async () => {
        // Let packets already on the wire reach tcpdump and its output reach us: stop once
        // the output has been quiet for 150 ms (a loaded machine delays both), 1.5 s at most.
        const asked = performance.now();
        while (performance.now() - asked < 1500 && (performance.now() - Math.max(lastData, asked)) < 150) {
          await new Promise((r) => setTimeout(r, 25));
        }
        child.kill('SIGINT');
        const { code, signal } = await closed;
        return { argv, where: h.name, exitCode: code, signal, stdout, stderr, durationMs: performance.now() - started, timedOut: false };
      },
    };
  }

  /**
   * Records the kernel's rule trace in a host while `during` runs: raw-table TRACE rules for
   * the given matches, `xtables-monitor --trace` in the host's namespace, then the nft
   * listings that map rule handles to positions. The TRACE rules are removed afterwards.
   */
  async traceKernel<T>(
    hostName: string,
    matches: Array<{ chain: 'OUTPUT' | 'PREROUTING'; proto: string; dst?: string; dport?: number }>,
    during: () => Promise<T>,
  ): Promise<{ result: T; packets: KernelPacket[]; handles: Map<string, { chain: string; rule: number }> }> {
    const h = this.host(hostName);
    const specs = matches.map((m) => traceRuleSpec(m.chain, m));
    for (const spec of specs) await execOk(inNetns(h.ns, ['iptables', ...spec.insert]), { where: h.name });
    const argv = inNetns(h.ns, ['xtables-monitor', '--trace']);
    const monitor = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: systemEnv() });
    let text = '';
    monitor.stdout.setEncoding('utf8').on('data', (d: string) => (text += d));
    const closed = new Promise<void>((resolve) => monitor.on('close', () => resolve()));
    try {
      // xtables-monitor prints nothing until an event: give it a moment to subscribe.
      await new Promise((r) => setTimeout(r, 150));
      const result = await during();
      await new Promise((r) => setTimeout(r, 100));
      const listings: Record<string, string> = {};
      for (const table of ['raw', 'mangle', 'nat', 'filter']) {
        const r = await this.run(h.name, ['nft', '-a', 'list', 'table', 'ip', table]);
        if (r.exitCode === 0) listings[table] = r.stdout;
      }
      return { result, packets: parseXtablesMonitor(text), handles: handlePositions(listings) };
    } finally {
      monitor.kill('SIGTERM');
      await closed;
      for (const spec of specs) await exec(inNetns(h.ns, ['iptables', ...spec.remove]), { where: h.name });
    }
  }

  /** Runs argv in the node namespace (the lab's bridge and kube-proxy rules live there). */
  runOnNode(argv: readonly string[], opts: Omit<ExecOptions, 'where'> = {}): Promise<ExecResult> {
    return exec(inNetns(this.plan.nodeNs, argv), { ...opts, where: 'node' });
  }

  /** The lab's scratch folder: logs of its processes. */
  get dir(): string {
    return join(LAB_STATE_DIR, this.plan.id);
  }

  /** Every long-running process the lab started, by host: the lab's health is theirs. */
  readonly processes: Array<{ host: string; what: string; pid: number; log: string }> = [];

  /** The pilot-agents whose Envoy the lab has seen running. */
  private readonly envoySeen = new Set<number>();

  /**
   * Why the lab's processes on these hosts are not all running (a sidecar, an app or a server
   * that died or never started), each with the last lines of its log; empty when they all run.
   */
  health(hosts: readonly string[]): string[] {
    const problems: string[] = [];
    for (const p of this.processes) {
      if (!hosts.includes(p.host)) continue;
      // pilot-agent notices its Envoy died a moment later than the lab may look: an agent whose
      // Envoy ran and is gone is a dead sidecar already (before its Envoy starts, it is not).
      const running = processRuns(p.pid);
      let envoyGone = false;
      if (running && p.what === 'istio-proxy') {
        if (childRuns(p.pid, 'envoy')) this.envoySeen.add(p.pid);
        else envoyGone = this.envoySeen.has(p.pid);
      }
      if (running && !envoyGone) continue;
      let tail: string[] = [];
      try {
        const log = readFileSync(p.log, 'utf8').trimEnd().split('\n');
        tail = log.slice(-5);
        // A crash ends in its backtrace: the line that says why comes before it (Envoy's first
        // critical line, e.g. its inotify assert when the proxy uid has no instance left).
        const why = log.find((l) => /\]\[(critical|error)\]\[(?!backtrace)/.test(l) && !/stacktrace for envoy bug/.test(l));
        if (why && !tail.includes(why)) tail = [why, '…', ...tail.slice(-2)];
      } catch {
        // no log: nothing to add
      }
      const what = envoyGone ? 'is not running: its Envoy is gone' : 'is not running';
      problems.push(`the ${p.what} of ${p.host} (pid ${p.pid}) ${what}${tail.length && tail[0] ? `; its log ends: ${tail.join(' | ')}` : ''}`);
    }
    return problems;
  }

  /**
   * Starts a long-running process in a host's namespace, detached from this process (it
   * outlives `pathlab lab up`; the lab's teardown kills everything in its namespaces).
   * Its output goes to <lab dir>/logs/<host>.<what>.log (stdout to `opts.stdout` when given).
   * The host NODE_HOST is the node's namespace (istiod runs there).
   */
  spawnDetached(hostName: string, what: string, argv: readonly string[], user?: { uid: number; gid: number }, opts: SpawnOptions = {}): { pid: number; log: string } {
    const ns = hostName === NODE_HOST ? this.plan.nodeNs : this.host(hostName).ns;
    mkdirSync(join(this.dir, 'logs'), { recursive: true });
    const log = join(this.dir, 'logs', `${hostName}.${what}.log`);
    const fd = openSync(log, 'a');
    const out = opts.stdout === undefined ? fd : openSync(opts.stdout, 'a');
    const [cmd, ...args] = inNetns(ns, argv, user);
    const child = spawn(cmd!, args, { detached: true, stdio: ['ignore', out, fd], env: { ...systemEnv(), ...opts.env }, ...(opts.cwd === undefined ? {} : { cwd: opts.cwd }) });
    closeSync(fd);
    if (out !== fd) closeSync(out);
    child.unref();
    this.processes.push({ host: hostName, what, pid: child.pid ?? -1, log });
    return { pid: child.pid ?? -1, log };
  }


  /** Ends a process the lab started (SIGTERM, then SIGKILL after `graceMs`); the lab's health no longer counts it. */
  async retire(pid: number, graceMs = 2000): Promise<void> {
    const i = this.processes.findIndex((p) => p.pid === pid);
    if (i >= 0) this.processes.splice(i, 1);
    // The process leads its own group (spawned detached): the group goes, with what it started
    // (pilot-agent's Envoy).
    const signal = (sig: NodeJS.Signals) => {
      try {
        process.kill(-pid, sig);
      } catch {
        try {
          process.kill(pid, sig);
        } catch {
          // already gone
        }
      }
    };
    if (!processRuns(pid)) return;
    // A pid from the lab's record may have ended and been reused by another process: only one in
    // the lab's own namespaces is signalled.
    if (!pidsInNamespaces(this.plan.namespaces).includes(pid)) return;
    signal('SIGTERM');
    const until = performance.now() + graceMs;
    while (processRuns(pid) && performance.now() < until) await new Promise((r) => setTimeout(r, 20));
    if (processRuns(pid)) signal('SIGKILL');
    while (processRuns(pid)) await new Promise((r) => setTimeout(r, 10));
  }

  /** Starts every host's processes (apps, external servers) and waits until each port listens. */
  async startWorkloads(): Promise<void> {
    const agents = bundledAgents(join(LAB_STATE_DIR, 'agents'));
    const waits: Array<Promise<void>> = [];
    for (const h of this.plan.hosts) {
      const app = appConfig(h);
      if (app) {
        this.spawnDetached(h.name, 'app', [process.execPath, agents['echo-app'], JSON.stringify(app)], APP_USER);
        waits.push(this.waitListening(h.name, app.ports.map((p) => p.port)));
      }
      const servers = externalServers(h);
      const tls = await this.serverTls(h);
      // The servers run unprivileged: a port below 1024 (HTTPS on 443) needs the namespace's own
      // unprivileged port range opened (a per-namespace sysctl; the host's is not touched).
      if (servers.some((x) => x.port < 1024)) await execOk(inNetns(h.ns, ['sysctl', '-qw', 'net.ipv4.ip_unprivileged_port_start=0']), { where: h.name });
      for (const srv of servers) {
        const agent = srv.agent && tls ? { ...srv.agent, tls } : srv.agent;
        const argv = srv.argv ?? [process.execPath, agents['echo-app'], JSON.stringify(agent)];
        this.spawnDetached(h.name, srv.what, argv, NOBODY);
      }
      if (servers.length > 0) waits.push(this.waitListening(h.name, servers.map((x) => x.port)));
    }
    await Promise.all(waits);
  }

  /**
   * An external host's certificate: HTTPS, self-signed for its name (clients do not check it);
   * mtls, the lab CA's for its SPIFFE identity, with the CA its clients' certificates must chain to.
   */
  private async serverTls(h: PlannedHost): Promise<{ cert: string; key: string; ca?: string } | undefined> {
    const ext = h.external;
    if (ext?.server === 'https') {
      const f = await selfSigned(join(this.dir, 'external'), h.name, `/CN=${h.name}`);
      // Read by the server, which runs as nobody: the key readable by its group only.
      chownSync(f.key, 0, NOBODY.gid);
      chmodSync(f.key, 0o640);
      chmodSync(f.cert, 0o644);
      return f;
    }
    if (ext?.server !== 'mtls') return undefined;
    const m = /^spiffe:\/\/[^/]+\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(ext.identity ?? '');
    if (!m) throw new Error(`${h.name}: an mtls host needs its identity (spiffe://TRUST-DOMAIN/ns/NS/sa/SA)`);
    // The identity whole: a mesh's own trust domain (not always cluster.local) is what its peers check.
    return createPodCert(join(this.dir, 'ca'), await this.mesh.labCa(), { name: `host-${h.name}`, namespace: m[1]!, spiffe: ext.identity! }, NOBODY);
  }

  /** Polls `ss` in the host's namespace until every port has a listener (5 s at most). */
  async waitListening(hostName: string, ports: number[], timeoutMs = 5000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const r = await this.run(hostName, ['ss', '-ltnH']);
      const listening = new Set([...r.stdout.matchAll(/\S+:(\d+)\s+\S+:\*/g)].map((m) => Number(m[1])));
      const missing = ports.filter((p) => !listening.has(p));
      if (missing.length === 0) return;
      if (performance.now() > deadline) {
        throw new Error(`${hostName}: nothing listens on ${missing.join(', ')} after ${timeoutMs} ms (logs in ${join(this.dir, 'logs')})`);
      }
      await new Promise((res) => setTimeout(res, 15));
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.attached) {
      // A lab this command attached to stays: the processes it started instead of others are noted.
      this.keep();
      rmSync(lockPath(this.plan.id), { force: true });
      return;
    }
    await removeLab(this.plan.id);
  }

  /** The lab was made by another command; this one attached to it (StartedNetnsLab.attach) and leaves it up. */
  attached = false;

  /**
   * The lab outlives this command: its record notes the control plane and the processes (the
   * dead ones too: the next command must not take a dead sidecar for none), and names no owner,
   * so that no later process that happens to get this one's pid takes it for its own.
   */
  keep(): void {
    this.saveRecord({ ownerPid: 0 });
  }

  /** Notes the control plane, the processes and `fields` in the lab's record (written whole, then renamed). */
  saveRecord(fields: Partial<LabRecord> = {}): void {
    const file = join(LAB_STATE_DIR, `${this.plan.id}.json`);
    try {
      const record = JSON.parse(readFileSync(file, 'utf8')) as LabRecord;
      // A field given as undefined (changedBy, once reverted) is left out of the JSON.
      const next: LabRecord = { ...record, controlPlane: this.mesh?.controlPlane, processes: [...this.processes], ...fields };
      const tmp = `${file}.tmp-${process.pid}`;
      writeFileSync(tmp, `${JSON.stringify(next, null, 2)}\n`);
      renameSync(tmp, file);
    } catch {
      // the record is gone (the lab is being removed): nothing to note
    }
  }

  /**
   * Takes hold of a running lab another command made (`pathlab lab up`, `run --keep-lab`): its
   * plan from the definition in its record, its processes, its control plane as the record
   * says. The lab stays up when this command ends. One command at a time may hold a lab.
   */
  static async attach(id: string): Promise<StartedNetnsLab> {
    checkNetnsLabId(id);
    let record: LabRecord;
    try {
      record = JSON.parse(readFileSync(join(LAB_STATE_DIR, `${id}.json`), 'utf8')) as LabRecord;
    } catch {
      throw new BackendInputError(`no netns lab ${id} (pathlab lab status lists the labs)`);
    }
    if (!record.spec) throw new BackendInputError(`lab ${id} was made by an earlier pathlab, which did not record its definition: take it down (pathlab lab down ${id}) and bring it up again`);
    if (!record.controlPlane) throw new BackendInputError(`lab ${id} is still coming up (or its lab up was killed): wait for pathlab lab up to end, or pathlab lab down ${id}`);
    const busy = labInUse(record);
    if (busy) throw new BackendInputError(busy);
    // One command at a time holds a lab: a second would undo the first one's setup.
    try {
      writeFileSync(lockPath(id), `${process.pid}\n`, { flag: 'wx' });
    } catch {
      const again = labInUse(record);
      if (again) throw new BackendInputError(again);
      writeFileSync(lockPath(id), `${process.pid}\n`);
    }
    const plan = planLab(record.spec, id);
    if (!(await listLabNamespaces()).has(id)) throw new BackendInputError(`lab ${id} has a record but no namespaces: pathlab lab down ${id} removes what is left`);
    const lab = new StartedNetnsLab(plan);
    lab.attached = true;
    lab.processes.push(...(record.processes ?? []));
    try {
      // A capture lab's control plane is its capture (the definition says so), whatever is asked.
      lab.mesh = new MeshControl(lab, record.spec, record.controlPlane === 'capture' ? 'auto' : record.controlPlane);
      await lab.mesh.attach();
    } catch (e) {
      rmSync(lockPath(id), { force: true });
      throw e;
    }
    return lab;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

/**
 * Why a running lab cannot be taken now: a command that is alive holds it, or one left it with
 * a scenario's setup applied; undefined when it can.
 */
export function labInUse(record: LabRecord): string | undefined {
  // The command that made the lab still runs (a run --keep-lab between its scenarios): it keeps no holder file, its record names it.
  if (record.ownerPid > 0 && record.ownerPid !== process.pid && processRuns(record.ownerPid)) return `lab ${record.id} is in use by pid ${record.ownerPid}, the command that made it (it names no owner once it leaves the lab up): wait for it to end`;
  if (record.changedBy !== undefined) return `lab ${record.id} was left with a scenario's setup applied (by pid ${record.changedBy}, which did not revert it): pathlab lab down ${record.id}, and bring it up again`;
  let holder: number;
  try {
    holder = Number(readFileSync(lockPath(record.id), 'utf8').trim());
  } catch {
    return undefined;
  }
  return holder > 0 && holder !== process.pid && processRuns(holder) ? `lab ${record.id} is in use by pid ${holder} (pathlab probe or run --lab-id): wait for it to end` : undefined;
}

/** The file that says which command holds a running lab (StartedNetnsLab.attach). */
function lockPath(id: string): string {
  return join(LAB_STATE_DIR, id, 'holder.pid');
}

/**
 * The pids that may be `pid`'s children: each of its threads' children files (a Go program forks
 * from whichever thread runs), or, on a kernel without them, every process. A process that is
 * gone has none.
 */
function childCandidates(pid: number): string[] {
  const threads = safeReaddir(`/proc/${pid}/task`);
  const kids: string[] = [];
  for (const tid of threads) {
    try {
      kids.push(...readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(/\s+/).filter(Boolean));
    } catch {
      return safeReaddir('/proc').filter((e) => /^\d+$/.test(e));
    }
  }
  return kids;
}

/** Does a child of `pid` named `comm` run (pilot-agent's Envoy)? */
function childRuns(pid: number, comm: string): boolean {
  for (const entry of childCandidates(pid)) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid …: comm may hold spaces and parentheses, so read after the last ')'.
      const close = stat.lastIndexOf(')');
      const [state, ppid] = stat.slice(close + 2).split(' ');
      if (Number(ppid) === pid && stat.slice(stat.indexOf('(') + 1, close) === comm && state !== 'Z' && state !== 'X') return true;
    } catch {
      // the process ended
    }
  }
  return false;
}

/** Is the process there and not a zombie? */
function processRuns(pid: number): boolean {
  if (pid <= 0) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) [ZX] /.test(stat);
  } catch {
    return false;
  }
}

/** The namespaces on this machine that belong to a lab, by lab id. */
export async function listLabNamespaces(): Promise<Map<string, string[]>> {
  const r = await exec(['ip', 'netns', 'list']);
  const byLab = new Map<string, string[]>();
  for (const line of r.stdout.split('\n')) {
    const ns = line.split(' ')[0] ?? '';
    const m = LAB_NS.exec(ns);
    if (!m) continue;
    const id = m[1]!;
    byLab.set(id, [...(byLab.get(id) ?? []), ns]);
  }
  return byLab;
}

/**
 * The processes whose network namespace is one of `namespaces` (what `ip netns pids` tells,
 * read from /proc in one pass: the namespace file's inode against each /proc/PID/ns/net).
 */
export function pidsInNamespaces(namespaces: readonly string[]): number[] {
  return pidsWithNetnsInodes(namespaceInodes(namespaces));
}

/** The inodes of named network namespaces (those that still exist). */
function namespaceInodes(namespaces: readonly string[]): Set<number> {
  const inodes = new Set<number>();
  for (const ns of namespaces) {
    try {
      inodes.add(statSync(join('/run/netns', ns)).ino);
    } catch {
      // already gone
    }
  }
  return inodes;
}

/** The processes in the network namespaces of these inodes (named or not any more). */
function pidsWithNetnsInodes(inodes: ReadonlySet<number>): number[] {
  if (inodes.size === 0) return [];
  const pids: number[] = [];
  for (const entry of safeReaddir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (inodes.has(statSync(`/proc/${entry}/ns/net`).ino)) pids.push(Number(entry));
    } catch {
      // the process ended, or is a kernel thread without a namespace link
    }
  }
  return pids;
}

/** Removes everything of one lab: its processes, namespaces (with their links), files. */
export async function removeLab(id: string): Promise<{ namespacesMs: number }> {
  checkNetnsLabId(id);
  const namespaces = (await listLabNamespaces()).get(id) ?? [];
  // The namespaces by inode: a process that another command (a lab up still under way) starts
  // in one after we looked keeps it alive, unnamed, after `netns del`; it is found by its inode.
  const inodes = namespaceInodes(namespaces);
  const killAll = async (rounds: number) => {
    // A process may be starting while we look (a run killed mid-way): look again until none is left.
    for (let round = 0; round < rounds; round++) {
      const pids = pidsWithNetnsInodes(inodes);
      if (pids.length === 0) return;
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  // Processes first: a process holds its namespace open after `netns del`.
  await killAll(50);
  const t0 = performance.now();
  if (namespaces.length > 0) {
    await exec(['ip', '-force', '-batch', '-'], { input: namespaces.reverse().map((ns) => `netns del ${ns}\n`).join('') });
  }
  const namespacesMs = performance.now() - t0;
  // And what started in them in the meantime.
  await killAll(20);
  for (const entry of safeReaddir(NETNS_ETC)) {
    if (entry.startsWith(`${LAB_PREFIX}-${id}-`)) rmSync(join(NETNS_ETC, entry), { recursive: true, force: true });
  }
  rmSync(join(LAB_STATE_DIR, `${id}.json`), { force: true });
  // A lab that is still being made (lab down --all while another command brings it up) may
  // write into its folder while it goes: Node retries a folder that is not empty yet.
  rmSync(join(LAB_STATE_DIR, id), { recursive: true, force: true, maxRetries: 10, retryDelay: 20 });
  return { namespacesMs };
}

/** Every lab id that left anything behind: namespaces, /etc/netns entries, state files. */
export async function findLabIds(): Promise<string[]> {
  const ids = new Set((await listLabNamespaces()).keys());
  for (const entry of safeReaddir(NETNS_ETC)) {
    const m = LAB_NS.exec(entry);
    if (m) ids.add(m[1]!);
  }
  for (const entry of safeReaddir(LAB_STATE_DIR)) {
    const m = /^([0-9a-f]{6})(\.json)?$/.exec(entry);
    if (m) ids.add(m[1]!);
  }
  return [...ids].sort();
}

/**
 * `pathlab lab down --all`: removes every lab, also what a killed run left half-made.
 * `only` limits the sweep to some ids (tests that run beside other labs use it).
 */
export async function sweepLabs(only?: ReadonlySet<string>): Promise<string[]> {
  const ids = (await findLabIds()).filter((id) => only === undefined || only.has(id));
  for (const id of ids) await removeLab(id);
  return ids;
}

export function readLabRecords(): LabRecord[] {
  const out: LabRecord[] = [];
  for (const entry of safeReaddir(LAB_STATE_DIR)) {
    if (!entry.endsWith('.json')) continue;
    try {
      out.push(JSON.parse(readFileSync(join(LAB_STATE_DIR, entry), 'utf8')) as LabRecord);
    } catch {
      // a record cut short by a crash: `lab down --all` still finds the lab by its names
    }
  }
  return out;
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
