// Seed 003's incident replayed from real dumps, as an SRE would: `pathlab capture` makes a capture
// folder from a dump and rules taken by hand, drafts a scenario, and `pathlab run` replays it in
// the netns lab (the captured rules loaded with iptables-restore, the captured configuration in
// upstream Envoy, the external redis at its address). What is asserted is what the lab observed
// (the kernel's trace, Envoy's access log, the client's reply), not the draft's prediction:
// - legacy: Istio 1.1.1's productpage dump (its HTTP port listener 0.0.0.0_9080 has one match-all
//   HTTP chain) behind the incident pod's own 2021 rules: the redis protocol to 10.0.0.6:9080
//   answers `HTTP/1.1 400 Bad Request` from the sidecar, as 7000 did in the article; the fix
//   (excludeOutboundPorts) reaches redis, and --check-fault runs the capture without it;
// - current: Istio's 1.19-era sidecar listeners (0.0.0.0_9080 with its PassthroughFilterChain)
//   behind a 1.14.3 pod's rules: the same connection passes through to redis.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NEEDS_ROOT, netnsTest } from '../helpers/caps.ts';
import { sharedPath } from '../helpers/shared-fixtures.ts';

const pathlab = (args: string[]) => spawnSync(process.execPath, ['bin/pathlab.js', ...args], { encoding: 'utf8', timeout: 180_000 });

interface ProbeReport {
  status: string;
  observed: string[];
  reason?: string;
}
interface RunReport {
  scenarios: Array<{ name: string; mode?: string; status: string; probes: ProbeReport[]; producedBy?: { controlPlane: string; istioInit: string } }>;
}

function report(dir: string): RunReport {
  return JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as RunReport;
}

const REDIS = `  externalHosts:
    - name: redis
      address: 10.0.0.6
      server: redis
      ports: [9080]
      password: lab-secret
`;

/** The article's redis command to 10.0.0.6:9080 from `pod`, answered by redis (its path follows, a hop a line). */
const redisProbe = (pod: string) => `probes:
  - name: redis-9080
    from: { pod: ${pod} }
    tool: nc
    target: { address: 10.0.0.6, port: 9080 }
    payload: "keys *\\r\\n"
    halfClose: false
    timeout: 3s
    expect:
      reply: { pattern: "^-NOAUTH" }
      path:
`;

netnsTest(`${NEEDS_ROOT} seed 003 replayed from Istio 1.1.1's productpage dump and the incident pod's rules: the sidecar answers 400; the fix reaches redis; --check-fault runs the capture without it`, (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pathlab-replay-'));
  try {
    const cap = join(dir, 'capture');
    const c = pathlab(['capture', '--config-dump', sharedPath('fixtures', 'envoy', 'productpage_config_dump.json'), '--iptables', sharedPath('fixtures', 'iptables', 'seed003-2021.save'), '--to', '10.0.0.6:9080', '--out', cap]);
    t.is(c.status, 0, c.stderr);
    t.regex(c.stdout, /captured default\/productpage-v1-5cb458d74f-56sx7 \(Istio 1\.1\.1, Envoy 1\.10\.0-dev\)/);
    t.regex(c.stdout, /drafted .*scenario\.yaml: edit its expectations/);
    const draft = readFileSync(join(cap, 'scenario.yaml'), 'utf8');
    t.regex(draft, /expected as explain predicts it/);

    // The draft, as drafted, against the replay.
    const out1 = join(dir, 'out1');
    const r1 = pathlab(['run', join(cap, 'scenario.yaml'), '--reporter', 'json', '--out', out1]);
    t.is(r1.status, 0, r1.stdout + r1.stderr);
    t.regex(r1.stdout, /explain = envoy: 1\/1/);
    const ran = report(out1).scenarios[0]!;
    t.regex(ran.producedBy!.controlPlane, /^none: the configuration captured from default\/productpage-v1-5cb458d74f-56sx7 \(Istio 1\.1\.1/);
    t.regex(ran.producedBy!.istioInit, /^the captured rules \(iptables\.save/);
    const seen = ran.probes[0]!.observed;
    t.log(seen.join('\n'));
    t.deepEqual(seen, [
      'iptables nat/OUTPUT#1 -> nat/istio_OUTPUT#6 -> nat/istio_REDIRECT#1 REDIRECT:15001',
      'envoy listener=virtual -> listener=0.0.0.0_9080 flags=DPE',
      'reply "HTTP/1.1 400 Bad Request"',
    ]);

    // The fix as a setup step: the port left out of capture, as istio-iptables -o puts it (first in istio_OUTPUT).
    const fixed = join(dir, 'fixed.yaml');
    writeFileSync(
      fixed,
      `apiVersion: pathlab/v1
kind: Scenario
metadata:
  name: replay-seed003-legacy-fixed
  description: the legacy capture with the redis port excluded from capture
  source: { seed: '003' }
  backends: [netns]
lab:
  capture: ./capture
${REDIS}setup:
  - role: fix
    annotate:
      pod: productpage-v1-5cb458d74f-56sx7
      annotations:
        traffic.sidecar.istio.io/excludeOutboundPorts: "9080"
${redisProbe('productpage-v1-5cb458d74f-56sx7')}        - iptables nat/OUTPUT#1 -> nat/istio_OUTPUT#1 ACCEPT
        - wire iface=eth0 dst=10.0.0.6:9080
      notPath:
        - envoy listener=virtual
`,
    );
    const out2 = join(dir, 'out2');
    const r2 = pathlab(['run', fixed, '--check-fault', '--reporter', 'json', '--out', out2]);
    t.is(r2.status, 0, r2.stdout + r2.stderr);
    t.regex(r2.stdout, /2 scenarios: 2 passed/);
    const runs = report(out2).scenarios;
    const without = runs.find((s) => s.mode === 'without-change')!.probes[0]!;
    t.is(without.status, 'failed');
    t.true(without.observed.includes('reply "HTTP/1.1 400 Bad Request"'), without.observed.join('\n'));
    t.true(runs.find((s) => s.mode !== 'without-change')!.probes[0]!.observed.includes('reply "-NOAUTH Authentication required."'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

netnsTest(`${NEEDS_ROOT} the same connection replayed from Istio's 1.19-era sidecar listeners and a 1.14.3 pod's rules passes through to redis`, (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pathlab-replay-'));
  try {
    const cap = join(dir, 'capture');
    // A listeners-only dump names no pod: given here.
    const c = pathlab(['capture', '--config-dump', sharedPath('fixtures', 'envoy', 'configdump.yaml'), '--iptables', sharedPath('fixtures', 'iptables', 'seed002-istio-1.14.3.save'), '--pod', 'default/app', '--pod-ip', '10.244.1.9', '--out', cap]);
    t.is(c.status, 0, c.stderr);
    const s = join(dir, 'current.yaml');
    writeFileSync(
      s,
      `apiVersion: pathlab/v1
kind: Scenario
metadata:
  name: replay-seed003-current
  description: the current sidecar's 0.0.0.0_9080 passes an unknown destination through
  source: { seed: '003' }
  backends: [netns]
lab:
  capture: ./capture
${REDIS}${redisProbe('app')}        - envoy listener=virtualOutbound -> listener=0.0.0.0_9080 chain=PassthroughFilterChain cluster=PassthroughCluster
        - wire iface=eth0 dst=10.0.0.6:9080
`,
    );
    const out = join(dir, 'out');
    const r = pathlab(['run', s, '--reporter', 'json', '--out', out]);
    t.is(r.status, 0, r.stdout + r.stderr);
    t.regex(r.stdout, /explain = envoy: 1\/1/);
    t.log(report(out).scenarios[0]!.probes[0]!.observed.join('\n'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
