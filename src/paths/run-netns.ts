// Runs scenarios on the netns backend. For each probe: predict the whole path (explain on the
// pod's own rules and its sidecar's listener table), run the probe with its captures, build the
// observed path from the evidence, and compare: the scenario's expectations decide pass/fail;
// where the prediction and the observation disagree it is reported as a model gap.
// Scenarios with the same lab definition share one lab; each scenario's setup is applied to a
// reset lab, so scenarios never see each other's changes.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { explain } from '../mesh/envoy/explain.ts';
import { parseConfigDump } from '../mesh/envoy/config-dump-parser.ts';
import type { Payload } from '../mesh/envoy/first-bytes.ts';
import { formatEffect, loadRuleSet, parseIptablesSave, traceConnection, type LoadedTables, type TraceHop } from '../mesh/iptables/index.ts';
import { netnsLab, type StartedNetnsLab } from '../lab/netns/netns-lab.ts';
import { readResourceFile, type AppliedStep } from '../lab/netns/mesh-control.ts';
import { APP_USER } from '../lab/netns/workloads.ts';
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

const CURL_TRAILER = '\n__pathlab__ %{http_code} %{local_ip}:%{local_port} %{remote_ip}:%{remote_port}\n';

function seconds(timeout: string | undefined): number {
  const t = timeout ?? '3s';
  return t.endsWith('ms') ? Number(t.slice(0, -2)) / 1000 : Number(t.slice(0, -1));
}

/** The lab's Setup steps of a scenario, files read, in order (without fault/fix when asked). */
function setupSteps(s: LoadedScenario, withoutChange: boolean): AppliedStep[] {
  return (s.scenario.setup ?? [])
    .filter((step) => !withoutChange || step.role === 'context')
    .map((step) => (step.applyFile ? { ...step, resources: readResourceFile(resolve(dirname(s.file), step.applyFile)) } : step));
}

/** Where a probe goes: the IP and port it dials, and how it names them. */
function resolveTarget(lab: StartedNetnsLab, probe: Probe): { ip: string; port: number; name: string } | undefined {
  const t = probe.target;
  if (!t) return undefined;
  const port = t.port ?? 80;
  if (t.address) return { ip: t.address, port, name: t.address };
  const host = t.host!;
  const svc = lab.mesh.services().find((s) => [s.name, `${s.name}.${s.namespace}`, `${s.name}.${s.namespace}.svc`, `${s.name}.${s.namespace}.svc.cluster.local`].includes(host));
  if (svc) return { ip: svc.vip, port, name: host };
  const h = lab.plan.hosts.find((x) => x.name === host);
  if (h) return { ip: h.ip, port, name: host };
  return undefined;
}

function probeArgv(probe: Probe, target: { ip: string; port: number; name: string }): { argv: string[]; input?: string } {
  const secs = seconds(probe.timeout);
  switch (probe.tool) {
    case 'nc':
    case 'tcp':
      // -N: half-close after the payload, so the client reads the answer and ends without
      // waiting out -w (the sidecar model passes half-close through, as tcp_proxy does).
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
      try {
        for (const s of group) {
          const r = await runOne(lab, s, opts);
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

async function runOne(lab: StartedNetnsLab, s: LoadedScenario, opts: RunOptions): Promise<ScenarioResult> {
  const t0 = performance.now();
  await lab.mesh.reset();
  for (const step of setupSteps(s, opts.withoutChange ?? false)) await lab.mesh.apply(step);
  const probes: ProbeResult[] = [];
  for (const probe of s.scenario.probes) probes.push(await runProbe(lab, s, probe));
  const failed = probes.filter((p) => p.status === 'failed');
  return {
    name: s.scenario.metadata.name,
    file: s.file,
    backend: 'netns',
    mode: opts.withoutChange ? 'without-change' : 'with-setup',
    status: failed.length > 0 ? 'failed' : 'passed',
    ...(failed.length > 0 ? { reason: `${failed.length} of ${probes.length} probe(s) failed: ${failed.map((f) => f.probe).join(', ')}` } : {}),
    probes,
    durationMs: performance.now() - t0,
  };
}

function readLog(lab: StartedNetnsLab, pod: string): string[] {
  try {
    return readFileSync(lab.mesh.accessLogPath(pod), 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

async function runProbe(lab: StartedNetnsLab, s: LoadedScenario, probe: Probe): Promise<ProbeResult> {
  const t0 = performance.now();
  const host = lab.host(probe.from.pod);
  const base = {
    scenario: s.scenario.metadata.name,
    probe: probe.name,
    expected: probe.expect.path ?? [],
    notExpected: probe.expect.notPath ?? [],
    retries: [] as string[],
  };
  const user = probe.from.uid !== undefined ? { uid: probe.from.uid, gid: probe.from.uid } : probe.from.container === 'istio-proxy' ? lab.mesh.proxyUser : APP_USER;
  const evidence: Evidence[] = [];
  const problems: string[] = [];

  if (probe.tool === 'ss' || probe.tool === 'iptables-save') {
    const r = await lab.run(host.name, probe.tool === 'ss' ? ['ss', '-ltneH'] : ['iptables-save']);
    evidence.push({ source: r.argv.slice(4).join(' '), lines: r.stdout.split('\n').filter(Boolean) });
    if (probe.tool === 'ss') {
      for (const want of probe.expect.listening ?? []) {
        const ok = r.stdout.split('\n').some((l) => {
          const m = /^\S+\s+\d+\s+\d+\s+(\S+):(\d+)\s+\S+\s+uid:(\d+)/.exec(l.trim());
          return m && m[1] === want.address && Number(m[2]) === want.port && (want.uid === undefined || Number(m[3]) === want.uid);
        });
        if (!ok) problems.push(`nothing listens on ${want.address}:${want.port}${want.uid !== undefined ? ` as uid ${want.uid}` : ''}`);
      }
    } else {
      const lines = r.stdout.split('\n').map((l) => l.trim());
      let at = 0;
      for (const rule of probe.expect.rules ?? []) {
        const k = lines.indexOf(rule.trim(), at);
        if (k < 0) {
          problems.push(`rule not found (in order): ${rule}`);
          break;
        }
        at = k + 1;
      }
    }
    return finish({ ...base, title: `${s.scenario.metadata.name} · ${host.name} (${host.ip}) ${probe.tool}`, predicted: [], observed: [], evidence, problems, t0 });
  }

  const target = resolveTarget(lab, probe);
  if (!target) return finish({ ...base, title: `${s.scenario.metadata.name} · ${host.name}`, predicted: [], observed: [], evidence, problems: ['the target does not resolve in this lab'], t0 });
  const title = `${s.scenario.metadata.name} · ${host.name} (${host.ip}) → ${target.ip}:${target.port}`;
  const meshed = lab.mesh.podState(host.name) !== undefined;

  // Prediction: explain on the pod's own rules and its sidecar's listener table.
  const save = await lab.run(host.name, ['iptables-save']);
  const tables: LoadedTables = loadRuleSet(parseIptablesSave(save.stdout));
  const payload: Payload = probe.tool === 'curl' || probe.tool === 'http'
    ? { kind: 'http', host: `${target.name}:${target.port}`, path: probe.target?.path ?? '/' }
    : probe.payload !== undefined ? { kind: 'bytes', text: probe.payload } : { kind: 'none' };
  const kt = kernelTrace(tables, { src: host.ip, dst: { ip: target.ip, port: target.port }, podIp: host.ip, uid: user.uid, gid: user.gid });
  let predicted: string[] = kt.hops.map((h) => h.text);
  if (meshed) {
    const e = explain(kt, parseConfigDump(lab.mesh.configDump(host.name)), { src: host.ip, dst: { ip: target.ip, port: target.port }, uid: user.uid, payload });
    predicted = predictedHops(e);
  }

  // The probe, with the kernel's trace, a capture on eth0 and the access log around it.
  const logBefore = meshed ? readLog(lab, host.name).length : 0;
  const capture = await lab.startCapture(host.name, 'eth0', 'tcp[tcpflags] & tcp-syn != 0 and tcp[tcpflags] & tcp-ack == 0');
  const { argv, input } = probeArgv(probe, target);
  // The pod the connection is for, when it is one meshed pod of the lab other than the probe's:
  // its kernel is traced too (the inbound capture, and its sidecar's connection to the app).
  const peer = peerPod(lab, host.name, target);
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
      return lab.run(host.name, argv, { user, timeoutMs: (seconds(probe.timeout) + 3) * 1000, ...(input === undefined ? {} : { input }) });
    });
  } finally {
    probeDone();
  }
  const peerTrace: { packets: KernelPacket[]; handles: Map<string, { chain: string; rule: number }> } | undefined = peerTraced ? await peerTraced : undefined;
  const r = traced.result;
  // The positive control: a SYN the capture must see, sent by the proxy uid (never redirected)
  // to the target's address on the discard port.
  await lab.run(host.name, ['nc', '-z', '-w', '1', target.ip, '9'], { user: lab.mesh.proxyUser, timeoutMs: 3000 });
  const cap = await capture.stop();
  const syns = parseTcpdump(cap.stdout);
  evidence.push({ source: `${argv.join(' ')} (exit ${r.exitCode}${r.timedOut ? ', timed out' : ''})`, lines: [...r.stdout.split('\n').slice(0, 12), ...(r.stderr ? [`stderr: ${r.stderr.trim()}`] : [])] });
  evidence.push({ source: 'tcpdump -i eth0 (SYNs leaving the pod)', lines: syns.map((p) => p.line) });

  // Observed path.
  const first = kernelHops(traced.packets, { direction: 'out', proto: 'tcp', dst: target.ip, dport: target.port, nth: 0 }, traced.handles);
  const sim = traceConnection(tables, { direction: 'out', proto: 'tcp', src: host.ip, dst: target.ip, dport: target.port, uid: user.uid, gid: user.gid, oif: target.ip === host.ip || target.ip.startsWith('127.') ? 'lo' : 'eth0' });
  // The effect (REDIRECT and its port) is not in the kernel's events: take the simulator's when
  // its hops are the kernel's, rule for rule.
  const sameHops = first !== null && JSON.stringify(first.hops) === JSON.stringify(sim.hops);
  const kernel = first ? { hops: first.hops, ...(sameHops ? { effect: formatEffect(sim.effect) } : {}) } : undefined;
  if (first) evidence.push({ source: 'xtables-monitor --trace', lines: first.hops.map((h) => `${h.table}:${h.chain}#${h.rule} -> ${h.target}`) });
  // The pod's later connections to that port (its sidecar's upstream, or its connection to its
  // own pod IP), and in the peer pod the inbound capture and the sidecar's connection to the app.
  const all = kernelConnections(traced.packets, { direction: 'out', proto: 'tcp', dport: target.port }, traced.handles);
  const firstAt = all.findIndex((c) => c.dst === target.ip);
  const later = all.filter((_, i) => i !== firstAt).map((c) => withEffect(c, 'out', tables, [user, lab.mesh.proxyUser]));
  const peerHops: Array<{ hops: TraceHop[]; effect?: string }> = [];
  if (peer && peerTrace) {
    const peerTables = loadRuleSet(parseIptablesSave((await lab.run(peer.name, ['iptables-save'])).stdout));
    for (const c of kernelConnections(peerTrace.packets, { direction: 'in', proto: 'tcp', dport: peer.port }, peerTrace.handles)) peerHops.push(withEffect(c, 'in', peerTables, []));
    for (const c of kernelConnections(peerTrace.packets, { direction: 'out', proto: 'tcp', dport: peer.port }, peerTrace.handles)) peerHops.push(withEffect(c, 'out', peerTables, [lab.mesh.proxyUser, APP_USER]));
  }
  for (const [who, list] of [[host.name, later], [peer?.name, peerHops]] as const) {
    if (list.length) evidence.push({ source: `xtables-monitor --trace in ${who} (further connections)`, lines: list.map((c) => c.hops.map((h) => `${h.table}:${h.chain}#${h.rule} -> ${h.target}`).join(', ') + (c.effect ? ` ${c.effect}` : '')) });
  }
  let accessLog: AccessLogLine | undefined;
  if (meshed && kt.effect.kind === 'redirected') {
    for (let i = 0; i < 100 && !accessLog; i++) {
      const lines = readLog(lab, host.name).slice(logBefore).map((l) => JSON.parse(l) as AccessLogLine);
      accessLog = lines.find((l) => l.downstream_local_address === `${target.ip}:${target.port}`);
      if (!accessLog) await new Promise((res) => setTimeout(res, 10));
    }
    if (accessLog) evidence.push({ source: 'sidecar access log', lines: [JSON.stringify(accessLog)] });
  }
  const body = r.stdout.replace(/\n__pathlab__ .*\n?$/, '');
  const trailer = /__pathlab__ (\d+) /.exec(r.stdout);
  const wire = syns.filter((p) => !(p.dst === target.ip && p.dport === 9)).map((p) => `${p.dst}:${p.dport}`);
  const obs: ObservedEvidence = {
    ...(kernel ? { kernel } : {}),
    ...(kt.effect.kind === 'redirected' ? { capturePort: kt.effect.port } : {}),
    ...(accessLog ? { accessLog } : {}),
    later: later.filter((c) => c.hops.length > 0),
    peer: peerHops.filter((c) => c.hops.length > 0),
    wire,
    ...(parseEchoReply(body) ? { app: parseEchoReply(body)! } : {}),
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
  const outcome = outcomeOf(r, body, trailer?.[1], { leaves, upstream: accessLog?.upstream_host, app: obs.app !== undefined, meshed, redirected: kt.effect.kind === 'redirected' });
  if (e.outcome !== undefined && outcome !== e.outcome) problems.push(`the outcome was ${outcome}, not ${e.outcome}`);
  if (e.outcome === undefined && e.reply === undefined && r.spawnError) problems.push(`the probe did not run: ${r.spawnError}`);

  const conntrack = await lab.run(host.name, conntrackArgv());
  const mine = parseConntrack(conntrack.stdout).filter((c) => c.orig.dst === target.ip && c.orig.dport === target.port);
  if (mine.length) evidence.push({ source: 'conntrack -L', lines: mine.map((c) => `${c.line.trim()}  (ends at ${endpointOf(c)})`) });

  const gaps = predictionGaps(predicted, observed);
  return finish({ ...base, title, predicted, observed, evidence, problems, t0, outcome, reply: body.slice(0, 200), gaps });
}

/** The one meshed lab pod (not the probe's own) a target IP or single-endpoint Service VIP leads to, and the port it receives on. */
function peerPod(lab: StartedNetnsLab, self: string, target: { ip: string; port: number }): { name: string; port: number } | undefined {
  const pod = lab.plan.hosts.find((h) => h.kind === 'pod' && h.ip === target.ip);
  let found: { name: string; port: number } | undefined = pod ? { name: pod.name, port: target.port } : undefined;
  if (!found) {
    const svc = lab.mesh.services().find((s) => s.vip === target.ip);
    const p = svc?.ports.find((x) => x.port === target.port);
    if (svc && p && svc.endpoints.length === 1) found = { name: svc.endpoints[0]!, port: p.targetPort };
  }
  if (!found || found.name === self || lab.mesh.podState(found.name) === undefined) return undefined;
  return found;
}

/** A traced connection's hops with their effect (REDIRECT:15006 ...), taken from the simulator when it agrees rule for rule with the kernel for one of the candidate users. */
function withEffect(c: KernelConnection, direction: 'out' | 'in', tables: LoadedTables, users: Array<{ uid: number; gid: number }>): { hops: TraceHop[]; effect?: string } {
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
  seen: { leaves: boolean; upstream: string | undefined; app: boolean; meshed: boolean; redirected: boolean },
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
