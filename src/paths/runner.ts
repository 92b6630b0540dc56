// The runner, whatever the backend: for each probe, predict the whole path (explain on the
// pod's own rules and its sidecar's listener table), run the probe with its captures, build the
// observed path from the evidence, and compare. The scenario's expectations decide pass/fail;
// where the prediction and the observation disagree it is reported as a model gap.
// A backend is a ProbeLab: how to run a command in a pod, read its rules, trace its kernel,
// capture its packets and read its sidecar. run-netns.ts and run-kind.ts provide one each, and
// group scenarios into labs; this file never asks which backend it runs on.
import { explain } from '../mesh/envoy/explain.ts';
import { parseConfigDump } from '../mesh/envoy/config-dump-parser.ts';
import type { EnvoyConfig } from '../mesh/envoy/envoy-config.ts';
import type { Payload } from '../mesh/envoy/first-bytes.ts';
import { formatEffect, loadRuleSet, parseIptablesSave, traceConnection, type LoadedTables, type TraceHop } from '../mesh/iptables/index.ts';
import type { ExecResult } from '../lab/exec.ts';
import { kernelConnections, kernelHops, type KernelConnection, type KernelPacket } from '../probes/kernel-trace.ts';
import { conntrackArgv, endpointOf, parseConntrack } from '../probes/conntrack.ts';
import { believeAbsence, parseTcpdump } from '../probes/tcpdump.ts';
import type { Probe, Scenario } from '../scenario/schema.ts';
import { kernelTrace } from './kernel-trace.ts';
import { matchPath, predictionGaps } from './path-match.ts';
import { predictedHops } from './predict.ts';
import { observedHops, parseEchoReply, type AccessLogLine, type ObservedEvidence } from './observe.ts';
import type { Evidence, ProbeResult, ScenarioResult } from './verdict.ts';

export interface LoadedScenario {
  file: string;
  scenario: Scenario;
}

export interface LabUser {
  uid: number;
  gid: number;
}

export interface ProbeTarget {
  ip: string;
  port: number;
  /** How the probe names it (a Service name, a host name, the address). */
  name: string;
}

export type TraceMatch = { chain: 'OUTPUT' | 'PREROUTING'; proto: string; dst?: string; dport?: number };
export type KernelTraceResult<T> = { result: T; packets: KernelPacket[]; handles: Map<string, { chain: string; rule: number }> };

/** What the runner needs of a running lab. */
export interface ProbeLab {
  readonly backend: 'netns' | 'kind';
  /** How long the sidecar's access log may take to show a finished connection. */
  readonly accessLogWaitMs: number;
  readonly proxyUser: LabUser;
  /** The user a probe runs as: its `from.uid`, the proxy's for `from.container: istio-proxy`, else the app's. */
  userOf(from: Probe['from']): LabUser;
  /** A pod of the scenario's lab by its name: its address and whether it has a sidecar. */
  pod(name: string): Promise<{ name: string; ip: string; meshed: boolean }>;
  /** The address a probe's target host name (a Service, a pod) has in this lab. */
  resolveHost(host: string, port: number): Promise<ProbeTarget | undefined>;
  /** The one meshed lab pod (not `self`) a target leads to, and the port it receives on. */
  peerPod(self: string, target: ProbeTarget): Promise<{ name: string; port: number } | undefined>;
  /** The probe's own command in the pod, as `user`. */
  probe(pod: string, argv: readonly string[], opts: { user: LabUser; timeoutMs: number; input?: string }): Promise<ExecResult>;
  /** A root command in the pod's network namespace: iptables-save, ss, conntrack. */
  netns(pod: string, argv: readonly string[]): Promise<ExecResult>;
  /** The sidecar's /config_dump, parsed JSON. */
  configDump(pod: string): Promise<unknown>;
  /**
   * Marks the sidecar's access log now; the function returned reads the lines written since.
   * `config` is the sidecar's configuration the prediction read (a backend whose log names no
   * listener names it from there).
   */
  accessLogFrom(pod: string, config: EnvoyConfig): Promise<() => Promise<AccessLogLine[]>>;
  /** tcpdump in the pod's network namespace, listening when this resolves; stop() gives its text. */
  startCapture(pod: string, iface: string, filter: string): Promise<{ stop(): Promise<string> }>;
  /** The kernel's rule trace of the packets `matches` selects while `during` runs. */
  traceKernel<T>(pod: string, matches: TraceMatch[], during: () => Promise<T>): Promise<KernelTraceResult<T>>;
  /** One SYN to ip:port sent by the proxy uid (never redirected): the capture's positive control. */
  controlSyn(pod: string, ip: string, port: number): Promise<void>;
}

/** The capture's filter: connection attempts (SYN without ACK). */
export const SYN_FILTER = 'tcp[tcpflags] & tcp-syn != 0 and tcp[tcpflags] & tcp-ack == 0';

const CURL_TRAILER = '\n__pathlab__ %{http_code} %{local_ip}:%{local_port} %{remote_ip}:%{remote_port}\n';

export function probeSeconds(timeout: string | undefined): number {
  const t = timeout ?? '3s';
  return t.endsWith('ms') ? Number(t.slice(0, -2)) / 1000 : Number(t.slice(0, -1));
}

/** The probe's client command: nc or curl, with the answer's status and addresses for curl. */
export function probeArgv(probe: Probe, target: ProbeTarget): { argv: string[]; input?: string } {
  const secs = probeSeconds(probe.timeout);
  switch (probe.tool) {
    case 'nc':
    case 'tcp':
      // -N: half-close after the payload, so the client reads the answer and ends without
      // waiting out -w (tcp_proxy, and the netns sidecar model, pass half-close through).
      return probe.payload === undefined
        ? { argv: ['nc', '-z', '-w', String(secs), target.ip, String(target.port)] }
        : { argv: ['nc', '-N', '-w', String(secs), target.ip, String(target.port)], input: probe.payload };
    case 'curl':
    case 'http': {
      const url = `http://${target.name}:${target.port}${probe.target?.path ?? '/'}`;
      return { argv: ['curl', '-sS', '--max-time', String(secs), '-w', CURL_TRAILER, url] };
    }
    default:
      return { argv: [] };
  }
}

/** Runs one scenario's probes on a lab whose setup is already applied. */
export async function runProbes(lab: ProbeLab, s: LoadedScenario, mode: ScenarioResult['mode'], extra: { notes?: string[] } = {}): Promise<ScenarioResult> {
  const t0 = performance.now();
  const probes: ProbeResult[] = [];
  for (const probe of s.scenario.probes) probes.push(await runProbe(lab, s, probe, extra.notes ?? []));
  const failed = probes.filter((p) => p.status === 'failed');
  return {
    name: s.scenario.metadata.name,
    file: s.file,
    backend: lab.backend,
    mode,
    status: failed.length > 0 ? 'failed' : 'passed',
    ...(failed.length > 0 ? { reason: `${failed.length} of ${probes.length} probe(s) failed: ${failed.map((f) => f.probe).join(', ')}` } : {}),
    probes,
    durationMs: performance.now() - t0,
  };
}

const ruleText = (h: TraceHop) => `${h.table}:${h.chain}#${h.rule} -> ${h.target}`;

export async function runProbe(lab: ProbeLab, s: LoadedScenario, probe: Probe, notes: readonly string[] = []): Promise<ProbeResult> {
  const t0 = performance.now();
  const host = await lab.pod(probe.from.pod);
  const base = {
    scenario: s.scenario.metadata.name,
    probe: probe.name,
    expected: probe.expect.path ?? [],
    notExpected: probe.expect.notPath ?? [],
    retries: [] as string[],
  };
  const user = lab.userOf(probe.from);
  const evidence: Evidence[] = notes.length ? [{ source: 'setup', lines: [...notes] }] : [];
  const problems: string[] = [];

  if (probe.tool === 'ss' || probe.tool === 'iptables-save') {
    const argv = probe.tool === 'ss' ? ['ss', '-ltneH'] : ['iptables-save'];
    const r = await lab.netns(host.name, argv);
    evidence.push({ source: argv.join(' '), lines: r.stdout.split('\n').filter(Boolean) });
    problems.push(...(probe.tool === 'ss' ? listeningProblems(r.stdout, probe.expect.listening ?? []) : ruleProblems(r.stdout, probe.expect.rules ?? [])));
    return finish({ ...base, title: `${s.scenario.metadata.name} · ${host.name} (${host.ip}) ${probe.tool}`, predicted: [], observed: [], evidence, problems, t0 });
  }

  const target = await resolveTarget(lab, probe);
  if (!target) return finish({ ...base, title: `${s.scenario.metadata.name} · ${host.name}`, predicted: [], observed: [], evidence, problems: ['the target does not resolve in this lab'], t0 });
  const title = `${s.scenario.metadata.name} · ${host.name} (${host.ip}) → ${target.ip}:${target.port}`;
  const meshed = host.meshed;

  // Prediction: explain on the pod's own rules and its sidecar's listener table.
  const save = await lab.netns(host.name, ['iptables-save']);
  const tables: LoadedTables = loadRuleSet(parseIptablesSave(save.stdout));
  const payload: Payload = probe.tool === 'curl' || probe.tool === 'http'
    ? { kind: 'http', host: `${target.name}:${target.port}`, path: probe.target?.path ?? '/' }
    : probe.payload !== undefined ? { kind: 'bytes', text: probe.payload } : { kind: 'none' };
  const kt = kernelTrace(tables, { src: host.ip, dst: { ip: target.ip, port: target.port }, podIp: host.ip, uid: user.uid, gid: user.gid });
  let predicted: string[] = kt.hops.map((h) => h.text);
  const config = meshed ? parseConfigDump(await lab.configDump(host.name)) : undefined;
  if (config) predicted = predictedHops(explain(kt, config, { src: host.ip, dst: { ip: target.ip, port: target.port }, uid: user.uid, payload }));

  // The probe, with the kernel's trace, a capture on eth0 and the access log around it.
  const readLog = config ? await lab.accessLogFrom(host.name, config) : undefined;
  const capture = await lab.startCapture(host.name, 'eth0', SYN_FILTER);
  const { argv, input } = probeArgv(probe, target);
  // The pod the connection is for, when it is one meshed pod of the lab other than the probe's:
  // its kernel is traced too (the inbound capture, and its sidecar's connection to the app).
  const peer = await lab.peerPod(host.name, target);
  // Both traces start together (each monitor needs a moment to subscribe); the probe runs once
  // the peer's monitor is listening, and the peer's trace ends after the probe's.
  let peerListening: () => void = () => {};
  const peerReady = new Promise<void>((res) => (peerListening = res));
  let probeDone: () => void = () => {};
  const probeFinished = new Promise<void>((res) => (probeDone = res));
  const peerTraced = peer
    ? lab.traceKernel(peer.name, [{ chain: 'PREROUTING', proto: 'tcp', dport: peer.port }, { chain: 'OUTPUT', proto: 'tcp', dport: peer.port }], async () => {
        peerListening();
        await probeFinished;
      })
    : undefined;
  peerTraced?.catch(() => peerListening());
  if (!peerTraced) peerListening();
  let traced;
  try {
    traced = await lab.traceKernel(host.name, [{ chain: 'OUTPUT', proto: 'tcp', dport: target.port }], async () => {
      await peerReady;
      return lab.probe(host.name, argv, { user, timeoutMs: (probeSeconds(probe.timeout) + 3) * 1000, ...(input === undefined ? {} : { input }) });
    });
  } finally {
    probeDone();
  }
  const peerTrace: KernelTraceResult<void> | undefined = peerTraced ? await peerTraced : undefined;
  const r = traced.result;
  // The positive control: a SYN the capture must see, sent by the proxy uid (never redirected)
  // to the target's address on the discard port.
  await lab.controlSyn(host.name, target.ip, 9);
  const syns = parseTcpdump(await capture.stop());
  evidence.push({ source: `${argv.join(' ')} (exit ${r.exitCode}${r.timedOut ? ', timed out' : ''})`, lines: [...r.stdout.split('\n').slice(0, 12), ...(r.stderr ? [`stderr: ${r.stderr.trim()}`] : []), ...(r.spawnError ? [`not run: ${r.spawnError}`] : [])] });
  evidence.push({ source: 'tcpdump -i eth0 (SYNs leaving the pod)', lines: syns.map((p) => p.line) });

  // Observed path.
  const first = kernelHops(traced.packets, { direction: 'out', proto: 'tcp', dst: target.ip, dport: target.port, nth: 0 }, traced.handles);
  const sim = traceConnection(tables, { direction: 'out', proto: 'tcp', src: host.ip, dst: target.ip, dport: target.port, uid: user.uid, gid: user.gid, oif: target.ip === host.ip || target.ip.startsWith('127.') ? 'lo' : 'eth0' });
  // The effect (REDIRECT and its port) is not in the kernel's events: take the simulator's when
  // its hops are the kernel's, rule for rule.
  const sameHops = first !== null && JSON.stringify(first.hops) === JSON.stringify(sim.hops);
  const kernel = first ? { hops: first.hops, ...(sameHops ? { effect: formatEffect(sim.effect) } : {}) } : undefined;
  if (first) evidence.push({ source: 'xtables-monitor --trace', lines: first.hops.map(ruleText) });
  // The pod's later connections to that port (its sidecar's upstream, or its connection to its
  // own pod IP), and in the peer pod the inbound capture and the sidecar's connection to the app.
  const all = kernelConnections(traced.packets, { direction: 'out', proto: 'tcp', dport: target.port }, traced.handles);
  const firstAt = all.findIndex((c) => c.dst === target.ip);
  const later = all.filter((_, i) => i !== firstAt).map((c) => withEffect(c, 'out', tables, [user, lab.proxyUser]));
  const peerHops: Array<{ hops: TraceHop[]; effect?: string }> = [];
  if (peer && peerTrace) {
    const peerTables = loadRuleSet(parseIptablesSave((await lab.netns(peer.name, ['iptables-save'])).stdout));
    const peerApp = lab.userOf({ pod: peer.name });
    for (const c of kernelConnections(peerTrace.packets, { direction: 'in', proto: 'tcp', dport: peer.port }, peerTrace.handles)) peerHops.push(withEffect(c, 'in', peerTables, []));
    for (const c of kernelConnections(peerTrace.packets, { direction: 'out', proto: 'tcp', dport: peer.port }, peerTrace.handles)) peerHops.push(withEffect(c, 'out', peerTables, [lab.proxyUser, peerApp]));
  }
  for (const [who, list] of [[host.name, later], [peer?.name, peerHops]] as const) {
    if (list.length) evidence.push({ source: `xtables-monitor --trace in ${who} (further connections)`, lines: list.map((c) => c.hops.map(ruleText).join(', ') + (c.effect ? ` ${c.effect}` : '')) });
  }
  let accessLog: AccessLogLine | undefined;
  if (readLog && kt.effect.kind === 'redirected') {
    const until = performance.now() + lab.accessLogWaitMs;
    for (;;) {
      accessLog = (await readLog()).find((l) => l.downstream_local_address === `${target.ip}:${target.port}`);
      if (accessLog || performance.now() >= until) break;
      await new Promise((res) => setTimeout(res, 10));
    }
    if (accessLog) evidence.push({ source: 'sidecar access log', lines: [JSON.stringify(accessLog)] });
  }
  const body = r.stdout.replace(/\n__pathlab__ .*\n?$/, '');
  const trailer = /__pathlab__ (\d+) /.exec(r.stdout);
  const wire = syns.filter((p) => !(p.dst === target.ip && p.dport === 9)).map((p) => `${p.dst}:${p.dport}`);
  const app = parseEchoReply(body);
  const obs: ObservedEvidence = {
    ...(kernel ? { kernel } : {}),
    ...(kt.effect.kind === 'redirected' ? { capturePort: kt.effect.port } : {}),
    ...(accessLog ? { accessLog } : {}),
    later: later.filter((c) => c.hops.length > 0),
    peer: peerHops.filter((c) => c.hops.length > 0),
    wire,
    ...(app ? { app } : {}),
    reply: { firstLine: (body.split('\n')[0] ?? '').replace(/\r$/, ''), bytes: body.length },
  };
  const observed = observedHops(obs);

  // The expectations.
  const e = probe.expect;
  if (e.reply) {
    const ok = e.reply.exact !== undefined ? body === e.reply.exact : e.reply.contains !== undefined ? body.includes(e.reply.contains) : e.reply.pattern !== undefined ? new RegExp(e.reply.pattern).test(body) : body.length === 0;
    if (!ok) problems.push(`the reply ${JSON.stringify(body.slice(0, 80))} is not ${JSON.stringify(e.reply.exact ?? e.reply.contains ?? e.reply.pattern ?? '(none)')}`);
  }
  const leaves = wire.includes(`${target.ip}:${target.port}`);
  if (e.leavesPod !== undefined) {
    if (e.leavesPod && !leaves) problems.push(`no SYN to ${target.ip}:${target.port} left the pod on eth0`);
    if (!e.leavesPod) {
      const absent = believeAbsence(syns, { ip: target.ip, port: target.port }, { ip: target.ip, port: 9 });
      if (!absent.believed) problems.push(absent.why);
    }
  }
  if (e.sourceSeenByApp !== undefined && obs.app?.src !== e.sourceSeenByApp) problems.push(`the app saw ${obs.app?.src ?? 'nothing'} as the source, not ${e.sourceSeenByApp}`);
  if (e.httpStatus !== undefined && Number(trailer?.[1]) !== e.httpStatus) problems.push(`HTTP status ${trailer?.[1] ?? '(none)'}, not ${e.httpStatus}`);
  const outcome = outcomeOf(r, body, trailer?.[1], { leaves, upstream: accessLog?.upstream_host, app: obs.app !== undefined, redirected: kt.effect.kind === 'redirected' });
  if (e.outcome !== undefined && outcome !== e.outcome) problems.push(`the outcome was ${outcome}, not ${e.outcome}`);
  if (e.outcome === undefined && e.reply === undefined && r.spawnError) problems.push(`the probe did not run: ${r.spawnError}`);

  const conntrack = await lab.netns(host.name, conntrackArgv());
  const mine = parseConntrack(conntrack.stdout).filter((c) => c.orig.dst === target.ip && c.orig.dport === target.port);
  if (mine.length) evidence.push({ source: 'conntrack -L', lines: mine.map((c) => `${c.line.trim()}  (ends at ${endpointOf(c)})`) });

  const gaps = predictionGaps(predicted, observed);
  return finish({ ...base, title, predicted, observed, evidence, problems, t0, outcome, reply: body.slice(0, 200), gaps });
}

/** Where a probe goes: the address and port it dials, and how it names them. */
export async function resolveTarget(lab: ProbeLab, probe: Probe): Promise<ProbeTarget | undefined> {
  const t = probe.target;
  if (!t) return undefined;
  const port = t.port ?? 80;
  if (t.address) return { ip: t.address, port, name: t.address };
  return t.host === undefined ? undefined : lab.resolveHost(t.host, port);
}

/** `ss -ltneH` text against the sockets a probe expects to listen. */
export function listeningProblems(ssText: string, wants: ReadonlyArray<{ address: string; port: number; uid?: number }>): string[] {
  const problems: string[] = [];
  for (const want of wants) {
    const ok = ssText.split('\n').some((l) => {
      const m = /^\S+\s+\d+\s+\d+\s+(\S+):(\d+)\s+\S+\s+uid:(\d+)/.exec(l.trim());
      return m && m[1] === want.address && Number(m[2]) === want.port && (want.uid === undefined || Number(m[3]) === want.uid);
    });
    if (!ok) problems.push(`nothing listens on ${want.address}:${want.port}${want.uid !== undefined ? ` as uid ${want.uid}` : ''}`);
  }
  return problems;
}

/** iptables-save text against rules a probe expects, in order. */
export function ruleProblems(saveText: string, rules: readonly string[]): string[] {
  const lines = saveText.split('\n').map((l) => l.trim());
  let at = 0;
  for (const rule of rules) {
    const k = lines.indexOf(rule.trim(), at);
    if (k < 0) return [`rule not found (in order): ${rule}`];
    at = k + 1;
  }
  return [];
}

/** A traced connection's hops with their effect (REDIRECT:15006 ...), taken from the simulator when it agrees rule for rule with the kernel for one of the candidate users. */
function withEffect(c: KernelConnection, direction: 'out' | 'in', tables: LoadedTables, users: LabUser[]): { hops: TraceHop[]; effect?: string } {
  const tries = direction === 'in' ? [undefined] : users;
  for (const u of tries) {
    try {
      const sim = traceConnection(tables, { direction, proto: 'tcp', src: c.src, dst: c.dst, dport: c.dport, ...(u ? { uid: u.uid, gid: u.gid } : {}), ...(direction === 'out' ? { oif: c.iface } : { iif: c.iface }) });
      if (JSON.stringify(sim.hops) === JSON.stringify(c.hops)) return { hops: c.hops, effect: formatEffect(sim.effect) };
    } catch {
      // an address the simulator cannot read: no effect, the kernel's hops stand alone
    }
  }
  return { hops: c.hops };
}

function outcomeOf(
  r: { exitCode: number | null; timedOut: boolean; stderr: string },
  body: string,
  status: string | undefined,
  seen: { leaves: boolean; upstream: string | undefined; app: boolean; redirected: boolean },
): string {
  if (r.timedOut || /timed out|Operation timed out|\(28\)/i.test(r.stderr)) return 'timeout';
  if (/refused|\(7\)/i.test(r.stderr)) return 'refused';
  if (/reset|\(56\)/i.test(r.stderr)) return 'reset';
  if (status !== undefined && Number(status) >= 400) return 'http-error';
  // A raw client (nc) that got an HTTP error status line: the sidecar or the server answered with an error.
  if (/^HTTP\/1\.[01] [45]\d\d /.test(body)) return 'http-error';
  if (body.length === 0) return 'closed';
  // Connect is not reach: through a sidecar the client always connects (to 15001). It reached
  // its target only if something went upstream: a SYN left the pod, the access log names an
  // upstream host, or the application described itself.
  const upstream = seen.leaves || (seen.upstream !== undefined && seen.upstream !== '-') || seen.app || !seen.redirected;
  return upstream ? 'reached' : 'closed';
}

function finish(x: {
  scenario: string;
  probe: string;
  title: string;
  expected: string[];
  notExpected: string[];
  predicted: string[];
  observed: string[];
  evidence: Evidence[];
  problems: string[];
  retries: string[];
  t0: number;
  outcome?: string;
  reply?: string;
  gaps?: string[];
}): ProbeResult {
  const diff = x.observed.length ? matchPath(x.expected, x.notExpected, x.observed) : undefined;
  const failed = diff !== undefined || x.problems.length > 0;
  return {
    scenario: x.scenario,
    probe: x.probe,
    title: x.title,
    status: failed ? 'failed' : 'passed',
    ...(failed ? { reason: diff ? `${diff.why}: expected ${diff.expected}` : x.problems.join('; ') } : {}),
    expected: x.expected,
    notExpected: x.notExpected,
    predicted: x.predicted,
    observed: x.observed,
    ...(diff ? { firstDifference: diff } : {}),
    predictionGaps: x.gaps ?? [],
    ...(x.outcome ? { outcome: x.outcome } : {}),
    ...(x.reply !== undefined ? { reply: x.reply } : {}),
    evidence: x.problems.length ? [{ source: 'expectations', lines: x.problems }, ...x.evidence] : x.evidence,
    retries: x.retries,
    durationMs: performance.now() - x.t0,
  };
}
