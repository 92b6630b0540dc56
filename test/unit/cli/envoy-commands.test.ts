import test from 'ava';
import { spawnSync } from 'node:child_process';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../../src/cli/main.ts';
import { bufferIo } from '../../../src/cli/io.ts';
import { fixturePath, repoRoot } from '../../helpers/fixtures.ts';
import { explainHops, htmlHops, validateHops } from '../../helpers/printed-hops.ts';

const lab = (f: string) => join(repoRoot, 'labs/incident-7000', f);
async function run(args: string[]) {
  const io = bufferIo();
  const code = await main(args, io);
  return { code, out: io.stdout(), err: io.stderr() };
}

test('explain --mesh --json: {"hops", "listener", "filterChain", "cluster", "outcome"}', async (t) => {
  const r = await run(['explain', '--mesh', lab('mesh.yaml'), '--src', '10.64.192.14', '--dst', '10.0.0.6:7000', '--payload', 'keys *\\n', '--json']);
  t.is(r.code, 0, r.err);
  const j = JSON.parse(r.out) as Record<string, unknown>;
  t.deepEqual(Object.keys(j).slice(0, 5), ['hops', 'listener', 'filterChain', 'cluster', 'outcome']);
  t.is(j.listener, '0.0.0.0_7000');
  t.is(j.filterChain, 'PassthroughFilterChain');
  t.is(j.cluster, 'PassthroughCluster');
  t.is((j.outcome as { kind: string }).kind, 'passthrough');
});

test('explain --era legacy prints the 400 with one reason per hop and the path notation', async (t) => {
  const r = await run(['explain', '--mesh', lab('mesh.yaml'), '--era', 'legacy', '--src', '10.64.192.14', '--dst', '10.0.0.6:7000', '--payload', 'keys *\\n']);
  t.is(r.code, 0, r.err);
  t.regex(r.out, /^path: envoy listener=virtualOutbound -> listener=0\.0\.0\.0_7000 chain=#2 flags=DPE$/m);
  t.regex(r.out, /^client sees: HTTP\/1\.1 400 Bad Request/m);
  t.regex(r.out, /^response flag: DPE/m);
});

test('explain --resources adds the fix; --exclude-outbound-ports bypasses Envoy', async (t) => {
  const fixed = await run(['explain', '--mesh', lab('mesh.yaml'), '--era', 'legacy', '--resources', lab('fix-serviceentry.yaml'), '--src', '10.64.192.14', '--dst', '10.0.0.6:7000', '--payload', 'keys *', '--json']);
  t.is((JSON.parse(fixed.out) as { listener: string }).listener, '10.0.0.6_7000');
  const bypass = await run(['explain', '--mesh', lab('mesh.yaml'), '--exclude-outbound-ports', '7000', '--src', '10.64.192.14', '--dst', '10.0.0.6:7000', '--json']);
  const j = JSON.parse(bypass.out) as { listener: null; hops: Array<{ kind: string }> };
  t.is(j.listener, null);
  t.deepEqual(j.hops.map((h) => h.kind), ['iptables', 'wire']);
});

test('explain --iptables reads a real pod dump: seed 003\'s lower-case chains, the redirect at its rule 6', async (t) => {
  const r = await run(['explain', '--mesh', lab('mesh.yaml'), '--era', 'legacy', '--iptables', fixturePath('iptables/seed003-2021.save'), '--src', '10.64.192.14', '--dst', '10.0.0.6:7000', '--payload', 'keys *\\n', '--json']);
  t.is(r.code, 0, r.err);
  const j = JSON.parse(r.out) as { hops: Array<{ kind: string; text: string }>; listener: string };
  t.is(j.hops[0]!.text, 'iptables nat/OUTPUT#1 -> nat/istio_OUTPUT#6 -> nat/istio_REDIRECT#1 REDIRECT:15001');
  t.is(j.listener, '0.0.0.0_7000');
  t.is(j.hops.at(-1)!.text, 'reply "HTTP/1.1 400 Bad Request"');
});

test('explain --config-dump on a real dump', async (t) => {
  const r = await run(['explain', '--config-dump', fixturePath('envoy/productpage_config_dump.json'), '--src', '10.52.2.21', '--dst', '10.0.0.6:9080', '--payload', 'keys *', '--json']);
  t.is(r.code, 0, r.err);
  t.is((JSON.parse(r.out) as { outcome: { status: number } }).outcome.status, 400);
});

// What explain prints as hops, for connections that take each kind of hop, is what a scenario's
// expect.path takes: each hop line, the path line, and the --json output's hops and path.
const APP_DUMP = join(repoRoot, 'test/data/envoy/netns-app-config-dump.json');
const printed: Array<{ name: string; args: string[]; has: string[] }> = [
  { name: 'the legacy 400: rules, two listeners, the reply', args: ['--mesh', lab('mesh.yaml'), '--era', 'legacy', '--src', '10.64.192.14', '--dst', '10.0.0.6:7000', '--payload', 'keys *\\n'], has: ['reply "HTTP/1.1 400 Bad Request"'] },
  { name: 'a Service whose endpoints the mesh file does not give: a wire hop without an address (it printed cluster=)', args: ['--mesh', lab('mesh.yaml'), '--src', '10.64.192.14', '--dst', '10.96.5.5:6379'], has: ['wire iface=eth0'] },
  { name: 'inbound: the app hop (it printed "app app port=8080")', args: ['--mesh', lab('mesh.yaml'), '--src', '10.0.0.9', '--dst', '10.64.192.14:8080', '--http-host', 'app'], has: ['app port=8080'] },
  { name: 'a port excluded from capture: the wire hop to the destination', args: ['--mesh', lab('mesh.yaml'), '--exclude-outbound-ports', '7000', '--src', '10.64.192.14', '--dst', '10.0.0.6:7000'], has: ['wire iface=eth0 dst=10.0.0.6:7000'] },
  { name: 'arriving at a port inbound capture leaves alone: it came in on eth0', args: ['--mesh', lab('mesh.yaml'), '--src', '10.0.0.9', '--dst', '10.64.192.14:15090'], has: ['wire iface=eth0 dst=10.64.192.14:15090'] },
  { name: 'a real dump: the app dialing 15001, the blackhole chain and reply closed', args: ['--config-dump', APP_DUMP, '--src', '10.64.0.20', '--dst', '127.0.0.1:15001', '--uid', '1000', '--payload', 'hello'], has: ['envoy listener=virtualOutbound chain=virtualOutbound-blackhole cluster=BlackHoleCluster', 'reply closed'] },
  { name: 'a DNS ServiceEntry: the endpoint is a name no packet carries', args: ['--mesh', lab('mesh.yaml'), '--resources', lab('tcp-serviceentry-no-address.yaml'), '--src', '10.64.192.14', '--dst', '10.0.0.6:7000', '--payload', 'keys *'], has: ['wire iface=eth0'] },
];
for (const c of printed) {
  test(`explain prints hops a scenario takes: ${c.name}`, async (t) => {
    const text = await run(['explain', ...c.args]);
    const json = await run(['explain', ...c.args, '--json']);
    t.is(text.code, 0, text.err);
    const hops = explainHops(text.out, json.out);
    for (const h of c.has) t.true(hops.includes(h), `${h} in\n${text.out}`);
    // --format svg draws the same hops, in order, each a mark with its text (explain's own hops, as -o json gives them).
    const svg = await run(['explain', ...c.args, '--format', 'svg']);
    t.is(svg.code, 0, svg.err);
    t.deepEqual(htmlHops(svg.out), (JSON.parse(json.out) as { hops: Array<{ text: string }> }).hops.map((h) => h.text));
    t.is(spawnSync('xmllint', ['--noout', '-'], { input: svg.out }).status, 0, 'the SVG is well-formed XML');
    const v = await validateHops(hops);
    t.is(v.code, 0, `${v.out}\n${text.out}`);
  });
}

// A connection to a loopback address or to the pod's own never leaves on eth0, whoever makes it:
// the app not redirected, or Envoy whose upstream is this very pod (the Service's one endpoint).
const local: Array<{ name: string; dst: string; http?: string }> = [
  { name: 'the app to 127.0.0.1:15000 (not redirected, no listener there)', dst: '127.0.0.1:15000' },
  { name: 'the app to its own pod address (lo, not redirected)', dst: '10.64.0.20:8080' },
  { name: 'Envoy to the Service\'s one endpoint, the pod itself (EDS in the dump)', dst: '10.96.0.20:8080', http: 'app:8080' },
];
for (const c of local) {
  test(`explain predicts no wire hop for loopback traffic: ${c.name}`, async (t) => {
    const args = ['explain', '--config-dump', APP_DUMP, '--src', '10.64.0.20', '--dst', c.dst, '--uid', '1000', ...(c.http ? ['--http-host', c.http] : [])];
    const text = await run(args);
    const json = JSON.parse((await run([...args, '--json'])).out) as { hops: Array<{ kind: string }>; path: string[] };
    t.is(text.code, 0, text.err);
    t.notRegex(text.out, /wire iface=eth0/);
    t.false(json.hops.some((h) => h.kind === 'wire'));
    t.false(json.path.some((h) => h.startsWith('wire ')), json.path.join('\n'));
  });
}

test('explain still predicts the wire hop of a connection that leaves the pod: PassthroughCluster to 10.0.0.10', async (t) => {
  const r = await run(['explain', '--config-dump', APP_DUMP, '--src', '10.64.0.20', '--dst', '10.0.0.10:9999', '--uid', '1000', '--json']);
  t.is((JSON.parse(r.out) as { path: string[] }).path.at(-1), 'wire iface=eth0 dst=10.0.0.10:9999');
});

const usage: Array<[string, string[], RegExp]> = [
  ['neither --mesh nor --config-dump', ['explain', '--src', '1.1.1.1', '--dst', '2.2.2.2:80'], /exactly one of --config-dump FILE or --mesh FILE/],
  ['a bad --dst', ['explain', '--mesh', 'x', '--src', '1.1.1.1', '--dst', '2.2.2.2'], /--dst 2\.2\.2\.2: expected IP:PORT/],
  ['a missing file', ['explain', '--mesh', '/nonexistent.yaml', '--src', '1.1.1.1', '--dst', '2.2.2.2:80'], /\/nonexistent\.yaml: cannot read it \(no such file\)/],
  ['--iptables with flags that render rules', ['explain', '--mesh', 'x', '--iptables', 'y', '--exclude-outbound-ports', '7000', '--src', '1.1.1.1', '--dst', '2.2.2.2:80'], /give one or the other/],
  ['proxy-config on a non-dump', ['proxy-config', 'listeners', '<MESH>'], /not an Envoy config dump: found an object with \d+ key\(s\) \(apiVersion, kind, /],
  ['proxy-config of a section the dump lacks', ['proxy-config', 'clusters', fixturePath('envoy/configdump.yaml')], /no clusters in this dump/],
  ['proxy-config with an unknown type', ['proxy-config', 'frobs', fixturePath('envoy/configdump.yaml')], /unknown type "frobs"/],
];
for (const [name, args, msg] of usage) {
  test(`bad input exits 2 with an actionable message: ${name}`, async (t) => {
    const r = await run(args.map((a) => (a === '<MESH>' ? lab('mesh.yaml') : a)));
    t.is(r.code, 2);
    t.regex(r.err, msg);
  });
}

test('an invalid mesh file lists its problems with paths', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pathlab-'));
  const f = join(dir, 'mesh.yaml');
  writeFileSync(f, 'apiVersion: pathlab/v1\nkind: Mesh\nera: ancient\nproxy: {}\n');
  const r = await run(['explain', '--mesh', f, '--src', '1.1.1.1', '--dst', '2.2.2.2:80']);
  t.is(r.code, 2);
  t.regex(r.err, /era: /);
  t.regex(r.err, /proxy\.ip: /);
});

test('proxy-config listeners -o json prints the raw listeners; the table has istioctl\'s header', async (t) => {
  const j = await run(['proxy-config', 'listeners', fixturePath('envoy/configdump.yaml'), '-o', 'json']);
  t.is((JSON.parse(j.out) as unknown[]).length, 29);
  const table = await run(['proxy-config', 'listeners', fixturePath('envoy/configdump.yaml')]);
  t.regex(table.out, /^ADDRESSES +PORT +MATCH +DESTINATION\n/);
});

test('proxy-config listeners --mesh shows the synthesized table (legacy: pod-IP /32 chain + match-all HTTP on 0.0.0.0_7000)', async (t) => {
  const r = await run(['proxy-config', 'listeners', '--mesh', lab('mesh.yaml'), '--era', 'legacy']);
  t.is(r.code, 0, r.err);
  const rows = r.out.split('\n').map((l) => l.replace(/ +/g, ' ').trim());
  t.true(rows.includes('0.0.0.0 7000 ALL Route: 7000'));
  t.true(rows.includes('0.0.0.0 7000 Addr: 10.64.192.14/32 Non-HTTP/Non-TCP'));
  t.true(rows.includes('10.96.5.5 6379 ALL Cluster: outbound|6379||redis.db.svc.cluster.local'));
  const both = await run(['proxy-config', 'listeners', fixturePath('envoy/configdump.yaml'), '--mesh', lab('mesh.yaml')]);
  t.is(both.code, 2);
  t.regex(both.err, /exactly one/);
});

test('a device given as a dump is refused at once, exit 2 (/dev/zero would exhaust memory); a pipe is read', async (t) => {
  const io = bufferIo();
  t.is(await main(['proxy-config', 'listeners', '/dev/zero'], io), 2);
  t.regex(io.stderr(), /is not a regular file \(a FIFO, a socket or a device\)/);
  // A shell pipe (Node's own stdio is a socket pair, not a pipe).
  const piped = spawnSync('bash', ['-c', 'cat "$0" | "$1" bin/pathlab.js proxy-config listeners /dev/stdin', fixturePath('envoy/config_dump.json'), process.execPath], { encoding: 'utf8', timeout: 60_000 });
  t.is(piped.status, 0, piped.stderr);
  t.regex(piped.stdout, /^ADDRESSES +PORT +MATCH +DESTINATION\n.*Cluster: inbound-vip/s);
});
