// The evidence bundle of a failed probe (src/run/bundle.ts): its folder names, its text files,
// what it does when the lab cannot give a file (a note, never a fake file), and the folder on
// disk the CLI gives it (src/cli/evidence-folder.ts). The real runs are test/netns/evidence-bundle.test.ts.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { evidenceFolder } from '../../../src/cli/evidence-folder.ts';
import { pcapLoss } from '../../../src/probes/tcpdump.ts';
import type { ProcessResult } from '../../../src/probes/process-result.ts';
import { accessLogText, bundleDir, interfaceIndexes, probeText, ProbeBundle, safeName } from '../../../src/run/bundle.ts';
import type { EvidenceFolder, StartedBackend, WatchResult } from '../../../src/run/backend.ts';

const dirs: string[] = [];
test.after.always(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'pathlab-bundle-unit-'));
  dirs.push(d);
  return d;
};

for (const c of [
  { name: 'redis-7000-reaches-redis', safe: 'redis-7000-reaches-redis' },
  { name: 'a/b c', safe: 'a_b_c' },
  { name: '..', safe: '_..' },
  { name: '', safe: '_' },
  { name: '../../etc', safe: '.._.._etc' },
]) {
  test(`safeName(${JSON.stringify(c.name)}) is one path segment: ${c.safe}`, (t) => {
    t.is(safeName(c.name), c.safe);
  });
}

test('the bundle folder is evidence/<scenario>/<probe>; --check-fault\'s second run has its own', (t) => {
  t.is(bundleDir('seed003-expects-redis', 'redis-7000-reaches-redis', 'with-setup'), 'evidence/seed003-expects-redis/redis-7000-reaches-redis');
  t.is(bundleDir('incident-7000-outage-legacy', 'redis-7000-answers-400', 'without-change'), 'evidence/incident-7000-outage-legacy/redis-7000-answers-400.without-change');
});

test('interface indexes from ip -o link (a pod of the netns lab)', (t) => {
  const ipLink =
    '1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN mode DEFAULT group default qlen 1000\\    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00\n' +
    '2: eth0@if412: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP mode DEFAULT group default qlen 1000\\    link/ether 62:94:87:82:76:67 brd ff:ff:ff:ff:ff:ff link-netnsid 0\n';
  t.is(interfaceIndexes(ipLink), '1 lo, 2 eth0');
});

test('what tcpdump lost, from the counts it prints when it ends', (t) => {
  t.is(pcapLoss('tcpdump: listening on any, link-type LINUX_SLL2 (Linux cooked v2), snapshot length 262144 bytes\n22 packets captured\n22 packets received by filter\n0 packets dropped by kernel\n'), undefined);
  t.is(pcapLoss('21 packets captured\n22 packets received by filter\n1 packet dropped by kernel\n'), 'tcpdump says 1 packet(s) dropped by kernel: the pcap lacks them');
});

const RESULT: ProcessResult = {
  argv: ['ip', 'netns', 'exec', 'pl-41fcb3-app', 'nc', '-v', '-w', '3', '10.0.0.6', '7000'],
  where: 'app',
  exitCode: 0,
  signal: null,
  stdout: 'HTTP/1.1 400 Bad Request\r\ncontent-length: 11\r\n\r\nBad Request',
  stderr: 'Connection to 10.0.0.6 7000 port [tcp/bbs] succeeded!\n',
  durationMs: 1018.4,
  timedOut: false,
};

test('probe.txt: the argv, the exit, stdout and stderr as they came', (t) => {
  const text = probeText(RESULT);
  t.regex(text, /^argv: \["ip","netns","exec","pl-41fcb3-app","nc","-v","-w","3","10\.0\.0\.6","7000"\]$/m);
  t.regex(text, /^exit: exit code 0$/m);
  t.true(text.includes(RESULT.stdout));
  t.true(text.includes(RESULT.stderr));
  t.regex(probeText({ ...RESULT, exitCode: null, timedOut: true }), /^exit: timed out after 1018 ms$/m);
  t.regex(probeText({ ...RESULT, exitCode: null, spawnError: 'spawn nc ENOENT' }), /^exit: could not start: spawn nc ENOENT$/m);
});

test('access-log.txt: one JSON object a line, the pod first, Envoy\'s line last', (t) => {
  const text = accessLogText([{ pod: 'app', entries: [{ line: { listener: '0.0.0.0_7000', response_code: 400 }, text: '[2026-12-01T22:29:51.036Z] "- - HTTP/1.1" 400 DPE' }] }]);
  t.is(text, '{"pod":"app","listener":"0.0.0.0_7000","response_code":400,"text":"[2026-12-01T22:29:51.036Z] \\"- - HTTP/1.1\\" 400 DPE"}\n');
});

/** The folder in memory, as the runner sees it. */
function memoryFolder(): EvidenceFolder & { files: Map<string, string> } {
  const files = new Map<string, string>();
  return {
    files,
    pathOf: (rel) => `/mem/${rel}`,
    write: (rel, text) => void files.set(rel, text),
    list: (rel) => [...files.keys()].filter((k) => k.startsWith(`${rel}/`)).map((k) => k.slice(rel.length + 1)),
    remove: (rel) => {
      for (const k of [...files.keys()]) if (k === rel || k.startsWith(`${rel}/`)) files.delete(k);
    },
  };
}

const SAVE = '*nat\n:ISTIO_REDIRECT - [0:0]\n-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001\nCOMMIT\n';
const ok = (stdout: string): ProcessResult => ({ ...RESULT, argv: [], stdout, stderr: '' });

test('a file the lab cannot give is a note in notes.txt, never a file; IPv6 rules only when the pod has some', async (t) => {
  const folder = memoryFolder();
  const bundle = new ProbeBundle(folder, 'seed003-expects-redis', 'redis-7000-reaches-redis', 'with-setup');
  t.is(bundle.pcapFile('app'), '/mem/evidence/seed003-expects-redis/redis-7000-reaches-redis/app.pcap');
  const lab: Pick<StartedBackend, 'netns' | 'configDump'> = {
    netns: async (_pod, argv) => ok(argv[0] === 'iptables-save' ? SAVE : argv[0] === 'ip6tables-save' ? '' : '1: lo: <LOOPBACK>\n2: eth0@if9: <UP>\n'),
    configDump: async () => {
      throw new Error('connect ECONNREFUSED 127.0.0.1:15000');
    },
  };
  const rec: WatchResult = { trace: 'PACKET: 2 41146f2c OUT=eth0', ruleset: 'table ip nat {', syns: '', captures: [], notes: [], pcapNote: 'it did not start: no capture container' };
  const b = await bundle.keep(lab, { pods: [{ name: 'app', meshed: true }], records: new Map([['app', rec]]), result: RESULT });
  const names = b.files.map((f) => f.path.split('/').at(-1));
  t.deepEqual(names, ['app.iptables-save.txt', 'kernel-trace.txt', 'probe.txt', 'notes.txt']);
  const notes = folder.files.get(`${b.dir}/notes.txt`)!;
  t.regex(notes, /^the pcap of app: it did not start: no capture container$/m);
  t.regex(notes, /^the config_dump of app's sidecar: connect ECONNREFUSED 127\.0\.0\.1:15000$/m);
  t.false([...folder.files.keys()].some((k) => k.endsWith('.pcap') || k.endsWith('config_dump.json')));

  // With IPv6 rules, the ip6tables-save file is kept too.
  const v6 = new ProbeBundle(folder, 's', 'p', 'with-setup');
  const b6 = await v6.keep({ ...lab, netns: async (_pod, argv) => ok(argv[0] === 'ip6tables-save' ? '*nat\n:ISTIO_OUTPUT - [0:0]\nCOMMIT\n' : SAVE) }, { pods: [{ name: 'app', meshed: false }] });
  t.deepEqual(b6.files.map((f) => f.path), ['evidence/s/p/app.iptables-save.txt', 'evidence/s/p/app.ip6tables-save.txt']);
});

test('the evidence folder on disk: paths stay inside it, and removing a bundle removes the folders it leaves empty (not the --out folder)', (t) => {
  const out = tmp();
  const folder = evidenceFolder(out);
  t.throws(() => folder.write('../outside.txt', 'x'), { message: /not a path inside/ });
  t.throws(() => folder.pathOf('/etc/passwd'), { message: /not a path inside/ });
  writeFileSync(join(out, 'report.json'), '{}');
  const pcap = folder.pathOf('evidence/s/p/app.pcap');
  t.is(pcap, join(out, 'evidence/s/p/app.pcap'));
  t.true(existsSync(join(out, 'evidence/s/p')));
  folder.write('evidence/s/p/probe.txt', 'argv: []\n');
  folder.write('evidence/s/q/probe.txt', 'argv: []\n');
  t.deepEqual(folder.list('evidence/s/p'), ['probe.txt']);
  t.deepEqual(folder.list('evidence/none'), []);
  folder.remove('evidence/s/p');
  t.deepEqual(readdirSync(join(out, 'evidence/s')), ['q']);
  folder.remove('evidence/s/q');
  t.deepEqual(readdirSync(out), ['report.json']);
  t.is(readFileSync(join(out, 'report.json'), 'utf8'), '{}');
});
