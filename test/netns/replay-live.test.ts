// Replaying a captured sidecar against real packets: Istio's own sidecar dump of 29 listeners
// (../shared/fixtures/envoy/configdump.yaml, a 1.19-era cluster) replayed in real upstream Envoy
// (src/mesh/envoy/replay.ts), in a network namespace with Istio's current istio-init rules, and
// for every listener an outbound connection from the app can reach (enumerated from the dump:
// each per-service listener through 15001's hand-off, and 15001 itself), one connection from the
// app's uid; and inbound, from a peer beside the pod, to 15006's chains (a port with a chain of
// its own, any other port, 15006 itself). What Envoy did is read from Envoy: the listener whose downstream_cx_total grew (its
// own stats, not our matcher), the filter chain and the cluster from its access log. explain, on
// the original dump, must predict the same listener, chain and cluster for each. And mTLS where
// the dump had it: its SDS secrets are the lab CA's, so a peer with a lab-CA certificate and
// Istio's ALPN is taken by the inbound TLS chain (its SAN checked as the dump checks it, a
// spiffe://cluster.local/ identity), and a peer without a client certificate is refused.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ENVOY_PINS, envoyForLab, installedEnvoy } from '../../src/istio/envoy.ts';
import { exec, inNetns, systemEnv } from '../../src/lab/exec.ts';
import { LAB_STATE_DIR } from '../../src/lab/netns/netns-lab.ts';
import { NETNS_ETC } from '../../src/lab/netns/plan.ts';
import { createLabCa, createPodCert } from '../../src/lab/netns/lab-ca.ts';
import { parseConfigDump } from '../../src/mesh/envoy/config-dump-parser.ts';
import { replayBootstrap } from '../../src/mesh/envoy/replay.ts';
import { istioInitRules, PROXY_UID } from '../../src/mesh/iptables/index.ts';
import { APP_UID } from '../../src/paths/kernel-trace.ts';
import { main } from '../../src/cli/main.ts';
import { bufferIo } from '../../src/cli/io.ts';
import type { ExecutionContext } from 'ava';
import { NEEDS_ROOT, netnsTest } from '../helpers/caps.ts';
import { readFixture, sharedPath } from '../helpers/shared-fixtures.ts';

const NS = `pl-rpl${process.pid % 10000}`;
/** A host beside the pod (the other end of its eth0): inbound connections come from it. */
const PEER_NS = `pl-rplp${process.pid % 10000}`;
const POD_IP = '10.244.1.9';
const PEER_IP = '10.244.1.1';
/** An address no listener names: a 0.0.0.0_PORT listener's connection goes there. */
const ELSEWHERE = '10.200.0.7';
const ADMIN = 'http://127.0.0.1:15000';
const FORMAT = '%FILTER_CHAIN_NAME% %UPSTREAM_CLUSTER% %DOWNSTREAM_LOCAL_ADDRESS%\n';
/**
 * What the app sends first: 16 bytes no inspector can take for TLS or HTTP, so both inspectors
 * decide at once. With fewer than 5 (a TLS record header), tls_inspector waits for more on these
 * listeners (listener_filters_timeout 0s): the last part of the test shows it, as explain says.
 */
const PAYLOAD = Array.from({ length: 16 }, (_, i) => String.fromCharCode(i + 1)).join('');

type Explained = { listener: string; filterChain: string | null; cluster: string | null; outcome: { kind: string } };

async function explained(file: string, podIp: string, dst: string, o: { src?: string; http?: boolean; text?: string } = {}): Promise<Explained> {
  const io = bufferIo();
  const what = o.http ? ['--http-host', 'x'] : ['--payload', o.text ?? PAYLOAD];
  const code = await main(['explain', '--config-dump', sharedPath('fixtures', 'envoy', file), '--pod-ip', podIp, '--src', o.src ?? podIp, '--dst', dst, ...what, '-o', 'json'], io);
  if (code !== 0) throw new Error(`explain ${dst}: ${io.stderr()}`);
  return JSON.parse(io.stdout()) as { listener: string; filterChain: string | null; cluster: string | null; outcome: { kind: string } };
}

/** A counter of every listener (downstream_cx_total: connections it made; downstream_listener_filter_remote_close: closed by the client while its listener filters still waited), by the listener's stat name (its address, as Envoy names listener stats). */
async function listenerCounts(counter = 'downstream_cx_total'): Promise<Map<string, number>> {
  const r = await exec(inNetns(NS, ['curl', '-s', '--max-time', '2', `${ADMIN}/stats?filter=%5Elistener%5C..*${counter}%24`]));
  return new Map([...r.stdout.matchAll(new RegExp(`^listener\\.(.+)\\.${counter}: (\\d+)$`, 'gm'))].map((m) => [m[1]!, Number(m[2])]));
}

interface Replay {
  dump: unknown;
  log: string;
  ca: { ca: string; caKey: string };
  peerCert: { cert: string; key: string };
}

/**
 * A pod at `podIp` with `rules` loaded and the dump replayed in the pinned Envoy (the lab CA's
 * certificates in place of the dump's), a peer beside it; `body` runs, then everything goes.
 */
async function withReplay(t: ExecutionContext, o: { file: string; podIp: string; rules: string }, body: (r: Replay) => Promise<void>): Promise<void> {
  const pin = ENVOY_PINS[0]!;
  const installed = await installedEnvoy(pin.version);
  if (!installed) return t.fail(`Envoy ${pin.version} is not installed: npm run system-deps`);
  const binary = envoyForLab(installed, LAB_STATE_DIR);
  const dir = mkdtempSync(join(tmpdir(), 'pathlab-replay-live-'));
  chmodSync(dir, 0o755);
  let envoy: ChildProcess | undefined;
  const made: string[] = [];
  try {
    const dump = JSON.parse(readFixture('envoy', o.file)) as unknown;
    // The pod's certificate and the peer's, from a lab CA, as a capture lab gives them.
    const ca = await createLabCa(dir, 'replay');
    const { cert, key } = await createPodCert(dir, ca, { name: 'pod', namespace: 'default' }, { uid: PROXY_UID, gid: PROXY_UID });
    const peerCert = await createPodCert(dir, ca, { name: 'peer', namespace: 'default' }, { uid: 0, gid: 0 });
    const log = join(dir, 'access.log');
    writeFileSync(log, '');
    chownSync(log, PROXY_UID, PROXY_UID);
    const r = replayBootstrap(dump, { certificateChain: cert, privateKey: key, trustedCa: ca.ca }, { accessLog: { path: log, format: FORMAT } });
    writeFileSync(join(dir, 'bootstrap.json'), JSON.stringify(r.bootstrap), { mode: 0o644 });

    // The pod and a peer, joined by a veth made inside the two namespaces (nothing of it in the host's), and the rules in the pod.
    for (const ns of [NS, PEER_NS]) {
      t.is((await exec(['ip', 'netns', 'add', ns])).exitCode, 0);
      made.push(ns);
    }
    t.is((await exec(['ip', 'link', 'add', 'eth0', 'netns', NS, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', PEER_NS])).exitCode, 0);
    for (const [ns, argv] of [
      [NS, ['ip', 'link', 'set', 'lo', 'up']],
      [NS, ['ip', 'addr', 'add', `${o.podIp}/32`, 'dev', 'eth0']],
      [NS, ['ip', 'link', 'set', 'eth0', 'up']],
      [NS, ['ip', 'route', 'add', PEER_IP, 'dev', 'eth0', 'scope', 'link']],
      // The peer forwards nothing: an outbound connection's upstream goes no further than it.
      [NS, ['ip', 'route', 'add', 'default', 'via', PEER_IP]],
      [PEER_NS, ['ip', 'link', 'set', 'lo', 'up']],
      [PEER_NS, ['ip', 'addr', 'add', `${PEER_IP}/32`, 'dev', 'eth0']],
      [PEER_NS, ['ip', 'link', 'set', 'eth0', 'up']],
      [PEER_NS, ['ip', 'route', 'add', o.podIp, 'dev', 'eth0', 'scope', 'link']],
      // The address 0.0.0.0_PORT connections go to is the peer's, where nothing listens: a passthrough is refused at once, not after Envoy's 10 s connect timeout.
      [PEER_NS, ['ip', 'addr', 'add', `${ELSEWHERE}/32`, 'dev', 'lo']],
    ] as const) t.is((await exec(inNetns(ns, argv))).exitCode, 0, argv.join(' '));
    t.is((await exec(inNetns(NS, ['iptables-nft-restore', '--noflush']), { input: o.rules })).exitCode, 0);
    // No name server, as in the lab's pods: a dump's DNS clusters (Istio 1.1's zipkin, istio-pilot) fail to resolve at once
    // instead of asking the host's resolver through a peer that forwards nothing, until Envoy's DNS times out.
    mkdirSync(join(NETNS_ETC, NS), { recursive: true });
    writeFileSync(join(NETNS_ETC, NS, 'resolv.conf'), '# pathlab replay test: no name server\noptions ndots:1\n');

    const out = openSync(join(dir, 'envoy.log'), 'w');
    const [cmd, ...args] = inNetns(NS, [binary, '-c', join(dir, 'bootstrap.json'), '--disable-hot-restart', '--concurrency', '1', '--log-level', 'warning', '--file-flush-interval-msec', '20'], { uid: PROXY_UID, gid: PROXY_UID });
    envoy = spawn(cmd!, args, { stdio: ['ignore', out, out], env: systemEnv() });
    closeSync(out);
    let ready = '';
    for (let i = 0; i < 200 && ready !== 'LIVE'; i++) {
      ready = (await exec(inNetns(NS, ['curl', '-s', '--max-time', '2', `${ADMIN}/ready`]))).stdout.trim();
      if (ready !== 'LIVE') await new Promise((res) => setTimeout(res, 50));
    }
    if (ready !== 'LIVE') return t.fail(`Envoy is not LIVE: ${readFileSync(join(dir, 'envoy.log'), 'utf8').slice(-3000)}`);
    await body({ dump, log, ca, peerCert });
  } finally {
    envoy?.kill('SIGKILL');
    for (const ns of made) {
      const pids = (await exec(['ip', 'netns', 'pids', ns])).stdout.split('\n').filter(Boolean);
      if (pids.length) await exec(['kill', '-KILL', ...pids]);
      await exec(['ip', 'netns', 'del', ns]);
    }
    rmSync(dir, { recursive: true, force: true });
    rmSync(join(NETNS_ETC, NS), { recursive: true, force: true });
  }
}

/**
 * For each connection: the bytes from the app (or the peer), then what Envoy did, read from
 * Envoy (the listener whose connection count grew, the chain and cluster its access log names),
 * against what explain predicts from the original dump.
 */
async function agree(t: ExecutionContext, r: Replay, o: { file: string; podIp: string }, cases: ReadonlyArray<{ dst: string; from: 'app' | 'peer'; http: boolean }>): Promise<void> {
  const all = parseConfigDump(r.dump).listeners ?? [];
  for (const { dst, from, http } of cases) {
    const [ip, port] = dst.split(':') as [string, string];
    const bytes = http ? 'GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n' : [...PAYLOAD].map((c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`).join('');
    const before = await listenerCounts();
    const lines = readFileSync(r.log, 'utf8').split('\n').filter(Boolean).length;
    // The app's connection: the bytes (tls_inspector needs a record header's worth to decide), then closed (an upstream that does not answer is given up on).
    const connect = ['timeout', '2', 'bash', '-c', 'exec 3<>"/dev/tcp/$0/$1"; printf "$2" >&3; sleep 0.3', ip, port, bytes];
    await exec(from === 'app' ? inNetns(NS, connect, { uid: APP_UID, gid: APP_UID }) : inNetns(PEER_NS, connect), { timeoutMs: 5000 });
    let entry: string | undefined;
    for (let i = 0; i < 100 && entry === undefined; i++) {
      entry = readFileSync(r.log, 'utf8').split('\n').filter(Boolean)[lines];
      if (entry === undefined) await new Promise((res) => setTimeout(res, 50));
    }
    const after = await listenerCounts();
    const grew = [...after].filter(([name, n]) => n > (before.get(name) ?? 0)).map(([name]) => name);
    const want = await explained(o.file, o.podIp, dst, { http, ...(from === 'peer' ? { src: PEER_IP } : {}) });
    const wantListener = all.find((l) => l.name === want.listener);
    // Envoy names a listener's stats by its address (0.0.0.0_15001 for virtualOutbound, which also counts the hand-off).
    const statName = wantListener ? `${wantListener.address}_${wantListener.port}` : want.listener;
    t.log(`${dst} → ${want.listener}, ${want.filterChain}, ${want.cluster} (Envoy: ${grew.filter((g) => !g.includes('.') || /_\d+$/.test(g)).filter((g) => g !== 'admin').join(', ')}; ${entry})`);
    t.true(grew.includes(statName), `${dst}: explain says ${want.listener}; Envoy's listeners that took a connection: ${grew.join(', ')}`);
    const [chain, cluster] = (entry ?? '').split(' ');
    // An unnamed chain: Envoy logs "-", explain says which (#0, #default). No cluster (an HTTP request no route took): "-" and null.
    t.is(chain, want.filterChain?.startsWith('#') ? '-' : (want.filterChain ?? '(none)'), `${dst}: the filter chain (access log: ${entry})`);
    t.is(cluster === '-' ? null : cluster, want.cluster, `${dst}: the cluster (access log: ${entry})`);
  }
}

netnsTest(`${NEEDS_ROOT} replay of Istio's own sidecar dump: for every outbound listener and 15006's chains, real Envoy picks the listener, chain and cluster explain predicts from the dump`, async (t) => {
  const file = 'configdump.yaml';
  const { payload: rules } = istioInitRules('current', {}, { uid: PROXY_UID, gid: PROXY_UID }, []);
  await withReplay(t, { file, podIp: POD_IP, rules }, async (r) => {
    const { dump, log, ca, peerCert } = r;
    // Every listener a connection from the app reaches: the ones 15001 hands over to (not bound), and 15001 itself.
    const listeners = (parseConfigDump(dump).listeners ?? []).filter((l) => !l.bindToPort && !l.internal);
    // And the inbound ones: 15006's chains, reached from the peer: a port with a chain of its own (80, HTTP), any other port, and 15006 itself.
    const outbound = [...listeners.map((l) => `${l.address === '0.0.0.0' ? ELSEWHERE : l.address}:${l.port}`), `${ELSEWHERE}:7777`].map((dst) => ({ dst, from: 'app' as const, http: false }));
    const inbound = [
      { dst: `${POD_IP}:80`, from: 'peer' as const, http: true },
      { dst: `${POD_IP}:9999`, from: 'peer' as const, http: false },
      { dst: `${POD_IP}:15006`, from: 'peer' as const, http: false },
    ];
    const cases = [...outbound, ...inbound];
    t.true(outbound.length >= 20, `${outbound.length} outbound listeners to reach`);
    await agree(t, r, { file, podIp: POD_IP }, cases);

    // A few bytes of text to a listener with tls_inspector and no listener filter timeout: fewer than a TLS record
    // header (5) and Envoy waits for more, choosing no chain, as explain says; one byte more and it passes through.
    for (const text of ['hi\n', 'hi!!\n']) {
      const dst = `${ELSEWHERE}:9080`;
      const made = await listenerCounts();
      const waited = await listenerCounts('downstream_listener_filter_remote_close');
      await exec(inNetns(NS, ['timeout', '3', 'bash', '-c', 'exec 3<>"/dev/tcp/$0/$1"; printf "%s" "$2" >&3; sleep 1', ELSEWHERE, '9080', text], { uid: APP_UID, gid: APP_UID }), { timeoutMs: 6000 });
      await new Promise((res) => setTimeout(res, 300));
      const grewMade = ((await listenerCounts()).get('0.0.0.0_9080') ?? 0) - (made.get('0.0.0.0_9080') ?? 0);
      const grewWaited = ((await listenerCounts('downstream_listener_filter_remote_close')).get('0.0.0.0_9080') ?? 0) - (waited.get('0.0.0.0_9080') ?? 0);
      const want = await explained(file, POD_IP, dst, { text });
      t.log(`${dst} ${JSON.stringify(text)} → explain: ${want.outcome.kind}, chain ${want.filterChain}; Envoy: ${grewMade} connection(s) made, ${grewWaited} closed while its listener filters waited`);
      t.is(want.listener, '0.0.0.0_9080');
      if (want.outcome.kind === 'waiting') t.deepEqual([grewMade, grewWaited, want.filterChain], [0, 1, null], `${dst} ${JSON.stringify(text)}`);
      else t.deepEqual([grewMade, grewWaited, want.filterChain], [1, 0, 'PassthroughFilterChain'], `${dst} ${JSON.stringify(text)}`);
    }
    t.log(`${cases.length} connections (${outbound.length} outbound, ${inbound.length} inbound): Envoy and explain agree on listener, chain and cluster for each`);

    // mTLS inbound, with the lab CA's secrets in place of the dump's SDS ones: the peer's lab certificate and ALPN istio-http/1.1
    // to port 80 are taken by its TLS chain; the same without a client certificate fails the handshake.
    const tls = async (withCert: boolean) => {
      const lines = readFileSync(log, 'utf8').split('\n').filter(Boolean).length;
      const argv = ['timeout', '3', 'openssl', 's_client', '-connect', `${POD_IP}:80`, '-alpn', 'istio-http/1.1', '-quiet', '-verify_return_error', '-CAfile', ca.ca, ...(withCert ? ['-cert', peerCert.cert, '-key', peerCert.key] : [])];
      const answer = await exec(inNetns(PEER_NS, argv), { input: 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', timeoutMs: 6000 });
      await new Promise((res) => setTimeout(res, 300));
      return { r: answer, entry: readFileSync(log, 'utf8').split('\n').filter(Boolean)[lines] };
    };
    const sslErrors = async () => [...(await exec(inNetns(NS, ['curl', '-s', `${ADMIN}/stats?filter=%5Elistener%5C.0%5C.0%5C.0%5C.0_15006%5C.ssl%5C.(connection_error|fail_verify_no_cert|handshake)%24`]))).stdout.matchAll(/ssl\.(\w+): (\d+)/g)].reduce((m, x) => ({ ...m, [x[1]!]: Number(x[2]) }), {} as Record<string, number>);
    const before = await sslErrors();
    const good = await tls(true);
    // (The answer is the dump's own RBAC policy's: istioctl's authz test data denies this identity. What matters here is the chain and the handshake.)
    t.log(`mTLS to ${POD_IP}:80 with a lab certificate: ${good.r.stdout.split('\n')[0]} (access log: ${good.entry})`);
    t.regex(good.r.stdout, /^HTTP\/1\.1 \d{3} /, `${good.r.stdout}${good.r.stderr}`);
    t.is(good.entry?.split(' ')[0], '0.0.0.0_80', `the TLS chain of port 80 took it (access log: ${good.entry})`);
    const afterGood = await sslErrors();
    t.is((afterGood.handshake ?? 0) - (before.handshake ?? 0), 1, 'one handshake completed');
    const bad = await tls(false);
    const afterBad = await sslErrors();
    t.not(bad.r.stdout.split('\n')[0]?.startsWith('HTTP/'), true, `no answer without a client certificate: ${bad.r.stdout}`);
    t.is(bad.entry, undefined, 'no request logged');
    t.is((afterBad.handshake ?? 0) - (afterGood.handshake ?? 0), 0, 'no handshake completed without a client certificate');
    t.is((afterBad.fail_verify_no_cert ?? 0) - (afterGood.fail_verify_no_cert ?? 0), 1, 'refused for want of a client certificate');
    t.log(`without a client certificate: ${JSON.stringify(afterBad)} (before: ${JSON.stringify(afterGood)})`);
  });
});

netnsTest(`${NEEDS_ROOT} replay of Istio 1.1.1's productpage dump (v2, restated in v3) behind the 1.2-era rules: every listener the app reaches through \`virtual\` agrees with explain; inbound mTLS with a lab certificate reaches 10.52.2.21_9080, whose RBAC denies it without istio_authn`, async (t) => {
  const file = 'productpage_config_dump.json';
  const podIp = '10.52.2.21';
  const { payload: rules } = istioInitRules('1.2', {}, { uid: PROXY_UID, gid: PROXY_UID }, [9080]);
  await withReplay(t, { file, podIp, rules }, async (r) => {
    const all = parseConfigDump(r.dump).listeners ?? [];
    // From the app: every listener `virtual` hands over to, but the pod's own inbound ones (mTLS only, below), and `virtual` itself.
    const reached = all.filter((l) => !l.bindToPort && l.address !== podIp);
    const cases = [...reached.map((l) => `${l.address === '0.0.0.0' ? ELSEWHERE : l.address}:${l.port}`), `${ELSEWHERE}:7777`].map((dst) => ({ dst, from: 'app' as const, http: false }));
    t.true(cases.length >= 30, `${cases.length} listeners to reach`);
    await agree(t, r, { file, podIp }, cases);
    t.log(`${cases.length} connections from the app: Envoy and explain agree on listener, chain and cluster for each`);

    // Inbound, the 1.2-era rules send port 9080 to 15001 too; `virtual` hands it to 10.52.2.21_9080, whose one chain is mTLS with the
    // lab's certificates. Its RBAC policy allows identities istio_authn vouched for: without it (Istio's own filter, removed), 403.
    const before = await listenerCounts();
    const answer = await exec(inNetns(PEER_NS, ['timeout', '3', 'openssl', 's_client', '-connect', `${podIp}:9080`, '-quiet', '-CAfile', r.ca.ca, '-cert', r.peerCert.cert, '-key', r.peerCert.key]), { input: 'GET /productpage HTTP/1.1\r\nHost: productpage\r\nConnection: close\r\n\r\n', timeoutMs: 6000 });
    const grew = [...(await listenerCounts())].filter(([name, n]) => n > (before.get(name) ?? 0)).map(([name]) => name);
    t.log(`mTLS to ${podIp}:9080: ${answer.stdout.split('\n')[0]} (Envoy: ${grew.join(', ')})`);
    t.true(grew.includes(`${podIp}_9080`), grew.join(', '));
    t.regex(answer.stdout, /^HTTP\/1\.1 403 Forbidden/);
  });
});
