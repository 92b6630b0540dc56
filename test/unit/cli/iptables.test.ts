import test from 'ava';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../../src/cli/main.ts';
import { bufferIo } from '../../../src/cli/io.ts';
import { formatHop, parseHop } from '../../../src/paths/hop.ts';
import { validateHops } from '../../helpers/printed-hops.ts';
import { FIXTURES, goldens, readFixture } from '../../helpers/shared-fixtures.ts';

const dir = mkdtempSync(join(tmpdir(), 'pathlab-iptables-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = bufferIo();
  const code = await main(argv, io);
  return { code, out: io.stdout(), err: io.stderr() };
}

test('render with istio-iptables flags prints the 1.14.3 restore file of seed002', async (t) => {
  const r = await run(['iptables', 'render', '--istio-version', '1.14.3', '-p', '15001', '-z', '15006', '-u', '1337', '-m', 'REDIRECT', '-i', '*', '-x', '', '-b', '*', '-d', '15090,15021,15020']);
  t.is(r.code, 0, r.err);
  t.is(r.out, readFixture('iptables', 'seed002-istio-1.14.3.restore'));
});

test('render --config with a golden case’s effective_config prints its payloads', async (t) => {
  const c = goldens().cases.find((x) => x.name === 'tproxy');
  if (!c) return t.fail('no tproxy case');
  const file = join(dir, 'tproxy.json');
  writeFileSync(file, JSON.stringify(c.effective_config));
  const v4 = await run(['iptables', 'render', '--config', file, '--family', 'ipv4']);
  t.is(v4.out.trim(), c.golden_parts.v4_restore.trim());
  const v6 = await run(['iptables', 'render', '--config', file, '--family', 'ipv6']);
  t.is(v6.out.trim(), (c.golden_parts.v6_restore ?? '').trim());
});

test('render --annotations reads a pod manifest', async (t) => {
  const file = join(dir, 'pod.yaml');
  writeFileSync(file, 'apiVersion: v1\nkind: Pod\nmetadata:\n  annotations:\n    traffic.sidecar.istio.io/excludeOutboundPorts: "7000"\n');
  const r = await run(['iptables', 'render', '--annotations', file]);
  t.is(r.code, 0, r.err);
  t.regex(r.out, /-A ISTIO_OUTPUT -p tcp --dport 7000 -j RETURN/);
});

test('trace prints one hop of the path notation, which a scenario takes; --json the hops, the effect and that hop', async (t) => {
  const rules = join(FIXTURES, 'iptables', 'seed000-pod-uid201507.save');
  const text = await run(['iptables', 'trace', '--rules', rules, '--src', '10.64.0.14', '--dst', '10.0.0.6:7000', '--uid', '1000', '--gid', '1000']);
  t.is(text.out, 'iptables nat/OUTPUT#1 -> nat/ISTIO_OUTPUT#9 -> nat/ISTIO_REDIRECT#1 REDIRECT:15001\n');
  t.is(formatHop(parseHop(text.out.trim())), text.out.trim());
  const json = await run(['iptables', 'trace', '--rules', rules, '--src', '10.64.0.14', '--dst', '10.0.0.6:7000', '--uid', '1000', '--json']);
  const parsed = JSON.parse(json.out) as { hops: unknown[]; effect: { redirectPort: number }; path: string };
  t.deepEqual(parsed.hops[1], { table: 'nat', chain: 'ISTIO_OUTPUT', rule: 9, target: 'ISTIO_REDIRECT' });
  t.is(parsed.effect.redirectPort, 15001);
  t.is(parsed.path, text.out.trim());
});

test('trace of seed 003\'s pod (lower-case chains) prints a hop the scenario loader accepts', async (t) => {
  const rules = join(FIXTURES, 'iptables', 'seed003-2021.save');
  const r = await run(['iptables', 'trace', '--rules', rules, '--src', '10.64.0.14', '--dst', '10.0.0.6:7000', '--uid', '1000']);
  t.is(r.out, 'iptables nat/OUTPUT#1 -> nat/istio_OUTPUT#6 -> nat/istio_REDIRECT#1 REDIRECT:15001\n');
  const v = await validateHops([r.out.trim()]);
  t.is(v.code, 0, v.out);
});

test('trace reads a render payload and a bare rule listing', async (t) => {
  const rules = join(FIXTURES, 'iptables', 'seed004-istio-1.2.5.rules');
  const r = await run(['iptables', 'trace', '--rules', rules, '--direction', 'in', '--src', '10.0.0.9', '--dst', '10.52.2.21:9080']);
  t.is(r.out, 'iptables nat/PREROUTING#1 -> nat/ISTIO_INBOUND#1 -> nat/ISTIO_IN_REDIRECT#1 REDIRECT:15001\n');
});

test('trace of a connection no rule matched says so, and --json has no hop (path null)', async (t) => {
  const file = join(dir, 'empty.save');
  writeFileSync(file, '*nat\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n');
  const r = await run(['iptables', 'trace', '--rules', file, '--src', '10.64.0.14', '--dst', '10.0.0.6:7000']);
  t.is(r.out, "no rule matched: ACCEPT by the chains' policies\n");
  const json = await run(['iptables', 'trace', '--rules', file, '--src', '10.64.0.14', '--dst', '10.0.0.6:7000', '--json']);
  t.is((JSON.parse(json.out) as { path: unknown }).path, null);
});

test('diff shows what changes from 1.24 to current, and exits 1 because they differ (as diff does)', async (t) => {
  const r = await run(['iptables', 'diff', '--from', '1.24', '--to', 'current', '-b', '*', '-i', '*']);
  t.is(r.code, 1, r.err);
  t.regex(r.out, /^- -A OUTPUT -p tcp -j ISTIO_OUTPUT$/m);
  t.regex(r.out, /^\+ -A OUTPUT -j ISTIO_OUTPUT$/m);
});

const BAD: [string, string[], RegExp][] = [
  ['unknown version', ['iptables', 'render', '--istio-version', '0.9'], /unknown Istio version|only 1.x/],
  ['unknown flag', ['iptables', 'render', '--frob'], /unknown istio-iptables flag "--frob"/],
  ['missing rules file', ['iptables', 'trace', '--rules', '/nonexistent/x.save', '--src', '1.1.1.1', '--dst', '2.2.2.2:80'], /no such file/],
  ['bad dst', ['iptables', 'trace', '--rules', '/dev/null', '--src', '1.1.1.1', '--dst', '2.2.2.2'], /--dst: expected IP:PORT/],
  ['bad family', ['iptables', 'render', '--family', 'ipx'], /--family/],
];
for (const [name, argv, re] of BAD) {
  test(`bad input exits 2 with a clear message: ${name}`, async (t) => {
    const r = await run(argv);
    t.is(r.code, 2);
    t.regex(r.err, re);
  });
}

test('an unreadable rules file names its line', async (t) => {
  const file = join(dir, 'bad.save');
  writeFileSync(file, '*nat\n-A OUTPUT -m owner --frob 1 -j RETURN\nCOMMIT\n');
  const r = await run(['iptables', 'trace', '--rules', file, '--src', '1.1.1.1', '--dst', '2.2.2.2:80']);
  t.is(r.code, 2);
  t.regex(r.err, /bad\.save:2: unknown option "--frob" for -m owner/);
});

for (const sub of ['render', 'trace', 'diff']) {
  test(`iptables ${sub} --help`, async (t) => {
    const r = await run(['iptables', sub, '--help']);
    t.is(r.code, 0);
    t.regex(r.out, new RegExp(`Usage: pathlab iptables ${sub}`));
  });
}
