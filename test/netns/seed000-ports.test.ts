// Seed 000 in a netns lab: the sidecar's listening ports and their owner, the 127.0.0.6
// source the app sees, and where tcpdump sees plaintext (lo) and mTLS (eth0).
import test from 'ava';
import { netnsLab, removeLab, type StartedNetnsLab } from '../../src/lab/netns/netns-lab.ts';
import { packetHex, parseTcpdump } from '../../src/probes/tcpdump.ts';
import type { LabSpec } from '../../src/scenario/schema.ts';
import { NEEDS_ROOT, netnsTest } from '../helpers/caps.ts';

const CLIENT_IP = '10.64.0.40';
const SERVER_IP = '10.64.0.41';
const APP = { uid: 1000, gid: 1000 };

const spec: LabSpec = {
  istio: { version: 'current' },
  pods: [
    { name: 'client', ip: CLIENT_IP, workload: 'toolbox' },
    { name: 'server', ip: SERVER_IP, workload: 'echo', ports: [{ port: 8080, name: 'http' }] },
  ],
  services: [{ name: 'server', ports: [{ port: 8080, name: 'http' }] }],
};

let lab: StartedNetnsLab | undefined;
const created: string[] = [];
test.after.always(async () => {
  for (const id of created) await removeLab(id);
});

netnsTest(`${NEEDS_ROOT} seed 000: listening ports, their owner, 127.0.0.6, plaintext on lo and mTLS on eth0`, async (t) => {
  lab = await netnsLab(spec).start();
  created.push(lab.id);
  const l = lab;

  // ss -ltne: local address, port and the socket's owner uid.
  const ss = await l.run('server', ['ss', '-ltneH']);
  const listening = new Map<number, { addr: string; uid: number }>();
  for (const line of ss.stdout.split('\n')) {
    const m = /^\S+\s+\d+\s+\d+\s+(\S+):(\d+)\s+\S+\s+uid:(\d+)/.exec(line.trim());
    if (m) listening.set(Number(m[2]), { addr: m[1]!, uid: Number(m[3]) });
  }
  t.deepEqual(listening.get(15000), { addr: '127.0.0.1', uid: 1337 }, '15000');
  for (const port of [15001, 15006, 15021, 15090]) t.deepEqual(listening.get(port), { addr: '0.0.0.0', uid: 1337 }, `${port}`);
  // pilot-agent's status port is a dual-stack socket, `*:15020`, as in the seed. The seed's
  // pilot-agent also had its debug port 15004 on 127.0.0.1; Istio 1.30's opens none.
  t.deepEqual(listening.get(15020), { addr: '*', uid: 1337 }, '15020');
  t.is(listening.get(15004), undefined, 'no 15004 in Istio 1.30');
  t.is(listening.get(8080)?.uid, APP.uid, 'the app listens as its own uid');

  const tlsOnEth0 = await l.startCapture('client', 'eth0', `tcp and host ${SERVER_IP} and port 8080`);
  const onLo = await l.startCapture('client', 'lo', 'tcp and port 15001');
  const plainOnServerLo = await l.startCapture('server', 'lo', 'tcp and port 8080');
  const r = await l.run('client', ['curl', '-sS', '--max-time', '3', 'http://server:8080/hello'], { user: APP });
  t.is(r.exitCode, 0, r.stderr);
  // The echo app saw the sidecar's inbound connection, from 127.0.0.6.
  t.regex(r.stdout, /^RemoteAddr=127\.0\.0\.6:\d+$/m);

  const eth0 = (await tlsOnEth0.stop()).stdout;
  const lo = (await onLo.stop()).stdout;
  const serverLo = (await plainOnServerLo.stop()).stdout;
  // The client's call to the Service was redirected: on lo it goes to 127.0.0.1:15001.
  t.true(parseTcpdump(lo).some((p) => p.dst === '127.0.0.1' && p.dport === 15001 && p.flags === 'S'), lo);
  // On eth0 the sidecar's upstream goes to the server pod and carries TLS, not the request.
  const upstream = parseTcpdump(eth0).filter((p) => p.dst === SERVER_IP && p.dport === 8080);
  t.true(upstream.some((p) => p.flags === 'S'), eth0);
  t.false(eth0.includes('GET /hello'), 'no plaintext request on eth0');
  // On the server's lo the sidecar hands the plaintext request to the app, from 127.0.0.6.
  t.true(parseTcpdump(serverLo).some((p) => p.src === '127.0.0.6' && p.dport === 8080), serverLo);
  await l.stop();
});

netnsTest(`${NEEDS_ROOT} seed 000: the mTLS leg starts with a TLS ClientHello offering Istio's ALPN`, async (t) => {
  lab = await netnsLab(spec).start();
  created.push(lab.id);
  const l = lab;
  // -X prints the packet bytes: the first data the client's sidecar sends the server pod is a
  // TLS handshake record (0x16 0x03 ...) whose ClientHello offers ALPN istio-http/1.1: on Istio's
  // proxy the istio.alpn filter sets it; here the lab's EnvoyFilter does, with upstream Envoy's
  // set_filter_state (the cluster's own ALPN, without it, is "istio": test/netns/istio-alpn.test.ts).
  const cap = await l.startCapture('client', 'eth0', `tcp dst port 8080 and host ${SERVER_IP} and (tcp[tcpflags] & tcp-push != 0)`, { bytes: true });
  const r = await l.run('client', ['curl', '-sS', '--max-time', '3', 'http://server:8080/hello'], { user: APP });
  t.is(r.exitCode, 0, r.stderr);
  const text = (await cap.stop()).stdout;
  const first = packetHex(text)[0] ?? '';
  // IPv4 header (20 bytes) + TCP header (data offset in byte 12 of TCP), then the payload.
  const tcpStart = 40;
  const dataOffset = (parseInt(first.slice(tcpStart + 24, tcpStart + 25), 16) * 4) * 2;
  const payload = first.slice(tcpStart + dataOffset);
  t.is(payload.slice(0, 4), '1603', `a TLS handshake record: ${payload.slice(0, 16)}`);
  t.true(payload.includes(Buffer.from('istio-http/1.1').toString('hex')), 'ALPN istio-http/1.1 in the ClientHello');
  await l.stop();
});
