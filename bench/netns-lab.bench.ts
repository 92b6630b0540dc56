// The netns lab's cost: up and down of the default 10-pod lab (8 meshed, 8 real Envoys), against
// floors measured in the same run: the same ip / iptables-restore work done by a plain shell
// loop, one process per command (target: within 1.5x), and 8 bare `envoy --version` starts at
// once (the issue's target for lab up: 2x; the Envoys' part of it is shown apart). Prints the
// whole lab up time (target under 2 s) and each Envoy's resident memory once ready.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemEnv } from '../src/lab/exec.ts';
import { readFileSync } from 'node:fs';
import { LAB_STATE_DIR, netnsLab, removeLab } from '../src/lab/netns/netns-lab.ts';
import { ENVOY_PINS, envoyForLab, installedEnvoy } from '../src/istio/envoy.ts';
import { istioInitRules } from '../src/mesh/iptables/index.ts';
import { netnsUnavailable } from '../src/lab/netns/requirements.ts';
import { labFromFile, DEFAULT_NETNS_LAB } from '../src/lab/netns/lab-commands.ts';

const why = netnsUnavailable();
if (why) {
  console.log(`netns-lab bench skipped: ${why}`);
} else {
  const { spec } = labFromFile(DEFAULT_NETNS_LAB);
  const ROUNDS = 3;
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

  // The floor: a shell script with the same namespaces, links, addresses, routes and rules.
  const dir = mkdtempSync(join(tmpdir(), 'pathlab-bench-'));
  const rules = istioInitRules(spec.istio.version).payload;
  writeFileSync(join(dir, 'rules'), rules);
  const pods = spec.pods.map((p, i) => ({ ns: `plb-${i}`, ip: `10.64.0.${10 + i}`, meshed: p.meshed !== false }));
  const up = [
    'set -e',
    'ip netns add plb-node',
    'ip -n plb-node link set lo up',
    'ip -n plb-node link add br0 type bridge',
    'ip -n plb-node link set br0 up',
    'ip -n plb-node addr add 10.64.0.1/16 dev br0',
    ...pods.flatMap((p, i) => [
      `ip netns add ${p.ns}`,
      `ip -n plb-node link add plbh${i} type veth peer name eth0 netns ${p.ns}`,
      `ip -n plb-node link set plbh${i} master br0`,
      `ip -n plb-node link set plbh${i} up`,
      `ip -n ${p.ns} link set lo up`,
      `ip -n ${p.ns} link set eth0 up`,
      `ip -n ${p.ns} addr add ${p.ip}/32 dev eth0`,
      `ip -n ${p.ns} route add 10.64.0.1 dev eth0 scope link`,
      `ip -n ${p.ns} route add default via 10.64.0.1 dev eth0`,
      ...(p.meshed ? [`ip netns exec ${p.ns} iptables-restore --noflush < ${join(dir, 'rules')}`] : []),
    ]),
  ].join('\n');
  const down = ['ip netns del plb-node', ...pods.map((p) => `ip netns del ${p.ns}`)].join('\n');
  const sh = (script: string) => {
    const t0 = performance.now();
    const r = spawnSync('bash', ['-c', script], { env: systemEnv(), encoding: 'utf8' });
    if (r.status !== 0) throw new Error(r.stderr);
    return performance.now() - t0;
  };

  const installed = await installedEnvoy(ENVOY_PINS[0]!.version);
  if (!installed) throw new Error('Envoy is not installed: npm run system-deps');
  const envoy = envoyForLab(installed, LAB_STATE_DIR);
  // The Envoy floor: 8 bare starts of the same binary at once (it loads, prints its version, exits).
  const envoyFloor = () => sh(`for i in 1 2 3 4 5 6 7 8; do ${envoy} --version >/dev/null & done; wait`);
  const rssKiB = (pid: number) => Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);

  const floorUp: number[] = [];
  const floorEnvoy: number[] = [];
  const envoyPart: number[] = [];
  const rss: number[] = [];
  const agentRss: number[] = [];
  const floorDown: number[] = [];
  const netRules: number[] = [];
  const whole: number[] = [];
  const labDown: number[] = [];
  const nsDown: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    floorUp.push(sh(up));
    floorDown.push(sh(down));
    floorEnvoy.push(envoyFloor());
    const t0 = performance.now();
    const lab = await netnsLab(spec).start();
    whole.push(performance.now() - t0);
    netRules.push(lab.timings.networkMs + lab.timings.rulesMs);
    envoyPart.push(lab.timings.envoyMs);
    // Envoy: started by the lab (the model), or by pilot-agent (istiod): then its child, and pilot-agent counted apart.
    for (const p of lab.processes.filter((x) => x.what === 'envoy')) rss.push(rssKiB(p.pid));
    for (const p of lab.processes.filter((x) => x.what === 'istio-proxy')) {
      agentRss.push(rssKiB(p.pid));
      for (const child of spawnSync('pgrep', ['-P', String(p.pid), '-x', 'envoy'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean)) rss.push(rssKiB(Number(child)));
    }
    const t1 = performance.now();
    const { namespacesMs } = await removeLab(lab.id);
    labDown.push(performance.now() - t1);
    nsDown.push(namespacesMs);
  }
  rmSync(dir, { recursive: true, force: true });
  const f = median(floorUp);
  const fd = median(floorDown);
  const nr = median(netRules);
  const w = median(whole);
  const d = median(labDown);
  const nd = median(nsDown);
  const fe = median(floorEnvoy);
  const ep = median(envoyPart);
  console.log(`10-pod lab (8 meshed), median of ${ROUNDS}:`);
  console.log(`floor: shell loop, namespaces + links + addresses + istio-init rules   ${f.toFixed(0)} ms = 1.00`);
  console.log(`pathlab: namespaces + links + addresses + istio-init rules            ${nr.toFixed(0)} ms = ${(nr / f).toFixed(2)} × floor (target ≤ 1.5)`);
  console.log(`pathlab: whole lab up (+ CA, sidecars, apps, redis, readiness)        ${w.toFixed(0)} ms (target < 2000 ms)`);
  console.log(`floor: 8 bare envoy --version at once                             ${fe.toFixed(0)} ms = 1.00`);
  console.log(`pathlab: whole lab up, as a ratio to that floor                      ${w.toFixed(0)} ms = ${(w / fe).toFixed(2)} × floor (issue target ≤ 2: ${w / fe <= 2 ? 'met' : 'not met'})`);
  console.log(`pathlab: its sidecar part (8 from start to ready, configured)        ${ep.toFixed(0)} ms = ${(ep / fe).toFixed(2)} × floor`);
  console.log(`Envoy resident memory per pod, once ready (median of ${rss.length})       ${(median(rss) / 1024).toFixed(1)} MiB (max ${(Math.max(...rss) / 1024).toFixed(1)} MiB)`);
  if (agentRss.length > 0) console.log(`pilot-agent resident memory per pod, once ready (median of ${agentRss.length}) ${(median(agentRss) / 1024).toFixed(1)} MiB (max ${(Math.max(...agentRss) / 1024).toFixed(1)} MiB)`);
  console.log(`floor: shell loop, ip netns del ×11                                   ${fd.toFixed(0)} ms = 1.00`);
  console.log(`pathlab: lab down, namespaces part (one ip -batch)                  ${nd.toFixed(0)} ms = ${(nd / fd).toFixed(2)} × floor (target ≤ 1.5)`);
  console.log(`pathlab: lab down, whole (kill every process first, files, records)  ${d.toFixed(0)} ms = ${(d / fd).toFixed(2)} × floor`);
  if (nr / f > 1.5 || nd / fd > 1.5 || w >= 2000) process.exitCode = 1;
}
