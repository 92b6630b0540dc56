// A scenario's lab from a capture folder (lab: { capture: DIR }): what the loader makes of it (the
// captured pod first, with its address, era and the uid its rules exempt; the scenario's hosts
// beside it), and what it refuses, each problem at its field: a folder that is not a capture, a
// capture without the rules a replay needs, a backend other than netns, another meshed pod, setup
// steps a captured configuration cannot take.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { captureFromFiles, nodeFacts } from '../../../src/cli/capture-draft.ts';
import { loadScenarioFile } from '../../../src/scenario/loader.ts';
import { capturedUpstreams } from '../../../src/scenario/capture-lab.ts';
import { readFixture } from '../../helpers/shared-fixtures.ts';

const dir = mkdtempSync(join(tmpdir(), 'pathlab-capture-lab-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

const DUMP = readFixture('envoy', 'productpage_config_dump.json');
const RULES = readFixture('iptables', 'seed003-2021.save');

function captureFolder(name: string, files: Record<string, string>): string {
  const at = join(dir, name);
  mkdirSync(at, { recursive: true });
  for (const [f, text] of Object.entries(files)) writeFileSync(join(at, f), text);
  return at;
}
const legacy = captureFolder('legacy', captureFromFiles({ configDump: DUMP, iptables: RULES, source: 'fixtures' }).files);

function scenario(name: string, body: string): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, `apiVersion: pathlab/v1\nkind: Scenario\nmetadata: {name: ${name}, description: x, source: {seed: '003'}, backends: [netns]}\n${body}`);
  return file;
}
const PROBE = 'probes:\n  - {name: p, from: {pod: productpage-v1-5cb458d74f-56sx7}, tool: nc, target: {address: 10.0.0.6, port: 9080}, expect: {outcome: reached}}\n';

test('the bootstrap node names the pod, its address and the versions (Istio 1.1.1\'s productpage)', (t) => {
  t.deepEqual(nodeFacts(JSON.parse(DUMP)), { ip: '10.52.2.21', pod: 'productpage-v1-5cb458d74f-56sx7', namespace: 'default', istio: '1.1.1', envoy: '1.10.0-dev' });
  t.deepEqual(nodeFacts(JSON.parse(readFixture('envoy', 'configdump.yaml'))), {}, 'a listeners-only dump names nothing');
  t.throws(() => captureFromFiles({ configDump: readFixture('envoy', 'configdump.yaml'), iptables: RULES, source: 'x' }), { message: /names no pod .*give --pod NS\/NAME/ });
});

test('lab: { capture } becomes the captured pod (first, meshed, at its address, in a /24 around it, its era, the uid its rules exempt) and the scenario\'s hosts', (t) => {
  const r = loadScenarioFile(scenario('ok', `lab:\n  capture: ./legacy\n  externalHosts:\n    - {name: redis, address: 10.0.0.6, server: redis, ports: [9080]}\n  pods:\n    - {name: client, workload: toolbox}\n${PROBE}`));
  if (!r.ok) return t.fail(r.problems.map((p) => `${p.field}: ${p.message}`).join('\n'));
  const lab = r.scenario.lab;
  t.is(lab.capture, legacy);
  t.deepEqual(lab.istio, { version: '1.2' });
  t.deepEqual(lab.proxy, { uid: 1337 });
  t.deepEqual(lab.network, { podCidr: '10.52.2.0/24', externalCidr: '198.18.0.0/24' });
  t.deepEqual(lab.pods.map((p) => [p.name, p.namespace, p.ip, p.meshed]), [['productpage-v1-5cb458d74f-56sx7', 'default', '10.52.2.21', true], ['client', undefined, undefined, false]]);
  t.deepEqual(lab.externalHosts?.map((h) => h.address), ['10.0.0.6']);
});

test('each problem of a capture lab at its field', (t) => {
  const problems = (name: string, body: string) => {
    const r = loadScenarioFile(scenario(name, body));
    return r.ok ? [] : r.problems.map((p) => `${p.field}: ${p.message}`);
  };
  const missing = problems('nofolder', `lab:\n  capture: ./nosuch\n${PROBE}`);
  t.is(missing.length, 1);
  t.regex(missing[0]!, /^lab\.capture: .*nosuch\/capture\.yaml/);
  t.regex(problems('absolute', `lab:\n  capture: ${legacy}\n${PROBE}`)[0]!, /^lab\.capture: .*relative to the scenario's folder/);
  const norules = captureFolder('norules', { ...captureFromFiles({ configDump: DUMP, iptables: RULES, source: 'x' }).files });
  rmSync(join(norules, 'iptables.save'));
  writeFileSync(join(norules, 'capture.yaml'), captureFromFiles({ configDump: DUMP, iptables: RULES, source: 'x' }).files['capture.yaml']!.replace('  - iptables.save\n', ''));
  t.deepEqual(problems('norules', `lab:\n  capture: ./norules\n${PROBE}`), ['lab.capture: ./norules: has no iptables.save: a replay needs the sidecar\'s configuration and the pod\'s rules']);
  t.deepEqual(problems('fine', `lab:\n  capture: ./legacy\n  externalHosts:\n    - {name: redis, address: 10.0.0.6, server: redis, ports: [9080]}\n${PROBE}`), []);
  // A probe to a captured address where the lab has no host: refused, as any probe outside the lab is.
  t.regex(problems('nohost', `lab:\n  capture: ./legacy\n${PROBE}`)[0]!, /^probes\[0\]\.target\.address: 10\.0\.0\.6 is outside the lab's networks/);
  const wrong = problems(
    'wrong',
    `lab:\n  capture: ./legacy\n  pods:\n    - {name: other, workload: echo, meshed: true}\nsetup:\n  - {role: fix, apply: {apiVersion: networking.istio.io/v1, kind: ServiceEntry, metadata: {name: s}, spec: {hosts: [redis.example], ports: [{number: 9080, name: tcp, protocol: TCP}], resolution: NONE, location: MESH_EXTERNAL}}}\n  - {role: fix, annotate: {pod: productpage-v1-5cb458d74f-56sx7, annotations: {traffic.sidecar.istio.io/excludeOutboundIPRanges: 10.0.0.6/32}}}\n  - {role: fix, meshConfig: {outboundTrafficPolicy: {mode: REGISTRY_ONLY}}}\n${PROBE}`,
  );
  t.true(wrong.some((p) => /^lab\.pods\[0\]: other: beside a captured pod, other pods have no sidecar/.test(p)), wrong.join('\n'));
  t.true(wrong.some((p) => /^setup\[0\]: a captured configuration is replayed as it was captured, not generated anew: an applied object would need istiod/.test(p)), wrong.join('\n'));
  t.true(wrong.some((p) => /^setup\[1\]\.annotate\.annotations: traffic\.sidecar\.istio\.io\/excludeOutboundIPRanges: the replay applies only traffic\.sidecar\.istio\.io\/excludeOutboundPorts/.test(p)), wrong.join('\n'));
  t.true(wrong.some((p) => /^setup\[2\]\.meshConfig: .*the mesh config is in the captured listeners already/.test(p)), wrong.join('\n'));
});

test('a capture lab runs on the netns backend only', (t) => {
  const file = join(dir, 'onkind.yaml');
  writeFileSync(file, `apiVersion: pathlab/v1\nkind: Scenario\nmetadata: {name: onkind, description: x, source: {seed: '003'}, backends: [netns, kind]}\nlab:\n  capture: ./legacy\n${PROBE}`);
  const r = loadScenarioFile(file);
  t.false(r.ok);
  if (!r.ok) t.true(r.problems.some((p) => p.field === 'metadata.backends[1]' && /replayed in the netns lab only, not on kind/.test(p.message)), r.problems.map((p) => `${p.field}: ${p.message}`).join('\n'));
});

test('a dump\'s endpoints as lab hosts: one per address with its ports, mtls where Istio sends mTLS, the probes\' Services first, at most the room left', (t) => {
  // The shapes istiod's dumps have (a ClustersConfigDump cluster with tlsMode-istio socket matches, EDS endpoints with their metadata).
  const cluster = (name: string, san?: string) => ({ cluster: { name, ...(san ? { transport_socket_matches: [{ name: 'tlsMode-istio', match: { tlsMode: 'istio' }, transport_socket: { typed_config: { common_tls_context: { combined_validation_context: { default_validation_context: { match_subject_alt_names: [{ exact: san }] } } } } } }] } : {}) } });
  const endpoint = (ip: string, port: number, workload: string, mtls: boolean) => ({ endpoint: { address: { socket_address: { address: ip, port_value: port } } }, metadata: { filter_metadata: { ...(mtls ? { 'envoy.transport_socket_match': { tlsMode: 'istio' } } : {}), istio: { workload: `${workload};default;${workload};v1;Kubernetes` } } } });
  const dump = {
    configs: [
      { '@type': 'type.googleapis.com/envoy.admin.v3.ClustersConfigDump', dynamic_active_clusters: [cluster('outbound|9080||details.default.svc.cluster.local', 'spiffe://cluster.local/ns/default/sa/details'), cluster('outbound|6379||redis.db.svc.cluster.local')] },
      {
        '@type': 'type.googleapis.com/envoy.admin.v3.EndpointsConfigDump',
        dynamic_endpoint_configs: [
          { endpoint_config: { cluster_name: 'outbound|9080||details.default.svc.cluster.local', endpoints: [{ lb_endpoints: [endpoint('10.64.0.11', 9080, 'details', true), endpoint('10.64.0.9', 9080, 'details', true)] }] } },
          { endpoint_config: { cluster_name: 'outbound|6379||redis.db.svc.cluster.local', endpoints: [{ lb_endpoints: [endpoint('10.64.0.5', 6379, 'redis', false), endpoint('127.0.0.1', 6379, 'x', false), endpoint('10.64.0.10', 6379, 'self', false)] }] } },
        ],
      },
    ],
  };
  const all = capturedUpstreams(dump, new Set(['10.64.0.10']), new Set(['details']), 16);
  t.deepEqual(all.hosts, [
    { name: 'redis', address: '10.64.0.5', ports: [6379], server: 'echo' },
    { name: 'details-2', address: '10.64.0.9', ports: [9080], server: 'mtls', identity: 'spiffe://cluster.local/ns/default/sa/details' },
    { name: 'details-3', address: '10.64.0.11', ports: [9080], server: 'mtls', identity: 'spiffe://cluster.local/ns/default/sa/details' },
  ]);
  const one = capturedUpstreams(dump, new Set(['10.64.0.10']), new Set(), 1, new Set(['details']));
  t.deepEqual(one.hosts.map((h) => h.address), ['10.64.0.9']);
  t.deepEqual(one.notes, ['endpoint 10.64.0.11 (details): no lab host, the lab has no room left (16 hosts at most)', 'endpoint 10.64.0.5 (redis): no lab host, the lab has no room left (16 hosts at most)']);
});

test('a capture that would run code, run as root or lead out of the scenario\'s folder is refused; an IPv6 pod too', async (t) => {
  const { symlinkSync } = await import('node:fs');
  const problems = (name: string, body: string) => {
    const r = loadScenarioFile(scenario(name, body));
    return r.ok ? [] : r.problems.map((p) => `${p.field}: ${p.message}`);
  };
  const files = captureFromFiles({ configDump: DUMP, iptables: RULES, source: 'x' }).files;
  // A Lua filter in the dump (what an EnvoyFilter could have put there): Envoy would run its code.
  const dump = JSON.parse(files['config_dump.json']!) as { configs: Array<Record<string, any>> }; // eslint-disable-line @typescript-eslint/no-explicit-any
  const listeners = dump.configs.find((c) => String(c['@type']).endsWith('ListenersConfigDump'))!;
  const hcm = listeners.dynamic_listeners.find((l: any) => l.active_state.listener.name === '0.0.0.0_9080').active_state.listener.filter_chains[0].filters[0]; // eslint-disable-line @typescript-eslint/no-explicit-any
  hcm.config.http_filters.unshift({ name: 'envoy.filters.http.lua', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua', inline_code: 'function envoy_on_request(h) os.execute("id") end' } });
  captureFolder('lua', { ...files, 'config_dump.json': JSON.stringify(dump) });
  t.regex(problems('lua', `lab:\n  capture: ./lua\n${PROBE}`).join('\n'), /^lab\.capture: \.\/lua\/config_dump\.json: cannot be replayed: the dump has extensions that run code of their own \(envoy\.extensions\.filters\.http\.lua\.v3\.Lua\)/m);
  // Rules that exempt uid 0: the replayed Envoy would run as root.
  captureFolder('root', { ...files, 'iptables.save': RULES.replace(/--uid-owner 1337/g, '--uid-owner 0') });
  t.regex(problems('root', `lab:\n  capture: ./root\n${PROBE}`).join('\n'), /its rules exempt uid 0 .*a replay does not run the captured configuration as root/);
  // An IPv6 pod.
  captureFolder('six', { ...files, 'capture.yaml': files['capture.yaml']!.replace('ip: 10.52.2.21', 'ip: fd00::21') });
  t.regex(problems('six', `lab:\n  capture: ./six\n${PROBE}`).join('\n'), /pod\.ip fd00::21 is not IPv4: IPv6 pods are not replayed/);
  // Out of the scenario's folder: by .. and by a link.
  const inner = join(dir, 'inner');
  mkdirSync(inner, { recursive: true });
  writeFileSync(join(inner, 'up.yaml'), `apiVersion: pathlab/v1\nkind: Scenario\nmetadata: {name: up, description: x, source: {seed: '003'}, backends: [netns]}\nlab:\n  capture: ../legacy\n${PROBE}`);
  const up = loadScenarioFile(join(inner, 'up.yaml'));
  t.false(up.ok);
  if (!up.ok) t.regex(up.problems[0]!.message, /leads out of the scenario's folder/);
  symlinkSync(legacy, join(inner, 'linked'));
  writeFileSync(join(inner, 'linked.yaml'), `apiVersion: pathlab/v1\nkind: Scenario\nmetadata: {name: linked, description: x, source: {seed: '003'}, backends: [netns]}\nlab:\n  capture: ./linked\n${PROBE}`);
  const linked = loadScenarioFile(join(inner, 'linked.yaml'));
  t.false(linked.ok);
  if (!linked.ok) t.regex(linked.problems[0]!.message, /leads out of the scenario's folder/);
});
