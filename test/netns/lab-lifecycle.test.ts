// The netns lab on the real kernel: namespaces, the bridge, addresses, Service VIPs, names,
// isolation from the host, and a teardown that leaves nothing.
import { readdirSync } from 'node:fs';
import test from 'ava';
import { exec } from '../../src/lab/exec.ts';
import { findLabIds, listLabNamespaces, netnsLab, removeLab, sweepLabs } from '../../src/lab/netns/netns-lab.ts';
import { loadScenarioFile } from '../../src/scenario/loader.ts';
import type { LabSpec } from '../../src/scenario/schema.ts';
import { NEEDS_ROOT, netnsTest } from '../helpers/caps.ts';

function seed003Lab(): LabSpec {
  const r = loadScenarioFile('scenarios/incident-7000/outage-legacy.yaml');
  if (!r.ok) throw new Error('the catalogue scenario must load');
  // The network alone: no sidecars here (test/netns/mesh-*.test.ts covers the mesh).
  return {
    ...r.scenario.lab,
    pods: r.scenario.lab.pods.map((p) => ({ ...p, meshed: false })),
    services: [{ name: 'web', namespace: 'frontend', clusterIP: '10.96.0.115', selector: { app: 'web' }, ports: [{ port: 7000, name: 'http-web' }] }],
  };
}

const created: string[] = [];
test.after.always(async () => {
  for (const id of created) await removeLab(id);
});

const APP = { uid: 1000, gid: 1000 };

netnsTest(`${NEEDS_ROOT} pods reach the real redis and Service VIPs through the node; names resolve`, async (t) => {
  await using lab = await netnsLab(seed003Lab()).start();
  created.push(lab.id);
  const a = await lab.run('app', ['nc', '-w', '2', '10.0.0.6', '7003'], { input: 'keys *\r\n', user: APP, timeoutMs: 5000 });
  t.regex(a.stdout, /^-NOAUTH Authentication required/, JSON.stringify(a));
  const b = await lab.run('app', ['curl', '-sS', 'http://web.frontend.svc.cluster.local:7000/hello'], { user: APP, timeoutMs: 5000 });
  t.is(b.exitCode, 0, b.stderr);
  t.regex(b.stdout, /^Hostname=web$/m);
  // The app saw the client's own pod address: the node routed, it did not masquerade.
  t.regex(b.stdout, /^RemoteAddr=10\.64\.192\.14:\d+$/m);
  const hosts = await lab.run('app', ['getent', 'hosts', 'web.frontend']);
  t.regex(hosts.stdout, /^10\.96\.0\.115\s/);
});

netnsTest(`${NEEDS_ROOT} no lab namespace has a route out of the lab, and no lab link is in the host namespace`, async (t) => {
  const before = (await exec(['ip', '-o', 'link'])).stdout;
  await using lab = await netnsLab(seed003Lab()).start();
  created.push(lab.id);
  t.is((await exec(['ip', '-o', 'link'])).stdout, before);
  // Ask the kernel's routing table (no packet is sent): outside addresses are unreachable
  // from the node, and every pod or external host routes only to the node.
  // The host's own global addresses (its uplink among them) and a few beyond it.
  const hostAddrs = [...(await exec(['ip', '-o', '-4', 'addr', 'show', 'scope', 'global'])).stdout.matchAll(/inet (\d+\.\d+\.\d+\.\d+)\//g)].map((m) => m[1]!);
  const outside = [...hostAddrs, '192.0.2.1', '8.8.8.8', '172.17.0.1'];
  for (const ip of outside) {
    const r = await lab.runOnNode(['ip', 'route', 'get', ip]);
    t.not(r.exitCode, 0, `node routes ${ip}: ${r.stdout}`);
    t.regex(r.stderr, /unreachable/i);
  }
  for (const h of lab.plan.hosts) {
    const r = await lab.run(h.name, ['ip', '-o', 'route']);
    t.deepEqual(
      r.stdout.trim().split('\n').map((l) => l.trim()).sort(),
      [`${h.gateway} dev eth0 scope link`, `default via ${h.gateway} dev eth0`].sort(),
    );
    const links = await lab.run(h.name, ['ip', '-o', 'link']);
    t.deepEqual([...links.stdout.matchAll(/^\d+: ([^:@]+)/gm)].map((m) => m[1]), ['lo', 'eth0']);
  }
});

netnsTest(`${NEEDS_ROOT} stop() removes namespaces, processes, /etc/netns entries and the record`, async (t) => {
  const lab = await netnsLab(seed003Lab()).start();
  created.push(lab.id);
  const sleeper = lab.run('app', ['sleep', '30']);
  await new Promise((r) => setTimeout(r, 100));
  t.true((await listLabNamespaces()).has(lab.id));
  await lab.stop();
  const r = await sleeper;
  t.is(r.signal, 'SIGKILL');
  t.false((await listLabNamespaces()).has(lab.id));
  t.false((await findLabIds()).includes(lab.id));
  t.deepEqual(readdirSync('/etc/netns').filter((e) => e.includes(lab.id)), []);
});

netnsTest(`${NEEDS_ROOT} two labs run at once without colliding, and sweepLabs removes both`, async (t) => {
  const a = await netnsLab(seed003Lab()).start();
  const b = await netnsLab(seed003Lab()).start();
  created.push(a.id, b.id);
  t.not(a.id, b.id);
  const srv = b.run('redis', ['nc', '-l', '-p', '7100', '-q', '1'], { input: 'b\n', timeoutMs: 5000 });
  await b.waitListening('redis', [7100]);
  // Same addresses in both labs; each pod reaches its own lab's host only.
  const inA = await a.run('app', ['nc', '-w', '1', '10.0.0.6', '7100'], { input: 'x\n', timeoutMs: 3000 });
  t.is(inA.stdout, '');
  t.not(inA.exitCode, 0);
  const inB = await b.run('app', ['nc', '-w', '2', '10.0.0.6', '7100'], { input: 'x\n', timeoutMs: 3000 });
  t.is(inB.stdout, 'b\n');
  await srv;
  const swept = await sweepLabs(new Set([a.id, b.id]));
  t.deepEqual(swept, [a.id, b.id].sort());
  t.false((await listLabNamespaces()).has(a.id));
  t.false((await listLabNamespaces()).has(b.id));
});
