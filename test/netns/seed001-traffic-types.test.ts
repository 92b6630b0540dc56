// Seed 001's six kinds of traffic in a sidecar pod, made for real in a netns lab (istio-init's
// current rules, the sidecar model, real processes), each traced by the kernel itself
// (xtables-monitor --trace) and compared with `traceConnection` on the pod's own iptables-save.
// The seed's diagrams number the rules; where the kernel disagrees the kernel wins, and the
// case says so.
import test, { type ExecutionContext } from 'ava';
import { loadRuleSet, parseIptablesSave, traceConnection, type Connection, type TraceHop } from '../../src/mesh/iptables/index.ts';
import { kernelHops } from '../../src/probes/kernel-trace.ts';
import { netnsLab, removeLab, type StartedNetnsLab } from '../../src/lab/netns/netns-lab.ts';
import type { LabSpec } from '../../src/scenario/schema.ts';
import { NEEDS_ROOT, netnsTest } from '../helpers/caps.ts';

const APP_IP = '10.64.0.20';
const PROM_IP = '10.64.0.30';
const ISTIOD = '10.0.0.10';
const APP = { uid: 1000, gid: 1000 };
const PROXY = { uid: 1337, gid: 1337 };

const spec: LabSpec = {
  istio: { version: 'current' },
  pods: [
    { name: 'app', ip: APP_IP, workload: 'echo', ports: [{ port: 8080, name: 'http' }] },
    { name: 'prom', ip: PROM_IP, workload: 'toolbox', meshed: false },
  ],
  services: [{ name: 'app', ports: [{ port: 8080, name: 'http' }] }],
  externalHosts: [{ name: 'istiod', address: ISTIOD, server: 'http', ports: [15012, 8080] }],
};

let lab: StartedNetnsLab | undefined;
const created: string[] = [];
test.after.always(async () => {
  for (const id of created) await removeLab(id);
});

interface TracedCase {
  name: string;
  /** The seed's rule numbers for this connection, when they differ from the kernel's. */
  seedSays?: string;
  /** Which connection of the trace, and how the simulator should see it. */
  pick: { direction: 'out' | 'in'; dst: string; dport: number; nth?: number };
  sim: Connection;
  /** The kernel's hops (nat table), as the rules number them. */
  expect: string[];
}

function hopText(hops: TraceHop[]): string[] {
  return hops.filter((h) => h.table === 'nat').map((h) => `${h.chain}#${h.rule} ${h.target}`);
}

async function traced(t: ExecutionContext, l: StartedNetnsLab, host: string, chain: 'OUTPUT' | 'PREROUTING', dport: number, run: () => Promise<unknown>, cases: TracedCase[]) {
  const { packets, handles } = await l.traceKernel(host, [{ chain, proto: 'tcp', dport }], run);
  const rules = loadRuleSet(parseIptablesSave((await l.run(host, ['iptables-save'])).stdout));
  for (const c of cases) {
    const kernel = kernelHops(packets, { proto: 'tcp', ...c.pick }, handles);
    t.truthy(kernel, `${c.name}: the kernel traced no such connection`);
    const sim = traceConnection(rules, c.sim);
    t.deepEqual(hopText(kernel!.hops), hopText(sim.hops), `${c.name}: kernel vs simulator`);
    t.deepEqual(hopText(kernel!.hops), c.expect, `${c.name}: the kernel's own numbers${c.seedSays ? ` (the seed says ${c.seedSays})` : ''}`);
  }
}

netnsTest(`${NEEDS_ROOT} seed 001: the six traffic types, kernel trace = simulator on the pod's own rules`, async (t) => {
  lab = await netnsLab(spec).start();
  created.push(lab.id);
  const l = lab;
  const vip = l.mesh.services()[0]!.vip;

  // 1. remote → local pod: PREROUTING → ISTIO_INBOUND → ISTIO_IN_REDIRECT → 15006; then the
  //    sidecar delivers to the app from 127.0.0.6 (ISTIO_OUTPUT rule 1).
  await traced(t, l, 'app', 'PREROUTING', 8080, () => l.run('prom', ['curl', '-sS', '--max-time', '3', `http://${APP_IP}:8080/`], { user: APP }), [
    {
      name: 'remote → local (inbound capture)',
      pick: { direction: 'in', dst: APP_IP, dport: 8080 },
      sim: { direction: 'in', proto: 'tcp', src: PROM_IP, dst: APP_IP, dport: 8080, iif: 'eth0' },
      expect: ['PREROUTING#1 ISTIO_INBOUND', 'ISTIO_INBOUND#5 ISTIO_IN_REDIRECT', 'ISTIO_IN_REDIRECT#1 REDIRECT'],
    },
  ]);
  await traced(t, l, 'app', 'OUTPUT', 8080, () => l.run('prom', ['curl', '-sS', '--max-time', '3', `http://${APP_IP}:8080/`], { user: APP }), [
    {
      name: 'the sidecar to the app, from 127.0.0.6',
      pick: { direction: 'out', dst: APP_IP, dport: 8080 },
      sim: { direction: 'out', proto: 'tcp', src: '127.0.0.6', dst: APP_IP, dport: 8080, uid: PROXY.uid, gid: PROXY.gid, oif: 'lo' },
      expect: ['OUTPUT#1 ISTIO_OUTPUT', 'ISTIO_OUTPUT#1 RETURN'],
    },
  ]);

  // 2. local → remote: the app's call is redirected to 15001 (ISTIO_OUTPUT rule 9); the
  //    sidecar's own upstream connection leaves by the owner rule (ISTIO_OUTPUT rule 4).
  await traced(t, l, 'app', 'OUTPUT', 8080, () => l.run('app', ['curl', '-sS', '--max-time', '3', `http://${ISTIOD}:8080/`], { user: APP }), [
    {
      name: 'local → remote (the app)',
      pick: { direction: 'out', dst: ISTIOD, dport: 8080, nth: 0 },
      sim: { direction: 'out', proto: 'tcp', src: APP_IP, dst: ISTIOD, dport: 8080, uid: APP.uid, gid: APP.gid, oif: 'eth0' },
      expect: ['OUTPUT#1 ISTIO_OUTPUT', 'ISTIO_OUTPUT#9 ISTIO_REDIRECT', 'ISTIO_REDIRECT#1 REDIRECT'],
    },
    {
      name: 'local → remote (the sidecar upstream)',
      pick: { direction: 'out', dst: ISTIOD, dport: 8080, nth: 1 },
      sim: { direction: 'out', proto: 'tcp', src: APP_IP, dst: ISTIOD, dport: 8080, uid: PROXY.uid, gid: PROXY.gid, oif: 'eth0' },
      expect: ['OUTPUT#1 ISTIO_OUTPUT', 'ISTIO_OUTPUT#4 RETURN'],
    },
  ]);

  // 3. Prometheus → pod: 15090 is excluded from capture; no Envoy listener sees it redirected.
  await traced(t, l, 'app', 'PREROUTING', 15090, () => l.run('prom', ['curl', '-sS', '--max-time', '3', `http://${APP_IP}:15090/stats/prometheus`], { user: APP }), [
    {
      name: 'Prometheus scrape of 15090',
      pick: { direction: 'in', dst: APP_IP, dport: 15090 },
      sim: { direction: 'in', proto: 'tcp', src: PROM_IP, dst: APP_IP, dport: 15090, iif: 'eth0' },
      expect: ['PREROUTING#1 ISTIO_INBOUND', 'ISTIO_INBOUND#2 RETURN'],
    },
  ]);

  // 4. local → local: the app calls its own Service; 15001, then the sidecar's connection to
  //    its own pod IP leaves by lo and rule 2 sends it to 15006.
  const self = await l.traceKernel('app', [{ chain: 'OUTPUT', proto: 'tcp', dport: 8080 }], () =>
    l.run('app', ['curl', '-sS', '--max-time', '3', `http://${vip}:8080/self`], { user: APP }),
  );
  t.regex(self.result.stdout, /^RemoteAddr=127\.0\.0\.6:\d+$/m, 'the app answered its own call, delivered from 127.0.0.6');
  const rules = loadRuleSet(parseIptablesSave((await l.run('app', ['iptables-save'])).stdout));
  const selfCases: TracedCase[] = [
    {
      name: 'local → local (the app to its Service)',
      pick: { direction: 'out', dst: vip, dport: 8080 },
      sim: { direction: 'out', proto: 'tcp', src: APP_IP, dst: vip, dport: 8080, uid: APP.uid, gid: APP.gid, oif: 'eth0' },
      expect: ['OUTPUT#1 ISTIO_OUTPUT', 'ISTIO_OUTPUT#9 ISTIO_REDIRECT', 'ISTIO_REDIRECT#1 REDIRECT'],
    },
    {
      name: 'local → local (the sidecar to its own pod IP)',
      pick: { direction: 'out', dst: APP_IP, dport: 8080, nth: 0 },
      sim: { direction: 'out', proto: 'tcp', src: APP_IP, dst: APP_IP, dport: 8080, uid: PROXY.uid, gid: PROXY.gid, oif: 'lo' },
      expect: ['OUTPUT#1 ISTIO_OUTPUT', 'ISTIO_OUTPUT#2 ISTIO_IN_REDIRECT', 'ISTIO_IN_REDIRECT#1 REDIRECT'],
    },
  ];
  for (const c of selfCases) {
    const kernel = kernelHops(self.packets, { proto: 'tcp', ...c.pick }, self.handles);
    t.truthy(kernel, c.name);
    t.deepEqual(hopText(kernel!.hops), hopText(traceConnection(rules, c.sim).hops), `${c.name}: kernel vs simulator`);
    t.deepEqual(hopText(kernel!.hops), c.expect, c.name);
  }

  // 5. Envoy's own loopback traffic (uid 1337 to 127.0.0.1): the seed's diagram says rule 8
  //    (-d 127.0.0.1/32 RETURN); the kernel stops at rule 4 (--uid-owner 1337 RETURN), which
  //    comes first in the chain.
  await traced(t, l, 'app', 'OUTPUT', 15000, () => l.run('app', ['curl', '-sS', '--max-time', '3', 'http://127.0.0.1:15000/ready'], { user: PROXY }), [
    {
      name: 'Envoy internal loopback',
      seedSays: 'ISTIO_OUTPUT rule 8',
      pick: { direction: 'out', dst: '127.0.0.1', dport: 15000 },
      sim: { direction: 'out', proto: 'tcp', src: '127.0.0.1', dst: '127.0.0.1', dport: 15000, uid: PROXY.uid, gid: PROXY.gid, oif: 'lo' },
      expect: ['OUTPUT#1 ISTIO_OUTPUT', 'ISTIO_OUTPUT#4 RETURN'],
    },
  ]);

  // 6. The sidecar to istiod (15012): the owner rule lets it out, no redirect.
  await traced(t, l, 'app', 'OUTPUT', 15012, () => l.run('app', ['curl', '-sS', '--max-time', '3', `http://${ISTIOD}:15012/`], { user: PROXY }), [
    {
      name: 'sidecar → istiod',
      pick: { direction: 'out', dst: ISTIOD, dport: 15012 },
      sim: { direction: 'out', proto: 'tcp', src: APP_IP, dst: ISTIOD, dport: 15012, uid: PROXY.uid, gid: PROXY.gid, oif: 'eth0' },
      expect: ['OUTPUT#1 ISTIO_OUTPUT', 'ISTIO_OUTPUT#4 RETURN'],
    },
  ]);
  await l.stop();
});
