// The kind backend's node-side evidence commands (src/lab/kind/evidence.ts), run for real on
// this machine's kernel: a network namespace stands in for a kind pod, this host for the kind
// node. The builders make `docker exec <node> <argv>`; there is no Docker here, so the first
// three elements are stripped and the rest runs on the host, where `nsenter -t <pid> -n`
// enters the "pod" by the pid of a process living in it, as it would in the node container.
//
// The pod namespace has lo and eth0 (a veth to a peer namespace, nothing to the host) and
// Istio's current sidecar rules (istio-init's payload, loaded with iptables-restore). Checked:
// iptables-save by pid; the kernel trace (TRACE rule, xtables-monitor in the background,
// handle listings, stop, removal) against the simulator's hops; the background scripts' files
// and readiness; the capture's positive control (a SYN sent as the proxy uid leaves eth0, the
// app uid's SYN does not: it is redirected to the sidecar); the full pcap of a failed probe's
// evidence bundle (tcpdump -w in the background, brought over as base64).
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { caps } from '../helpers/caps.ts';
import {
  PROXY_USER, backgroundDropArgv, backgroundFileArgv, backgroundFilePath, backgroundReadyArgv, backgroundStartArgv, backgroundStopArgv, controlSynArgv, inPodNetnsArgv, iptablesSaveArgv, kernelTraceArgvs,
} from '../../src/lab/kind/evidence.ts';
import { loadRuleSet, parseIptablesSave, traceConnection } from '../../src/mesh/iptables/index.ts';
import type { TraceHop } from '../../src/mesh/iptables/index.ts';
import { istioInitRules } from '../../src/mesh/iptables/index.ts';
import { SYN_FILTER, pcapArgv, tcpdumpArgv } from '../../src/probes/tcpdump.ts';
import { handlePositions, kernelHops, parseXtablesMonitor } from '../../src/probes/kernel-trace.ts';
import { parseTcpdump } from '../../src/probes/tcpdump.ts';

// npm puts node_modules/.bin first on PATH, and @vercel/nft installs a `nft` there: every
// system tool is found by absolute path, and the stripped node commands (which name their
// tools bare, as in the node container) run with a PATH without node_modules.
const SYS_PATH = [...new Set([...(process.env.PATH ?? '').split(':').filter((d) => d && !d.includes('node_modules')), '/usr/sbin', '/usr/bin', '/sbin', '/bin'])];
function sysbin(name: string): string | undefined {
  for (const dir of SYS_PATH) if (existsSync(`${dir}/${name}`)) return `${dir}/${name}`;
  return undefined;
}
const HOST_ENV = { ...process.env, PATH: SYS_PATH.join(':') };

const TOOLS = ['ip', 'nsenter', 'xtables-monitor', 'nft', 'tcpdump', 'bash', 'setpriv', 'nc', 'timeout', 'iptables-nft', 'iptables-nft-save', 'iptables-nft-restore', 'sleep'];
const missing = TOOLS.filter((name) => !sysbin(name));
const skipWhy = !caps.root ? 'needs root' : !caps.netns ? 'needs ip netns' : missing.length ? `needs ${missing.join(', ')}` : '';
const netns = skipWhy ? test.skip : test.serial;
const title = (text: string): string => (skipWhy ? `[skipped: ${skipWhy}] ${text}` : `[needs root] ${text}`);
const bin = (name: string): string => sysbin(name) ?? name;
const IP = bin('ip');

const PID = process.pid;
const NODE = `pl-kind-node-${PID}`;
const POD_NS = `pl-kpod-${PID}`;
const PEER_NS = `pl-kpeer-${PID}`;
const POD_IP = '10.97.0.2';
const PEER_IP = '10.97.0.1';
const APP_USER = { uid: 1000, gid: 1000 };
const TRACE_KEY = `kt-${PID}`;
const CAPTURE_KEY = `kc-${PID}`;
const PCAP_KEY = `kp-${PID}`;
const BG = '/tmp/pathlab';

interface Ran {
  status: number | null;
  stdout: string;
  stderr: string;
}
function runRaw(argv: readonly string[], input?: string, timeout = 20_000): Ran {
  const r = spawnSync(argv[0] as string, argv.slice(1), { input, encoding: 'utf8', timeout, env: HOST_ENV });
  return { status: r.status, stdout: r.stdout ?? '', stderr: `${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}
function run(argv: readonly string[], input?: string): string {
  const r = runRaw(argv, input);
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}
const inNs = (ns: string, argv: readonly string[], input?: string): string => run([IP, 'netns', 'exec', ns, bin(argv[0] as string), ...argv.slice(1)], input);

/** A `docker exec <node> ...` argv of the builders, run on this host as the node: the docker prefix stripped. */
function onNode(argv: readonly string[], timeout?: number): Ran {
  if (argv[0] !== 'docker' || argv[1] !== 'exec' || argv[2] !== NODE) throw new Error(`not a node command: ${argv.join(' ')}`);
  return runRaw(argv.slice(3), undefined, timeout);
}
function onNodeOk(argv: readonly string[]): string {
  const r = onNode(argv);
  if (r.status !== 0) throw new Error(`${argv.slice(3).join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}
/** An app connection from the pod: uid 1000, never the proxy's. */
const appConnect = (port: number): Ran => runRaw([IP, 'netns', 'exec', POD_NS, bin('setpriv'), `--reuid=${APP_USER.uid}`, `--regid=${APP_USER.gid}`, '--clear-groups', bin('nc'), '-z', '-w', '1', PEER_IP, String(port)]);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const state: { podProc?: ChildProcess; pid?: number; save?: string; monitorPid?: number; made: string[] } = { made: [] };

/** The pid a background script wrote for `key`. */
function backgroundPid(key: string): number | undefined {
  const file = `${BG}/${key}.pid`;
  const pid = existsSync(file) ? Number(readFileSync(file, 'utf8').trim()) : NaN;
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}
/** Whether `pid` is still running `comm` (a zombie, or another program under a reused pid, is not). */
function running(pid: number | undefined, comm: string): boolean {
  if (!pid || !existsSync(`/proc/${pid}/stat`)) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) === comm && stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}
/** The signals a process ignores, from /proc/<pid>/status (a bit mask, signal n at bit n-1). */
function ignoredSignals(pid: number): bigint {
  const m = /^SigIgn:\s*([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? BigInt(`0x${m[1]}`) : 0n;
}
const SIGINT_BIT = 1n << 1n;

/** Every background process of ours (with its program), to be killed at the end if still running. */
const background: { pid: number; comm: string }[] = [];
function killBackground(): void {
  for (const { pid, comm } of background) {
    if (!running(pid, comm)) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const key of [TRACE_KEY, CAPTURE_KEY, PCAP_KEY]) spawnSync('rm', ['-f', `${BG}/${key}.pid`, `${BG}/${key}.out`, `${BG}/${key}.pcap`]);
}

test.before(async () => {
  if (skipWhy) return;
  for (const ns of [POD_NS, PEER_NS]) {
    run([IP, 'netns', 'add', ns]);
    state.made.push(ns);
    inNs(ns, ['ip', 'link', 'set', 'lo', 'up']);
  }
  // created in the pod namespace with its peer in the peer namespace: it never exists on the host
  run([IP, '-n', POD_NS, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', PEER_NS]);
  inNs(POD_NS, ['ip', 'addr', 'add', `${POD_IP}/24`, 'dev', 'eth0']);
  inNs(PEER_NS, ['ip', 'addr', 'add', `${PEER_IP}/24`, 'dev', 'eth0']);
  inNs(POD_NS, ['ip', 'link', 'set', 'eth0', 'up']);
  inNs(PEER_NS, ['ip', 'link', 'set', 'eth0', 'up']);
  // istio-init's rules, as the sidecar injector runs it today
  const { payload } = istioInitRules('current', {}, { uid: PROXY_USER.uid, gid: PROXY_USER.gid }, []);
  inNs(POD_NS, ['iptables-nft-restore', '--noflush'], payload);
  // the pod's container: `ip netns exec` execs, so the child's pid is a process in the pod namespace
  const proc = spawn(IP, ['netns', 'exec', POD_NS, bin('sleep'), '300'], { stdio: 'ignore', env: HOST_ENV });
  state.podProc = proc;
  const pid = proc.pid;
  if (!pid) throw new Error('sleep in the pod namespace did not start');
  // wait until the exec happened (the process's netns is the pod's, not the host's)
  const podNsId = run([bin('stat'), '-L', '-c', '%i', `/run/netns/${POD_NS}`]).trim();
  for (let i = 0; ; i++) {
    const r = runRaw([bin('stat'), '-L', '-c', '%i', `/proc/${pid}/ns/net`]);
    if (r.status === 0 && r.stdout.trim() === podNsId && readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'sleep') break;
    if (i >= 50) throw new Error(`pid ${pid} never entered ${POD_NS}`);
    await sleep(50);
  }
  state.pid = pid;
});

test.after.always(() => {
  killBackground();
  if (state.podProc && state.podProc.exitCode === null) state.podProc.kill('SIGKILL');
  for (const ns of state.made) spawnSync(IP, ['netns', 'del', ns]);
});

const podPid = (): number => {
  if (!state.pid) throw new Error('the pod process did not start');
  return state.pid;
};

netns(title('iptablesSaveArgv: nsenter by the pod pid prints the pod\'s rules (ISTIO_OUTPUT)'), (t) => {
  const argv = iptablesSaveArgv(NODE, podPid(), 'nft');
  t.deepEqual(argv.slice(3, 8), ['nsenter', '-t', String(podPid()), '-n', '--']);
  const save = onNodeOk(argv);
  t.regex(save, /^:ISTIO_OUTPUT /m);
  t.regex(save, /^-A ISTIO_OUTPUT /m);
  t.regex(save, /^-A OUTPUT -j ISTIO_OUTPUT$/m);
  // read from the pod namespace, not the host's
  t.is(save.replace(/^#.*\n/gm, ''), inNs(POD_NS, ['iptables-nft-save']).replace(/^#.*\n/gm, ''));
  state.save = save;
});

netns(title('kernelTraceArgvs: the kernel\'s hops of an app connection equal the simulator\'s, end in nat ISTIO_REDIRECT, and no TRACE rule is left'), async (t) => {
  const save = state.save ?? onNodeOk(iptablesSaveArgv(NODE, podPid(), 'nft'));
  const a = kernelTraceArgvs(NODE, podPid(), TRACE_KEY, [{ chain: 'OUTPUT', proto: 'tcp', dport: 7000 }]);
  t.deepEqual(a.start.slice(3, 5), ['sh', '-c']);
  let text: string;
  const listings: Record<string, string> = {};
  try {
    for (const argv of a.add) onNodeOk(argv);
    onNodeOk(a.start);
    const monitorPid = backgroundPid(TRACE_KEY);
    if (monitorPid) background.push({ pid: monitorPid, comm: 'xtables-monitor' });
    state.monitorPid = monitorPid;
    await sleep(300);
    // (after the pause: the forked sh becomes nsenter, which execs xtables-monitor in the pod's netns)
    t.true(running(monitorPid, 'xtables-monitor'), 'the pid file names the running xtables-monitor');
    appConnect(7000);
    await sleep(200);
    for (const l of a.listings) {
      const r = onNode(l.argv);
      if (r.status === 0) listings[l.table] = r.stdout;
    }
    text = onNodeOk(a.stop);
  } finally {
    for (const argv of a.remove) onNode(argv);
  }
  t.truthy(listings.raw, 'the raw table (with our TRACE rule) was listed');
  t.truthy(listings.nat, 'the nat table was listed');
  t.regex(text, /^PACKET: /m, `xtables-monitor printed packets:\n${text}`);

  const kernel = kernelHops(parseXtablesMonitor(text), { direction: 'out', proto: 'tcp', dst: PEER_IP, dport: 7000 }, handlePositions(listings));
  t.truthy(kernel, `no kernel trace of ${PEER_IP}:7000 in:\n${text}`);
  const sim = traceConnection(loadRuleSet(parseIptablesSave(save)), {
    direction: 'out', proto: 'tcp', src: POD_IP, dst: PEER_IP, dport: 7000, uid: APP_USER.uid, gid: APP_USER.gid, oif: 'eth0',
  });
  t.log(`kernel: ${(kernel?.hops ?? []).map((h) => `${h.table}/${h.chain}#${h.rule}(${h.target})`).join(' -> ')}`);
  t.deepEqual(kernel?.hops, sim.hops);
  t.like(kernel?.hops.at(-1) ?? {}, { table: 'nat', chain: 'ISTIO_REDIRECT' } satisfies Partial<TraceHop>);
  t.like(kernel?.first ?? {}, { src: POD_IP, dst: PEER_IP, dport: 7000, iface: 'eth0' });

  // the TRACE rule is gone again
  const raw = inNs(POD_NS, ['iptables-nft-save', '-t', 'raw']);
  t.notRegex(raw, /-j TRACE/);
  const rawNft = runRaw([IP, 'netns', 'exec', POD_NS, bin('nft'), 'list', 'table', 'ip', 'raw']);
  t.notRegex(rawNft.stdout, /nftrace/);
  // and the background's files too
  t.false(existsSync(`${BG}/${TRACE_KEY}.pid`), 'the pid file is removed by stop');
  t.false(existsSync(`${BG}/${TRACE_KEY}.out`), 'the output file is removed by stop');
});

netns(title('backgroundStartArgv/backgroundReadyArgv: tcpdump started in the pod namespace is ready once it prints "listening on"'), async (t) => {
  t.not(onNode(['docker', 'exec', NODE, ...backgroundReadyArgv(CAPTURE_KEY, 'listening on')]).status, 0, 'not ready before it started');
  const start = backgroundStartArgv(CAPTURE_KEY, tcpdumpArgv('eth0', SYN_FILTER));
  t.is(start[0], 'sh');
  const started = runRaw([IP, 'netns', 'exec', POD_NS, ...start]);
  t.is(started.status, 0, started.stderr);
  const tcpdumpPid = backgroundPid(CAPTURE_KEY);
  if (tcpdumpPid) background.push({ pid: tcpdumpPid, comm: 'tcpdump' });
  t.true(running(tcpdumpPid, 'tcpdump'), 'the pid file names the running tcpdump');
  let ready = false;
  for (let i = 0; i < 50 && !ready; i++) {
    ready = runRaw(backgroundReadyArgv(CAPTURE_KEY, 'listening on')).status === 0;
    if (!ready) await sleep(100);
  }
  t.true(ready, `tcpdump never printed "listening on": ${existsSync(`${BG}/${CAPTURE_KEY}.out`) ? readFileSync(`${BG}/${CAPTURE_KEY}.out`, 'utf8') : '(no output file)'}`);
  t.regex(readFileSync(`${BG}/${CAPTURE_KEY}.out`, 'utf8'), /listening on eth0/);
  t.not(runRaw(backgroundReadyArgv(CAPTURE_KEY, 'text tcpdump never prints')).status, 0, 'ready is a real grep');
});

netns(title('controlSynArgv: the proxy uid\'s SYN leaves eth0; the app uid\'s SYN is redirected and does not'), async (t) => {
  const tcpdumpPid = backgroundPid(CAPTURE_KEY);
  t.true(running(tcpdumpPid, 'tcpdump'), 'the capture of the previous test is running');
  const control = controlSynArgv(NODE, podPid(), PEER_IP, 9);
  t.deepEqual(control.slice(3, 12), ['nsenter', '-t', String(podPid()), '-n', '-S', String(PROXY_USER.uid), '-G', String(PROXY_USER.gid), '--']);
  const c = onNode(control, 5000);
  t.false(c.stderr.includes('nsenter:'), `nsenter failed: ${c.stderr}`);
  // the same SYN without -S/-G (uid 0, not the proxy's) to port 19: redirected like the app's
  const asRoot = inPodNetnsArgv(NODE, podPid(), [...control.slice(12, -1), '19']);
  t.deepEqual(asRoot.slice(-2), [PEER_IP, '19']);
  onNode(asRoot, 5000);
  appConnect(7000);
  await sleep(200);
  const out = runRaw(backgroundStopArgv(CAPTURE_KEY));
  t.is(out.status, 0, out.stderr);
  t.false(existsSync(`${BG}/${CAPTURE_KEY}.pid`), 'the pid file is removed by stop');
  // tcpdump installs its own SIGINT handler, so the INT reaches it although sh started it ignoring INT
  t.false(running(tcpdumpPid, 'tcpdump'), 'stop ended tcpdump');
  const syns = parseTcpdump(out.stdout);
  t.log(`tcpdump -i eth0 SYNs:\n${syns.map((p) => p.line).join('\n')}`);
  const leaving = (port: number) => syns.filter((p) => p.src === POD_IP && p.dst === PEER_IP && p.dport === port && p.flags === 'S');
  t.true(leaving(9).length >= 1, `no SYN to ${PEER_IP}:9 on eth0:\n${out.stdout}`);
  t.is(leaving(7000).length, 0, `a SYN to ${PEER_IP}:7000 left eth0 (not redirected):\n${out.stdout}`);
  t.is(leaving(19).length, 0, `a root SYN to ${PEER_IP}:19 left eth0: without -S/-G the control would be captured too`);
  t.is(syns.filter((p) => p.dport === 7000).length, 0);
});

// A non-interactive sh starts an asynchronous command (`"$@" ... &`) with SIGINT and SIGQUIT
// ignored (POSIX, no job control; dash in the kind node image does this), and a signal ignored
// across exec stays ignored. tcpdump sets its own SIGINT handler; xtables-monitor does not, so
// STOP must end it otherwise (SIGTERM), or every trace would leave a monitor subscribed to the
// pod's trace events, holding its network namespace. (This test found that: STOP sent SIGINT only.)
netns(title('backgroundStopArgv ends the background xtables-monitor, although it ignores SIGINT (sh started it in the background)'), (t) => {
  const pid = state.monitorPid;
  t.truthy(pid, 'the trace test recorded the monitor\'s pid');
  if (pid && running(pid, 'xtables-monitor')) t.log(`xtables-monitor ${pid} still runs after stop; SIGINT ignored: ${(ignoredSignals(pid) & SIGINT_BIT) !== 0n}`);
  t.false(running(pid, 'xtables-monitor'), 'stop ended xtables-monitor');
});

netns(title('the full pcap (kind): tcpdump -w in the background, stopped, brought over as base64, reads with tcpdump -r and shows the redirect to 15001'), async (t) => {
  const file = backgroundFilePath(PCAP_KEY, 'pcap');
  const started = runRaw([IP, 'netns', 'exec', POD_NS, ...backgroundStartArgv(PCAP_KEY, pcapArgv(file))]);
  t.is(started.status, 0, started.stderr);
  const pid = backgroundPid(PCAP_KEY);
  if (pid) background.push({ pid, comm: 'tcpdump' });
  let ready = false;
  for (let i = 0; i < 50 && !ready; i++) {
    ready = runRaw(backgroundReadyArgv(PCAP_KEY, 'listening on')).status === 0;
    if (!ready) await sleep(100);
  }
  t.true(ready, 'tcpdump -w never printed "listening on"');
  appConnect(7000);
  await sleep(200);
  const stop = runRaw(backgroundStopArgv(PCAP_KEY));
  t.is(stop.status, 0, stop.stderr);
  t.false(running(pid, 'tcpdump'), 'stop ended tcpdump, which closed the file');
  // what --print showed is what the file holds
  t.regex(stop.stdout, /10\.97\.0\.2\.\d+ > 127\.0\.0\.1\.15001: Flags \[S\]/);
  const taken = runRaw(backgroundFileArgv(PCAP_KEY, 'pcap'));
  t.is(taken.status, 0, taken.stderr);
  t.false(existsSync(file), 'the pcap is removed from the capture container once read');
  const dir = mkdtempSync(join(tmpdir(), 'pathlab-kind-pcap-'));
  try {
    const local = join(dir, 'app.pcap');
    writeFileSync(local, Buffer.from(taken.stdout, 'base64'));
    const read = runRaw([bin('tcpdump'), '-r', local, '-nn']);
    t.is(read.status, 0, read.stderr);
    // The app's SYN to 7000, after nat OUTPUT: redirected to the sidecar's port on lo.
    t.regex(read.stdout, /lo\s+In\s+IP 10\.97\.0\.2\.\d+ > 127\.0\.0\.1\.15001: Flags \[S\]/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // A probe that passed, or was cancelled, keeps no pcap: the file is removed unread, nothing comes over.
  writeFileSync(file, 'a capture nobody asked for');
  const dropped = runRaw(backgroundDropArgv(PCAP_KEY, 'pcap'));
  t.deepEqual([dropped.status, dropped.stdout, existsSync(file)], [0, '', false]);
});
