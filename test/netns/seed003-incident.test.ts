// Seed 003 replayed on the real kernel: the netns lab with istio-init's rules and upstream
// Envoy. Every probe's listener / filter chain / cluster in Envoy's access log must be what
// `explain` predicts from the pod's own iptables-save and Envoy's own /config_dump.
import { readFileSync } from 'node:fs';
import test, { type ExecutionContext } from 'ava';
import { explain } from '../../src/mesh/envoy/explain.ts';
import { parseConfigDump } from '../../src/mesh/envoy/config-dump-parser.ts';
import type { EnvoyConfig } from '../../src/mesh/envoy/envoy-config.ts';
import { accessLogLineOf, parseAccessLogLine } from '../../src/paths/access-log.ts';
import type { AccessLogLine } from '../../src/paths/observe.ts';
import { loadRuleSet, parseIptablesSave } from '../../src/mesh/iptables/index.ts';
import { kernelTrace } from '../../src/paths/kernel-trace.ts';
import { conntrackArgv, endpointOf, parseConntrack } from '../../src/probes/conntrack.ts';
import { believeAbsence, parseTcpdump } from '../../src/probes/tcpdump.ts';
import { netnsLab, removeLab, type StartedNetnsLab } from '../../src/lab/netns/netns-lab.ts';
import { loadScenarioFile } from '../../src/scenario/loader.ts';
import type { LabSpec, SetupStep } from '../../src/scenario/schema.ts';
import { NEEDS_ROOT, netnsTest } from '../helpers/caps.ts';

const scenario = (() => {
  const r = loadScenarioFile('scenarios/incident-7000/outage-legacy.yaml');
  if (!r.ok) throw new Error('the catalogue scenario must load');
  return r.scenario;
})();
const FAULT = scenario.setup!;
const APP = { uid: 1000, gid: 1000 };
const POD_IP = '10.64.192.14';
const REDIS = '10.0.0.6';
// Envoy 1.38's answer to bytes that are not HTTP (1.13, in the article, sent no body).
const BAD_REQUEST = /^HTTP\/1\.1 400 Bad Request\r\n(.*\r\n)*server: envoy\r\n(.*\r\n)*\r\nBad Request$/;
const NOAUTH = /^-NOAUTH Authentication required/;

const created: string[] = [];
test.after.always(async () => {
  for (const id of created) await removeLab(id);
});

async function startLab(version: LabSpec['istio']['version'], steps: SetupStep[]): Promise<StartedNetnsLab> {
  const lab = await netnsLab({ ...scenario.lab, istio: { version } }).start();
  created.push(lab.id);
  for (const s of steps) await lab.mesh.apply(s);
  return lab;
}

/** The app's outbound access log lines (under pilot-agent, Envoy's stdout: its lines start with "["). */
function outboundLines(lab: StartedNetnsLab): string[] {
  const where = lab.mesh.accessLogPaths('app');
  return readFileSync('stdout' in where ? where.stdout : where.split.outbound, 'utf8').split('\n').filter((l) => l.startsWith('['));
}

async function accessLog(lab: StartedNetnsLab, config: EnvoyConfig, count: number): Promise<AccessLogLine[]> {
  for (let i = 0; i < 200; i++) {
    const lines = outboundLines(lab);
    if (lines.length >= count) return lines.map((l) => accessLogLineOf(parseAccessLogLine(l), config, 15001));
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('Envoy wrote no access log line');
}

/**
 * Sends `keys *` to REDIS:port from the app (as its uid), then checks that the sidecar's access
 * log names the listener, chain and cluster that explain predicts from the pod's real rules
 * (iptables-save inside the pod) and the sidecar's real /config_dump.
 */
async function probe(t: ExecutionContext, lab: StartedNetnsLab, port: number): Promise<string> {
  const before = outboundLines(lab).length;
  // Without a half-close, as the article's nc: Envoy's HTTP connection manager answers only then.
  const r = await lab.run('app', ['nc', '-w', '2', REDIS, String(port)], { input: 'keys *\r\n', user: APP, timeoutMs: 6000 });
  const save = await lab.run('app', ['iptables-save']);
  const dump = await lab.run('app', ['curl', '-sS', 'http://127.0.0.1:15000/config_dump']);
  const conn = { src: POD_IP, dst: { ip: REDIS, port }, payload: { kind: 'bytes' as const, text: 'keys *\r\n' } };
  const config = parseConfigDump(JSON.parse(dump.stdout));
  const e = explain(kernelTrace(loadRuleSet(parseIptablesSave(save.stdout)), { src: POD_IP, dst: conn.dst, podIp: POD_IP, uid: APP.uid }), config, conn);
  if (e.listener !== null) {
    const line = (await accessLog(lab, config, before + 1)).at(-1)!;
    t.is(line.downstream_local_address, `${REDIS}:${port}`);
    t.deepEqual(
      { listener: line.listener, chain: line.filter_chain, cluster: line.upstream_cluster ?? null },
      // Envoy logs a chain's name; an unnamed chain (explain says #N, its position) logs none.
      { listener: e.listener, chain: e.filterChain?.startsWith('#') ? null : e.filterChain, cluster: e.cluster },
      `sidecar access log vs explain for ${REDIS}:${port}`,
    );
  }
  return r.stdout;
}

netnsTest(`${NEEDS_ROOT} legacy (1.5): 7000 answers the 400, nothing to 7000 leaves the pod, conntrack ends at 15001; 7003 answers NOAUTH`, async (t) => {
  const lab = await startLab('1.5', FAULT);
  const capture = await lab.startCapture('app', 'eth0', `tcp and host ${REDIS}`);
  t.regex(await probe(t, lab, 7000), BAD_REQUEST);
  t.regex(await probe(t, lab, 7003), NOAUTH);
  const packets = parseTcpdump((await capture.stop()).stdout);
  t.deepEqual(believeAbsence(packets, { ip: REDIS, port: 7000 }, { ip: REDIS, port: 7003 }), { believed: true });
  const ct = parseConntrack((await lab.run('app', conntrackArgv())).stdout);
  const to7000 = ct.filter((c) => c.orig.dst === REDIS && c.orig.dport === 7000);
  const to7003 = ct.filter((c) => c.orig.dst === REDIS && c.orig.dport === 7003);
  t.true(to7000.length >= 1);
  t.deepEqual([...new Set(to7000.map(endpointOf))], ['127.0.0.1:15001'], 'the 7000 connection ends at the sidecar');
  t.deepEqual([...new Set(to7003.map(endpointOf))].sort(), ['10.0.0.6:7003', '127.0.0.1:15001'], 'app → 15001, then the sidecar → redis');
  await lab.stop();
});

netnsTest(`${NEEDS_ROOT} current: the same HTTP Service no longer breaks 7000 (PassthroughFilterChain)`, async (t) => {
  const lab = await startLab('current', FAULT);
  t.regex(await probe(t, lab, 7000), NOAUTH);
  await lab.stop();
});

netnsTest(`${NEEDS_ROOT} current: a TCP ServiceEntry without addresses on 7000 takes every IP's 7000 away from redis`, async (t) => {
  const se: SetupStep = {
    apply: {
      apiVersion: 'networking.istio.io/v1',
      kind: 'ServiceEntry',
      metadata: { name: 'legacy-cache', namespace: 'ops' },
      spec: { hosts: ['cache.legacy.example.com'], ports: [{ number: 7000, name: 'tcp-cache', protocol: 'TCP' }], location: 'MESH_EXTERNAL', resolution: 'DNS' },
    },
  };
  const lab = await startLab('current', [se]);
  const reply = await probe(t, lab, 7000);
  t.notRegex(reply, NOAUTH);
  t.regex(await probe(t, lab, 7003), NOAUTH);
  await lab.stop();
});

const FIXES: Array<[string, SetupStep]> = [
  [
    'a ServiceEntry with addresses [10.0.0.6], TCP 7000',
    {
      role: 'fix',
      apply: {
        apiVersion: 'networking.istio.io/v1',
        kind: 'ServiceEntry',
        metadata: { name: 'external-redis', namespace: 'default' },
        spec: {
          hosts: ['redis.external.example.com'],
          addresses: [REDIS],
          ports: [{ number: 7000, name: 'tcp-redis', protocol: 'TCP' }],
          location: 'MESH_EXTERNAL',
          resolution: 'STATIC',
          endpoints: [{ address: REDIS }],
        },
      },
    },
  ],
  [
    'a Sidecar whose egress hosts leave the frontend namespace out',
    {
      role: 'fix',
      apply: { apiVersion: 'networking.istio.io/v1', kind: 'Sidecar', metadata: { name: 'default', namespace: 'default' }, spec: { egress: [{ hosts: ['./*', 'istio-system/*'] }] } },
    },
  ],
  ['excludeOutboundPorts 7000', { role: 'fix', annotate: { pod: 'app', annotations: { 'traffic.sidecar.istio.io/excludeOutboundPorts': '7000' } } }],
  ['excludeOutboundIPRanges 10.0.0.6/32', { role: 'fix', annotate: { pod: 'app', annotations: { 'traffic.sidecar.istio.io/excludeOutboundIPRanges': '10.0.0.6/32' } } }],
];

netnsTest(`${NEEDS_ROOT} legacy: each fix of the incident makes 7000 answer from redis`, async (t) => {
  const lab = await startLab('1.5', FAULT);
  for (const [name, fix] of FIXES) {
    await lab.mesh.apply(fix);
    t.regex(await probe(t, lab, 7000), NOAUTH, name);
    // Back to the outage before the next fix.
    await lab.mesh.reset();
    for (const s of FAULT) await lab.mesh.apply(s);
    t.regex(await probe(t, lab, 7000), BAD_REQUEST, `without ${name}`);
  }
  await lab.stop();
});
