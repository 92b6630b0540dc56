// The seam between the runner and a backend. A Backend (netns, kind, …) is found by name in
// the registry (src/lab/registry.ts); `open()` gives the run's session (kind's one cluster,
// netns' nothing), `start()` a running lab for a group of scenarios that share one lab
// definition: a StartedBackend, AsyncDisposable so `await using` stops it on every exit path
// (testcontainers' GenericContainer → StartedTestContainer is the model). The runner (runner.ts)
// knows nothing else of a backend. The interface lives here, with its one consumer, so that
// src/run never imports src/lab; src/lab implements it.
import type { ProcessResult, ProcessUser } from '../probes/process-result.ts';
import type { EnvoyConfig } from '../mesh/envoy/envoy-config.ts';
import type { AccessLogLine } from '../paths/observe.ts';
import type { LoadedScenario } from '../scenario/loaded.ts';
import type { BackendName, Scenario, SetupStep } from '../scenario/schema.ts';
import type { RunMode } from '../scenario/setup-roles.ts';
import type { ScenarioResult } from '../paths/verdict.ts';

export type LabUser = ProcessUser;

export interface ProbeTarget {
  ip: string;
  port: number;
  /** How the probe names it (a Service name, a host name, the address). */
  name: string;
}

export type TraceMatch = { chain: 'OUTPUT' | 'PREROUTING'; proto: string; dst?: string; dport?: number };

/** What a pod's instruments should record while a probe runs. */
export interface WatchSpec {
  /** Connections whose first packets the kernel should trace (a backend that traces every SYN may ignore it). */
  trace: TraceMatch[];
  /** Record the connection attempts (SYNs) that leave the pod on eth0. */
  syns: boolean;
  /** The probe's own tcpdump captures (`captures: [{ tcpdump: … }]`). */
  captures: ReadonlyArray<{ iface: string; filter: string }>;
  /** Also record every packet of the pod, on all its interfaces, into this file (tcpdump -w): complete once end() resolves. */
  pcap?: string;
}

export interface WatchResult {
  /** The kernel's rule trace as `xtables-monitor --trace` printed it. */
  trace: string;
  /** The pod's nftables rules with their handles (`nft -a list ruleset`, or its `table ip …` listings one after another), for the trace's rule positions. */
  ruleset: string;
  /** tcpdump text of the SYNs that left on eth0 (when asked). */
  syns: string;
  /** tcpdump text of each of the probe's own captures, in order. */
  captures: string[];
  /** What the record may lack and why (a barrier that did not show in time), for the report's evidence. */
  notes: string[];
  /** The file the full capture was written to, when `pcap` was asked and it was. */
  pcap?: string;
  /** Why the full capture was not written, or may be cut short (the evidence bundle says so; the report's evidence does not). */
  pcapNote?: string;
}

/** A sidecar's access log since a mark: each call gives the lines written since it. */
export interface AccessLogReader {
  (): Promise<AccessLogLine[]>;
  /** The same lines, each also as the sidecar wrote it (the evidence bundle's access log). */
  entries(): Promise<Array<{ line: AccessLogLine; text: string }>>;
}

/** The reader of a backend's access log entries (each line read, with the text the sidecar wrote). */
export function accessLogReader(entries: AccessLogReader['entries']): AccessLogReader {
  return Object.assign(async () => (await entries()).map((e) => e.line), { entries });
}

/**
 * Where a run keeps its evidence files (`pathlab run --out DIR`): paths relative to DIR, with
 * `/` between names. The CLI gives one on disk; the runner reads and writes files through it only.
 */
export interface EvidenceFolder {
  /** The absolute path of `rel`, its folder made, for a program to write (tcpdump -w). */
  pathOf(rel: string): string;
  write(rel: string, text: string): void;
  /** The names in folder `rel` (none when it does not exist). */
  list(rel: string): string[];
  /** Removes `rel` (a file, or a folder and all it holds), then its folders left empty up to DIR. */
  remove(rel: string): void;
}

export interface Watch {
  /**
   * Ends the watch and gives what was recorded since it began. `barrier` is a SYN the caller
   * sent last from this pod (the positive control): everything before it has been recorded
   * once it is seen. Without one, the backend finds its own way to know.
   */
  end(barrier?: { dst: string; dport: number }): Promise<WatchResult>;
  /** Stops what the watch started without reading it (the probe failed before it ended). */
  cancel(): Promise<void>;
}

/** What made a lab's paths, in words (each part real or modelled), and the versions and lab id a report records. */
export interface ProducedBy {
  controlPlane: string;
  istioInit: string;
  proxy: string;
  /** The Istio the lab behaves as: `1.5`, `current (1.30 …)` on netns; the installed release on kind. */
  istioVersion: string;
  /** The Envoy its sidecars run. */
  envoyVersion: string;
  labId: string;
}

/** A running lab, as the runner drives it: setup, then the probe-side operations. */
export interface StartedBackend extends AsyncDisposable {
  readonly backend: BackendName;
  /** How long the sidecar's access log may take to show a finished connection. */
  readonly accessLogWaitMs: number;
  /** What made the lab's paths: its control plane, its istio-init, its proxy (the report says so per scenario). */
  readonly producedBy: ProducedBy;
  /** The uid/gid the sidecar runs as (its traffic is never captured). */
  readonly proxyUser: LabUser;
  /** The user the pod's application container runs as (known once `pod()` has looked it up). */
  appUser(pod: string): LabUser;
  /** Applies a scenario's setup steps (chosen by the runner for the run's mode); its notes go into the report's setup evidence. */
  applySetup(s: LoadedScenario, steps: readonly SetupStep[], mode: RunMode): Promise<{ notes: string[] }>;
  /** Brings the lab back to its definition. */
  revertSetup(): Promise<void>;
  /** A pod of the scenario's lab by its name: its address and whether it has a sidecar. */
  pod(name: string): Promise<{ name: string; ip: string; meshed: boolean }>;
  /** The address a probe's target host name (a Service, a pod) has in this lab. */
  resolveHost(host: string, port: number): Promise<ProbeTarget | undefined>;
  /** The one meshed lab pod (not `self`) a target leads to, and the port it receives on. */
  peerPod(self: string, target: ProbeTarget): Promise<{ name: string; port: number } | undefined>;
  /** The probe's own command in the pod, as `user`. */
  probe(pod: string, argv: readonly string[], opts: { user: LabUser; timeoutMs: number; input?: string }): Promise<ProcessResult>;
  /** A root command in the pod's network namespace: iptables-save, ss, conntrack. */
  netns(pod: string, argv: readonly string[]): Promise<ProcessResult>;
  /** The sidecar's /config_dump, parsed JSON. */
  configDump(pod: string): Promise<unknown>;
  /**
   * Marks the sidecar's access log now; the function returned reads the lines written since.
   * `config` is the sidecar's configuration the prediction read (a backend whose log names no
   * listener names it from there).
   */
  accessLogFrom(pod: string, config: EnvoyConfig): Promise<AccessLogReader>;
  /** Starts recording in the pod (kernel trace, SYN capture, the probe's captures, the full pcap when asked); end() gives the record. */
  watch(pod: string, spec: WatchSpec): Promise<Watch>;
  /** Why a probe may not go to this address on this lab (outside the networks the lab really has), or undefined. */
  targetProblem(ip: string): Promise<string | undefined>;
  /** Why the lab's processes behind these pods (their sidecars, apps) or the host at `targetIp` are not running, with their last log lines; empty when all run. */
  health(pods: readonly string[], targetIp?: string): Promise<string[]>;
  /** One SYN to ip:port sent as the proxy uid (never redirected): the capture's positive control. */
  controlSyn(pod: string, ip: string, port: number): Promise<void>;
  stop(): Promise<void>;
}

export interface SessionOptions {
  /** Every scenario the run will start labs for, and whether --check-fault runs them twice (kind plans the whole run up front). */
  scenarios: readonly LoadedScenario[];
  checkFault: boolean;
  keepLab: boolean;
  /** Progress lines (a lab's start steps, setup, revert). */
  onProgress?: (line: string) => void;
  /** Run on this running lab / context instead of new ones (backends whose `options` say so). */
  labId?: string;
  context?: string;
  iKnowThisIsNotALab?: boolean;
  /** Who generates the sidecars' configuration: istiod where the lab's Istio version is built (auto), istiod or fail, or the Envoy model. */
  controlPlane?: ControlPlaneChoice;
  /** The Istio release to install (backends that install real Istio: `istioReleases`), from --istio-version. */
  istioRelease?: string;
  /** This run's id (a backend that names what it makes after the run, `adapt`). */
  runId?: string;
}

export const CONTROL_PLANES = ['auto', 'istiod', 'model'] as const;
export type ControlPlaneChoice = (typeof CONTROL_PLANES)[number];

/** The run's hold on a backend: where its labs start. */
export interface BackendSession extends AsyncDisposable {
  /** Starts the lab of a group of scenarios that share one lab definition. */
  start(group: readonly LoadedScenario[]): Promise<StartedBackend>;
  close(): Promise<void>;
}

export interface Backend {
  readonly name: BackendName;
  /** One line for `--help`. */
  readonly summary: string;
  /** The options of `pathlab run` this backend takes beyond the common ones. */
  readonly options: { dryRun: boolean; existingLab: boolean };
  /** How many of its labs may run at once (kind: one cluster, so one). */
  readonly maxConcurrentLabs: number;
  /**
   * For a backend that installs real Istio releases: the pinned ones, and the release an
   * --istio-version names (undefined: not pinned). Without it, --istio-version names the Istio
   * behaviour every scenario's lab reproduces (netns).
   */
  readonly istioReleases?: { pinned: readonly string[]; default: string; resolve(asked: string): string | undefined };
  /** Why the scenario cannot run on this backend, or undefined when it can. */
  unsupported(s: Scenario): string | undefined;
  /** What is wrong with the run's options for this backend (exit 2), or undefined. */
  optionProblem(opts: Pick<SessionOptions, 'labId' | 'context' | 'controlPlane' | 'istioRelease'>): string | undefined;
  /** Why this machine cannot run the backend, with the fix (exit 3), or undefined. */
  unavailable(opts: Pick<SessionOptions, 'labId' | 'context'>): Promise<string | undefined>;
  /**
   * The scenarios as this backend runs them, for a backend that moves them (a cluster that is
   * not a lab: into namespaces of the run's own, `runId`). The runner checks paths against what
   * this gives; a backend without it runs the scenarios as written.
   */
  adapt?(scenarios: readonly LoadedScenario[], runId: string): LoadedScenario[];
  /** The whole run as text, nothing run (`--dry-run`), for backends whose `options.dryRun`. */
  dryRun?(opts: SessionOptions): string;
  open(opts: SessionOptions): Promise<BackendSession>;
  /** What this machine has and lacks for the backend, each missing piece with the fix (`pathlab doctor`). */
  doctor(opts?: { context?: string }): Promise<{ ok: boolean; text: string }>;
  /** Removes, now, every lab this process started (a second Ctrl-C: no waiting for the probe under way). */
  abandon?(): Promise<void>;
  /** `pathlab lab up|status|down` on this backend. */
  readonly labs: LabCommands;
}

/** The backend cannot run here or refuses to (a missing tool, the context guard): exit 3, its message as it is. */
export class BackendUnavailableError extends Error {
  override name = 'BackendUnavailableError';
}

/** What was asked of the backend is wrong (an option it does not take, a bad id, a bad file): exit 2. */
export class BackendInputError extends Error {
  override name = 'BackendInputError';
}

/** Where a lab command writes: `out` for what it was asked (a plan, a table), `err` for progress. */
export interface LabIo {
  out(text: string): void;
  err(text: string): void;
}

export interface LabUpOptions {
  /** A Lab file, or a scenario file whose lab to start (without its setup). */
  lab?: string;
  scenario?: string;
  istioVersion?: string;
  labId?: string;
  dryRun?: boolean;
}

/** `pathlab lab up|status|down`: labs that outlive the command. */
export interface LabCommands {
  up(opts: LabUpOptions, io: LabIo): Promise<void>;
  status(opts: { output?: 'text' | 'json' | 'yaml' }, io: LabIo): Promise<void>;
  down(opts: { ids: string[]; all?: boolean; dryRun?: boolean }, io: LabIo): Promise<void>;
}

/** A scenario the runner will not run on a backend, as a result. */
export function skippedResult(s: LoadedScenario, backend: BackendName, reason: string): ScenarioResult {
  return { name: s.scenario.metadata.name, file: s.file, backend, mode: 'with-setup', status: 'skipped', reason, probes: [], durationMs: 0 };
}
