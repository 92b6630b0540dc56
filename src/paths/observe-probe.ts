// The observe phase of a probe, pure: from what the run recorded (the tool's output, the
// kernel's trace in the probe pod and the peer pod, the SYNs on eth0, the access log line) to
// the observed hops, the tool's reading and outcome, and the evidence lines of the report.
import { formatEffect, traceConnection, type LoadedTables, type TraceHop } from '../mesh/iptables/index.ts';
import { handlePositionsOfRuleset, kernelConnections, kernelHops, parseXtablesMonitor, type KernelConnection } from '../probes/kernel-trace.ts';
import { outcomeOf, type Outcome, type ToolReading } from '../probes/outcome.ts';
import type { ProcessResult, ProcessUser as User } from '../probes/process-result.ts';
import { CONTROL_PORT, parseTcpdump, type Packet } from '../probes/tcpdump.ts';
import type { ConnectTool } from '../probes/tool.ts';
import { formatHop, type Hop } from './hop.ts';
import { accessLogHop, observedHops, parseEchoReply, rulesHop, type AccessLogLine, type ObservedEvidence, type TracedRules } from './observe.ts';
import type { Evidence } from './verdict.ts';

/** What one run of a connect probe recorded. */
export interface ProbeRecord {
  host: { name: string; ip: string };
  target: { ip: string; port: number };
  tool: ConnectTool;
  result: ProcessResult;
  /** The users whose connections leave the probe pod: the probe's, then the proxy's. */
  users: { probe: User; proxy: User };
  /** The probe pod's rules (the simulator names each traced connection's effect from them). */
  tables: LoadedTables;
  /** Where the kernel sent the connection, by the prediction: the capture port when redirected. */
  capturePort?: number;
  /** The kernel trace and SYN capture of the probe pod. */
  trace: { trace: string; ruleset: string };
  syns: string;
  /** The peer pod: its name, the port it receives on, its rules and trace, its app's user. */
  peer?: { name: string; port: number; tables: LoadedTables; app: User; trace: ProbeRecord['trace'] };
  accessLog?: AccessLogLine;
  /** The target pod's sidecar's line of the connection, when the target is a meshed pod whose kernel captures it. */
  peerAccessLog?: AccessLogLine;
}

export interface Observation {
  observed: Hop[];
  /** The hop the probe pod's own sidecar logged (what explain predicts), if it logged one. */
  sidecarHop?: Hop;
  reading: ToolReading;
  outcome: Outcome;
  syns: Packet[];
  appSource?: string;
  evidence: Evidence[];
}

const readTrace = (t: { trace: string; ruleset: string }) => ({ packets: parseXtablesMonitor(t.trace), handles: handlePositionsOfRuleset(t.ruleset) });

/** One traced rule, in the hop notation, with the rule's target: `nat/ISTIO_OUTPUT#9 (ISTIO_REDIRECT)`. */
const ruleText = (h: TraceHop) => `${h.table}/${h.chain}#${h.rule} (${h.target})`;
const tracedText = (c: TracedRules) => formatHop(rulesHop(c));

/** A traced connection's effect (REDIRECT:15006 …), from the simulator when it agrees rule for rule with the kernel for one of the candidate users. */
function withEffect(c: KernelConnection, direction: 'out' | 'in', tables: LoadedTables, users: readonly User[]): TracedRules {
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

export function observeProbe(r: ProbeRecord): Observation {
  const { target, host } = r;
  const evidence: Evidence[] = [];
  const reading = r.tool.read(r.result);
  const out = r.result;
  evidence.push({
    source: `${out.argv.join(' ')} (exit ${out.exitCode}${out.timedOut ? ', timed out' : ''})`,
    lines: [...out.stdout.split('\n').slice(0, 12), ...(out.stderr ? [`stderr: ${out.stderr.trim()}`] : []), ...(out.spawnError ? [`not run: ${out.spawnError}`] : [])],
  });
  const syns = parseTcpdump(r.syns);
  evidence.push({ source: 'tcpdump -i eth0 (SYNs leaving the pod)', lines: syns.map((p) => p.line) });

  // The connection's first packet in the kernel, and the simulator's effect when it agrees rule for rule.
  const trace = readTrace(r.trace);
  const first = kernelHops(trace.packets, { direction: 'out', proto: 'tcp', dst: target.ip, dport: target.port, nth: 0 }, trace.handles);
  const kernel = first ? withEffect({ ...first.first, hops: first.hops }, 'out', r.tables, [r.users.probe]) : undefined;
  if (first) evidence.push({ source: 'xtables-monitor --trace', lines: first.hops.map(ruleText) });
  // The pod's later connections to that port (its sidecar's upstream, or its connection to its
  // own pod IP), and in the peer pod the inbound capture and the sidecar's connection to the app.
  const all = kernelConnections(trace.packets, { direction: 'out', proto: 'tcp', dport: target.port }, trace.handles);
  const firstAt = all.findIndex((c) => c.dst === target.ip);
  const later = all.filter((_, i) => i !== firstAt).map((c) => withEffect(c, 'out', r.tables, [r.users.probe, r.users.proxy]));
  const peer: TracedRules[] = [];
  if (r.peer) {
    const p = r.peer;
    const pt = readTrace(p.trace);
    for (const c of kernelConnections(pt.packets, { direction: 'in', proto: 'tcp', dport: p.port }, pt.handles)) peer.push(withEffect(c, 'in', p.tables, []));
    for (const c of kernelConnections(pt.packets, { direction: 'out', proto: 'tcp', dport: p.port }, pt.handles)) peer.push(withEffect(c, 'out', p.tables, [r.users.proxy, p.app]));
  }
  for (const [who, list] of [[host.name, later], [r.peer?.name, peer]] as const) {
    if (list.length) evidence.push({ source: `xtables-monitor --trace in ${who} (further connections)`, lines: list.map(tracedText) });
  }
  if (r.accessLog) evidence.push({ source: 'sidecar access log', lines: [JSON.stringify(r.accessLog)] });
  if (r.peerAccessLog) evidence.push({ source: `sidecar access log in ${r.peer?.name ?? 'the target pod'}`, lines: [JSON.stringify(r.peerAccessLog)] });

  const wire = syns.filter((p) => !(p.dst === target.ip && p.dport === CONTROL_PORT)).map((p) => `${p.dst}:${p.dport}`);
  const app = parseEchoReply(reading.body);
  const obs: ObservedEvidence = {
    ...(kernel ? { kernel } : {}),
    ...(r.capturePort !== undefined ? { capturePort: r.capturePort } : {}),
    ...(r.accessLog ? { accessLog: r.accessLog } : {}),
    later: later.filter((c) => c.hops.length > 0),
    peer: peer.filter((c) => c.hops.length > 0),
    ...(r.peerAccessLog ? { peerAccessLog: r.peerAccessLog } : {}),
    wire,
    ...(app ? { app } : {}),
    reply: { firstLine: (reading.body.split('\n')[0] ?? '').replace(/\r$/, ''), bytes: reading.body.length },
  };
  const leaves = wire.includes(`${target.ip}:${target.port}`);
  const upstream = r.accessLog?.upstream_host;
  // Connect is not reach: it reached its target only if something went upstream: a SYN left the
  // pod, the access log names an upstream host, the application described itself, or no sidecar
  // stood in the way.
  const wentUpstream = leaves || (upstream !== undefined && upstream !== '-') || app !== undefined || r.capturePort === undefined;
  const sidecarHop = r.accessLog ? accessLogHop(r.accessLog, r.capturePort) : undefined;
  return { observed: observedHops(obs), ...(sidecarHop ? { sidecarHop } : {}), reading, outcome: outcomeOf(reading, wentUpstream), syns, ...(app ? { appSource: app.src } : {}), evidence };
}
