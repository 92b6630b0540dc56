// One probe, in four named phases: predict (explain on the pod's own rules and its sidecar's
// configuration), run (the tool, with the pod's instruments and the peer pod's around it),
// observe (the evidence as hops: paths/observe-probe.ts) and check (the expectations and the
// path: paths/check.ts, paths/path-match.ts). Only predict and run talk to the lab; after them,
// a failed probe of a run with an evidence folder (--out) keeps its evidence bundle (bundle.ts),
// which reads the pods' rules and sidecars once more.
import { explain, type IptablesTrace } from '../mesh/envoy/explain.ts';
import { parseConfigDump } from '../mesh/envoy/config-dump-parser.ts';
import type { EnvoyConfig } from '../mesh/envoy/envoy-config.ts';
import type { Payload } from '../mesh/envoy/first-bytes.ts';
import { loadRuleSet, parseIptablesSave, type LoadedTables } from '../mesh/iptables/index.ts';
import { expectationProblems } from '../paths/check.ts';
import { formatHop, labRefsOf, withAddresses, type Hop } from '../paths/hop.ts';
import { kernelTrace } from '../paths/kernel-trace.ts';
import type { AccessLogLine } from '../paths/observe.ts';
import { observeProbe, type Observation, type ProbeRecord } from '../paths/observe-probe.ts';
import { envoyAgreement, matchPath, predictionGaps } from '../paths/path-match.ts';
import { kernelHopsOf, predictedHops } from '../paths/predict.ts';
import type { Bundle, Evidence, ProbeResult, ScenarioResult } from '../paths/verdict.ts';
import { conntrackArgv, endpointOf, parseConntrack } from '../probes/conntrack.ts';
import { TOOLS } from '../probes/index.ts';
import { CONTROL_PORT } from '../probes/tcpdump.ts';
import type { ConnectTool } from '../probes/tool.ts';
import type { ExpectedHops, LoadedScenario } from '../scenario/loaded.ts';
import type { RunMode } from '../scenario/setup-roles.ts';
import { durationMs, type Probe } from '../scenario/schema.ts';
import type { EvidenceFolder, LabUser, ProbeTarget, StartedBackend, WatchResult, WatchSpec } from './backend.ts';
import { ProbeBundle, type BundleInput } from './bundle.ts';

function probeTimeoutMs(timeout: string | undefined): number {
  return durationMs(timeout ?? '3s');
}

/** The user a probe runs as: its `from.uid`, the proxy's for `from.container: istio-proxy`, else the app's. */
function userOf(lab: Pick<StartedBackend, 'proxyUser' | 'appUser'>, from: Probe['from']): LabUser {
  if (from.uid !== undefined) return { uid: from.uid, gid: from.uid };
  return from.container === 'istio-proxy' ? lab.proxyUser : lab.appUser(from.pod);
}

/** A lab pod's address in this lab (scenarios name pods where an address is asked: `pod/NAME`), or undefined. */
const podAddress = (lab: Pick<StartedBackend, 'pod'>, name: string): Promise<string | undefined> => lab.pod(name).then((p) => p.ip, () => undefined);

/** Where a probe goes: the address and port it dials, and how it names them. */
async function resolveTarget(lab: Pick<StartedBackend, 'resolveHost' | 'pod'>, probe: Probe): Promise<ProbeTarget | undefined> {
  const t = probe.target;
  if (!t) return undefined;
  const port = t.port ?? 80;
  if (t.address) return { ip: t.address, port, name: t.address };
  // pod/NAME: the pod's own address in this lab, dialled as an address is.
  if (t.host?.startsWith('pod/')) {
    const ip = await podAddress(lab, t.host.slice(4));
    return ip === undefined ? undefined : { ip, port, name: ip };
  }
  return t.host === undefined ? undefined : lab.resolveHost(t.host, port);
}

/** The tool's command for this probe and target. */
export function connectArgv(tool: ConnectTool, probe: Probe, target: ProbeTarget): { argv: string[]; input?: string } {
  return tool.argv({ target, timeoutMs: probeTimeoutMs(probe.timeout), ...(probe.payload !== undefined ? { payload: probe.payload } : {}), ...(probe.halfClose !== undefined ? { halfClose: probe.halfClose } : {}), ...(probe.target?.path !== undefined ? { path: probe.target.path } : {}), ...(probe.target?.serverName !== undefined ? { serverName: probe.target.serverName } : {}) });
}

/** What a run's progress hears of each probe: that it starts, and its result when it ends. */
export interface ProbeEvents {
  started?: (scenario: string, probe: string) => void;
  done?: (p: ProbeResult) => void;
}

/**
 * Runs one scenario's probes on a lab whose setup is already applied. With `evidence`, each
 * failed probe leaves its evidence bundle there (bundle.ts) and the result names its files.
 */
export async function runProbes(lab: StartedBackend, s: LoadedScenario, mode: RunMode, notes: readonly string[] = [], signal?: AbortSignal, evidence?: EvidenceFolder, events: ProbeEvents = {}): Promise<ScenarioResult> {
  const t0 = performance.now();
  const probes: ProbeResult[] = [];
  for (const [i, probe] of s.scenario.probes.entries()) {
    if (!signal?.aborted) events.started?.(s.scenario.metadata.name, probe.name);
    const bundle = evidence && !signal?.aborted ? new ProbeBundle(evidence, s.scenario.metadata.name, probe.name, mode) : undefined;
    const r = signal?.aborted ? undefined : await runProbe(lab, s, probe, s.expected[i]!, notes, bundle).catch(async (e: Error) => {
      const broken = brokenProbe(s, probe, i, e, await lab.health([probe.from.pod]).catch(() => []));
      return bundle ? { ...broken, ...(await keepBroken(lab, bundle, probe, e)) } : broken;
    });
    // A probe under way at Ctrl-C has its evidence cut short (the terminal signals the tools too):
    // it counts as interrupted. SIGTERM reaches this process only: what finished stands.
    const cut = signal?.aborted === true && signal.reason !== 'SIGTERM';
    const result = r && !cut ? r : interruptedProbe(s, probe, i, signal!);
    if (bundle && !result.bundle) bundle.discard();
    probes.push(result);
    events.done?.(result);
  }
  const failed = probes.filter((p) => p.status === 'failed');
  const interrupted = probes.some((p) => p.status === 'skipped');
  return {
    name: s.scenario.metadata.name,
    file: s.file,
    backend: lab.backend,
    mode,
    status: failed.length > 0 ? 'failed' : interrupted ? 'skipped' : 'passed',
    ...(failed.length > 0 ? { reason: `${failed.length} of ${probes.length} probe(s) failed: ${failed.map((f) => f.probe).join(', ')}` } : interrupted ? { reason: interruptedReason(signal!) } : {}),
    probes,
    durationMs: performance.now() - t0,
  };
}

interface Prediction {
  tables: LoadedTables;
  kt: IptablesTrace;
  config?: EnvoyConfig;
  predicted: Hop[];
  /** The pod's own Envoy port the connection reaches: the redirect's, or the one it dials directly (127.0.0.1:15001). */
  sidecarPort?: number;
}

/** Phase 1: explain on the pod's own rules and its sidecar's listener table. */
async function predict(lab: StartedBackend, host: { name: string; ip: string; meshed: boolean }, target: ProbeTarget, user: LabUser, tool: ConnectTool, probe: Probe): Promise<Prediction> {
  const save = await lab.netns(host.name, ['iptables-save']);
  const tables = loadRuleSet(parseIptablesSave(save.stdout));
  // An HTTPS request shows Envoy its TLS ClientHello: the SNI and curl's ALPN.
  const payload: Payload = probe.target?.serverName !== undefined
    ? { kind: 'tls', sni: probe.target.serverName, alpn: ['h2', 'http/1.1'] }
    : tool.payloadKind === 'http'
    ? { kind: 'http', host: `${target.name}:${target.port}`, path: probe.target?.path ?? '/' }
    : probe.payload !== undefined ? { kind: 'bytes', text: probe.payload } : { kind: 'none' };
  const dst = { ip: target.ip, port: target.port };
  const kt = kernelTrace(tables, { src: host.ip, dst, podIp: host.ip, uid: user.uid, gid: user.gid });
  if (!host.meshed) return { tables, kt, predicted: kernelHopsOf(kt) };
  const config = parseConfigDump(await lab.configDump(host.name));
  const e = explain(kt, config, { src: host.ip, dst, uid: user.uid, payload });
  const sidecarPort = kt.effect.kind === 'redirected' ? kt.effect.port : e.listener !== null ? target.port : undefined;
  // An HTTP client (curl) prints the answer's body, not the status line Envoy writes: that reply hop is nothing the tool can show.
  const predicted = predictedHops(e).filter((h) => tool.payloadKind !== 'http' || h.kind !== 'reply' || h.closed === true);
  return { tables, kt, config, predicted, ...(sidecarPort === undefined ? {} : { sidecarPort }) };
}

/** The line of a sidecar's access log whose downstream local address is `addr`, waited for up to `ms`. */
async function logLineFor(read: () => Promise<AccessLogLine[]>, addr: string, ms: number): Promise<AccessLogLine | undefined> {
  const until = performance.now() + ms;
  for (;;) {
    const line = (await read()).find((l) => l.downstream_local_address === addr);
    if (line || performance.now() >= until) return line;
    await new Promise((res) => setTimeout(res, 10));
  }
}

/** Phase 2: the probe with the pod's instruments, the peer pod's and the access logs around it. */
async function run(lab: StartedBackend, host: { name: string; ip: string }, target: ProbeTarget, user: LabUser, tool: ConnectTool, probe: Probe, p: Prediction, bundle?: ProbeBundle): Promise<{ record: ProbeRecord; captures: Evidence[]; notes: string[]; peer?: string; kept: Omit<BundleInput, 'pods'> }> {
  const readLog = p.config ? await lab.accessLogFrom(host.name, p.config) : undefined;
  // The pod the connection is for, when it is one meshed pod of the lab other than the probe's:
  // its kernel is traced too (the inbound capture, and its sidecar's connection to the app),
  // and its sidecar's access log says when it is done.
  const peer = await lab.peerPod(host.name, target);
  const peerPod = peer ? await lab.pod(peer.name) : undefined;
  const peerTables = peer ? loadRuleSet(parseIptablesSave((await lab.netns(peer.name, ['iptables-save'])).stdout)) : undefined;
  // The peer's sidecar logs the connection only when its kernel captures it (not an excluded port, not the sidecar's own).
  const peerCaptures = peerPod && peerTables && kernelTrace(peerTables, { src: host.ip, dst: { ip: peerPod.ip, port: peer!.port }, podIp: peerPod.ip }).effect.kind === 'redirected';
  const readPeerLog = peer && peerCaptures ? await lab.accessLogFrom(peer.name, parseConfigDump(await lab.configDump(peer.name))) : undefined;
  // The probe's own captures, in the pods they name.
  const asked = (probe.captures ?? []).flatMap((c) => (c.tcpdump ? [{ pod: c.tcpdump.pod ?? host.name, iface: c.tcpdump.iface, filter: c.tcpdump.filter }] : []));
  const capturesIn = (pod: string) => asked.filter((c) => c.pod === pod).map(({ iface, filter }) => ({ iface, filter }));
  const others = [...new Set(asked.map((c) => c.pod))].filter((pod) => pod !== host.name && pod !== peer?.name);
  // With an evidence bundle, the probe's pod and the peer pod also record a full pcap (deleted when the probe passes).
  const pcap = (pod: string) => (bundle ? { pcap: bundle.pcapFile(pod) } : {});
  const specs: Array<[string, WatchSpec]> = [
    [host.name, { trace: [{ chain: 'OUTPUT', proto: 'tcp', dport: target.port }], syns: true, captures: capturesIn(host.name), ...pcap(host.name) }],
    ...(peer ? [[peer.name, { trace: [{ chain: 'PREROUTING', proto: 'tcp', dport: peer.port }, { chain: 'OUTPUT', proto: 'tcp', dport: peer.port }], syns: false, captures: capturesIn(peer.name), ...pcap(peer.name) }] as [string, WatchSpec]] : []),
    ...others.map((pod): [string, WatchSpec] => [pod, { trace: [], syns: false, captures: capturesIn(pod) }]),
  ];
  // Every watch that started is ended or cancelled, whatever fails.
  const started = await Promise.allSettled(specs.map(([pod, spec]) => lab.watch(pod, spec)));
  const watches = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const open = new Set(watches);
  try {
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    const { argv, input } = connectArgv(tool, probe, target);
    // The tool ends itself at its timeout (nc at the whole second above it); the lab kills it a moment after.
    const result = await lab.probe(host.name, argv, { user, timeoutMs: Math.ceil(probeTimeoutMs(probe.timeout) / 1000) * 1000 + 1000, ...(input === undefined ? {} : { input }) });
    // The sidecars log a connection when it ends: once their lines are there, every connection the
    // probe caused has been made (a client that only connects, nc -z, is done before its sidecar's upstream).
    const accessLog = readLog && p.sidecarPort !== undefined ? await logLineFor(readLog, `${target.ip}:${target.port}`, lab.accessLogWaitMs) : undefined;
    const peerAccessLog = readPeerLog && peer && peerPod ? await logLineFor(readPeerLog, `${peerPod.ip}:${peer.port}`, lab.accessLogWaitMs) : undefined;
    // The positive control: a SYN the capture must see, sent by the proxy uid (never redirected)
    // to the target's address on the discard port. It is also the barrier of the pod's record.
    await lab.controlSyn(host.name, target.ip, CONTROL_PORT);
    const ends = watches.map((w, i) => {
      open.delete(w);
      return i === 0 ? w.end({ dst: target.ip, dport: CONTROL_PORT }) : w.end();
    });
    const recs = await Promise.all(ends);
    const records = new Map<string, WatchResult>(specs.map(([pod], i) => [pod, recs[i]!]));
    const rec = recs[0]!;
    const peerRec = peer ? records.get(peer.name) : undefined;
    const record: ProbeRecord = {
      host,
      target,
      tool,
      result,
      users: { probe: user, proxy: lab.proxyUser },
      tables: p.tables,
      ...(p.sidecarPort !== undefined ? { capturePort: p.sidecarPort } : {}),
      trace: rec,
      syns: rec.syns,
      ...(peer && peerRec && peerTables ? { peer: { name: peer.name, port: peer.port, tables: peerTables, app: lab.appUser(peer.name), trace: peerRec } } : {}),
      ...(accessLog ? { accessLog } : {}),
      ...(peerAccessLog ? { peerAccessLog } : {}),
    };
    // Each asked capture's text: the n-th capture of its pod's record.
    const captures = asked.map((c): Evidence => {
      const nth = asked.filter((x) => x.pod === c.pod).indexOf(c);
      return { source: `tcpdump -i ${c.iface} ${c.filter} (in ${c.pod})`, lines: (records.get(c.pod)?.captures[nth] ?? '').split('\n').filter(Boolean) };
    });
    // What a failed probe's bundle takes from the run: the probe's pod's and the peer's records and sidecar logs.
    const watched = [host.name, ...(peer ? [peer.name] : [])];
    const logs = [...(readLog ? [{ pod: host.name, read: readLog }] : []), ...(readPeerLog && peer ? [{ pod: peer.name, read: readPeerLog }] : [])];
    const kept: Omit<BundleInput, 'pods'> = { records: new Map(watched.map((pod) => [pod, records.get(pod)!])), logs, result };
    return { record, captures, notes: recs.flatMap((r) => r.notes), ...(peer ? { peer: peer.name } : {}), kept };
  } finally {
    await Promise.all([...open].map((w) => w.cancel()));
  }
}

/**
 * The expected hops with each lab host they name (`pod/NAME`, `svc/NAME`) replaced by its address
 * in this lab: the path is compared, and reported, as this lab has it.
 */
async function withLabAddresses(lab: StartedBackend, want: ExpectedHops): Promise<{ want: ExpectedHops; problems: string[]; addresses: Map<string, string> }> {
  const refs = [...want.path, ...want.notPath].flatMap(labRefsOf);
  if (refs.length === 0) return { want, problems: [], addresses: new Map() };
  const addresses = new Map<string, string>();
  const problems: string[] = [];
  for (const r of refs) {
    if (addresses.has(r.ref) || problems.some((p) => p.startsWith(`${r.ref}:`))) continue;
    const ip = r.kind === 'pod' ? await podAddress(lab, r.name) : (await lab.resolveHost(r.name, r.port ?? 80))?.ip;
    if (ip) addresses.set(r.ref, ip);
    else problems.push(`${r.ref}: no ${r.kind === 'pod' ? 'pod' : 'Service'} "${r.name}" in this lab`);
  }
  return { want: { path: want.path.map((h) => withAddresses(h, addresses)), notPath: want.notPath.map((h) => withAddresses(h, addresses)) }, problems, addresses };
}

async function runProbe(lab: StartedBackend, s: LoadedScenario, probe: Probe, written: ExpectedHops, notes: readonly string[] = [], bundle?: ProbeBundle): Promise<ProbeResult> {
  const t0 = performance.now();
  const host = await lab.pod(probe.from.pod);
  const name = s.scenario.metadata.name;
  const setup: Evidence[] = notes.length ? [{ source: 'setup', lines: [...notes] }] : [];
  const { want, problems: unnamed, addresses } = await withLabAddresses(lab, written);
  if (unnamed.length) return verdict({ name, probe, title: `${name} · ${host.name}`, want, predicted: [], observed: [], evidence: setup, problems: unnamed, t0 });
  const named = <T extends ProbeResult>(r: T): T => (addresses.size ? { ...r, labHosts: Object.fromEntries(addresses) } : r);
  const tool = TOOLS[probe.tool];
  /** After the check: a failed probe's evidence bundle, when the run keeps them. */
  const keep = async (r: ProbeResult, x: Omit<BundleInput, 'pods'>, peer?: string): Promise<ProbeResult> =>
    bundle && r.status === 'failed'
      ? bundle.keep(lab, { ...x, pods: [host, ...(peer ? [{ name: peer, meshed: true }] : [])] }).then(
          (b) => ({ ...r, bundle: b }),
          // A bundle that cannot be written (a full disk) is said; the probe's verdict stands.
          (e: Error) => ({ ...r, evidence: [...r.evidence, { source: 'evidence bundle', lines: [`not written: ${e.message}`] }] }),
        )
      : r;

  if (tool.kind === 'pod-state') {
    const argv = tool.argv();
    const r = await lab.netns(host.name, argv);
    const evidence = [...setup, { source: argv.join(' '), lines: r.stdout.split('\n').filter(Boolean) }];
    const problems = tool.check(r.stdout, { ...(probe.expect.listening ? { listening: probe.expect.listening } : {}), ...(probe.expect.rules ? { rules: probe.expect.rules } : {}) });
    return keep(verdict({ name, probe, title: `${name} · ${host.name} (${host.ip}) ${probe.tool}`, want, predicted: [], observed: [], evidence, problems, t0 }), { result: r });
  }

  const target = await resolveTarget(lab, probe);
  if (!target) return keep(verdict({ name, probe, title: `${name} · ${host.name}`, want, predicted: [], observed: [], evidence: setup, problems: ['the target does not resolve in this lab'], t0 }), {});
  const title = `${name} · ${host.name} (${host.ip}) → ${target.ip}:${target.port}`;
  const outside = await lab.targetProblem(target.ip);
  if (outside) return keep(verdict({ name, probe, title, want, predicted: [], observed: [], evidence: setup, problems: [outside], t0 }), {});
  const user = userOf(lab, probe.from);

  const prediction = await predict(lab, host, target, user, tool, probe);
  const { record, captures, notes: cutShort, peer, kept } = await run(lab, host, target, user, tool, probe, prediction, bundle);
  // A process of the lab that died (a sidecar, the app, the server) explains what was seen better than any path.
  const broken = await lab.health([host.name, ...(peer ? [peer] : [])], target.ip);
  const seen: Observation = observeProbe(record);

  // Phase 4: the expectations.
  // sourceSeenByApp: pod/NAME is that pod's address in this lab.
  const seenBy = probe.expect.sourceSeenByApp;
  const expect = seenBy?.startsWith('pod/') ? { ...probe.expect, sourceSeenByApp: (await podAddress(lab, seenBy.slice(4))) ?? seenBy } : probe.expect;
  const problems = [...broken, ...expectationProblems(expect, { reading: seen.reading, outcome: seen.outcome, target, syns: seen.syns, control: { ip: target.ip, port: CONTROL_PORT }, ...(seen.appSource ? { appSource: seen.appSource } : {}) })];
  if (probe.expect.outcome === undefined && probe.expect.reply === undefined && record.result.spawnError) problems.push(`the probe did not run: ${record.result.spawnError}`);
  const evidence = [...setup, ...seen.evidence, ...captures, ...(cutShort.length ? [{ source: 'instruments', lines: cutShort }] : [])];
  if ((probe.captures ?? []).some((c) => c.conntrack)) {
    const conntrack = await lab.netns(host.name, conntrackArgv());
    const mine = parseConntrack(conntrack.stdout).filter((c) => c.orig.dst === target.ip && c.orig.dport === target.port);
    evidence.push({ source: 'conntrack -L', lines: mine.map((c) => `${c.line.trim()}  (ends at ${endpointOf(c)})`) });
  }
  const result = verdict({ name, probe, title, want, predicted: prediction.predicted, observed: seen.observed, evidence, problems, t0, outcome: seen.outcome, reply: seen.reading.body.slice(0, 200), gaps: predictionGaps(prediction.predicted, seen.observed), agrees: envoyAgreement(prediction.predicted, seen.sidecarHop), broken });
  return keep(named(result), kept, peer);
}

/** The bundle of a probe the lab could not run, as far as the lab still answers: the probe's pod's rules and sidecar, the pcaps written, why it broke. */
async function keepBroken(lab: StartedBackend, bundle: ProbeBundle, probe: Probe, e: Error): Promise<{ bundle?: Bundle }> {
  const host = await lab.pod(probe.from.pod).catch(() => ({ name: probe.from.pod, meshed: false }));
  return bundle.keep(lab, { pods: [host], error: e.message }).then(
    (b) => ({ bundle: b }),
    () => ({}),
  );
}

/** Why a run stopped short: `interrupted (SIGINT)`. */
export const interruptedReason = (signal: AbortSignal): string => `interrupted (${String(signal.reason ?? 'aborted')})`;

function interruptedProbe(s: LoadedScenario, probe: Probe, i: number, signal: AbortSignal): ProbeResult {
  return unrunProbe(s, probe, i, 'skipped', interruptedReason(signal));
}

/**
 * A probe the lab could not run (an instrument that did not start, a pod that is gone, a sidecar
 * whose admin no longer answers): failed, with why; a process of the pod that died is the reason.
 */
function brokenProbe(s: LoadedScenario, probe: Probe, i: number, e: Error, dead: readonly string[]): ProbeResult {
  const reason = dead.length > 0 ? dead.join('; ') : `the probe could not run: ${e.message}`;
  return { ...unrunProbe(s, probe, i, 'failed', reason), evidence: [{ source: 'the lab', lines: e.message.split('\n') }] };
}

function unrunProbe(s: LoadedScenario, probe: Probe, i: number, status: 'skipped' | 'failed', reason: string): ProbeResult {
  const want = s.expected[i]!;
  return {
    scenario: s.scenario.metadata.name,
    probe: probe.name,
    title: `${s.scenario.metadata.name} · ${probe.from.pod}`,
    status,
    reason,
    expected: want.path.map(formatHop),
    notExpected: want.notPath.map(formatHop),
    predicted: [],
    observed: [],
    matched: want.path.map(() => null),
    notExpectedSeen: [],
    predictionGaps: [],
    evidence: [],
    retries: [],
    durationMs: 0,
  };
}

/** Phase 4's last step: the path against the expected hops, and the result the reporters read. */
function verdict(x: {
  name: string;
  probe: Probe;
  title: string;
  want: ExpectedHops;
  predicted: Hop[];
  observed: Hop[];
  evidence: Evidence[];
  problems: string[];
  t0: number;
  outcome?: string;
  reply?: string;
  gaps?: string[];
  agrees?: boolean | undefined;
  broken?: string[];
}): ProbeResult {
  const m = x.observed.length ? matchPath(x.want.path, x.want.notPath, x.observed) : undefined;
  const diff = m?.difference;
  const failed = diff !== undefined || x.problems.length > 0;
  return {
    scenario: x.name,
    probe: x.probe.name,
    title: x.title,
    status: failed ? 'failed' : 'passed',
    // A dead process of the lab is the reason, before any path difference it caused.
    ...(failed ? { reason: x.broken?.length ? x.broken.join('; ') : diff ? `${diff.why}: ${diff.index < 0 ? 'must not see' : 'expected'} ${diff.expected}` : x.problems.join('; ') } : {}),
    expected: x.want.path.map(formatHop),
    notExpected: x.want.notPath.map(formatHop),
    predicted: x.predicted.map(formatHop),
    observed: x.observed.map(formatHop),
    matched: m?.matched ?? x.want.path.map(() => null),
    notExpectedSeen: (m?.notExpectedSeen ?? []).map(formatHop),
    ...(diff ? { firstDifference: diff } : {}),
    predictionGaps: x.gaps ?? [],
    ...(x.agrees === undefined ? {} : { explainAgrees: x.agrees }),
    ...(x.outcome ? { outcome: x.outcome } : {}),
    ...(x.reply !== undefined ? { reply: x.reply } : {}),
    evidence: x.problems.length ? [{ source: 'expectations', lines: x.problems }, ...x.evidence] : x.evidence,
    retries: [],
    durationMs: performance.now() - x.t0,
  };
}
