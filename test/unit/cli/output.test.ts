// `-o text|json|yaml` the same on every command that prints data, and `iptables diff` exiting as
// diff(1) does: the real bin, real processes, real exit codes.
import { spawnSync } from 'node:child_process';
import test from 'ava';
import { parse } from 'yaml';
import { fixturePath } from '../../helpers/fixtures.ts';

const pathlab = (...args: string[]) => spawnSync(process.execPath, ['bin/pathlab.js', ...args], { encoding: 'utf8', timeout: 60_000 });
const EXPLAIN = ['explain', '--mesh', 'labs/incident-7000/mesh.yaml', '--src', '10.64.192.14', '--dst', '10.0.0.6:7000'];
const TRACE = ['iptables', 'trace', '--rules', fixturePath('iptables/seed003-2021.save'), '--src', '10.64.192.14', '--dst', '10.0.0.6:7000', '--uid', '1000'];

for (const [what, argv] of [
  ['explain', EXPLAIN],
  ['iptables trace', TRACE],
  ['proxy-config', ['proxy-config', 'listeners', fixturePath('envoy/configdump.yaml')]],
] as const) {
  test(`${what}: -o json and -o yaml print the same data; --json is -o json; -o xml is bad input`, (t) => {
    const json = pathlab(...argv, '-o', 'json');
    const yaml = pathlab(...argv, '-o', 'yaml');
    t.is(json.status, 0, json.stderr);
    t.is(yaml.status, 0, yaml.stderr);
    t.deepEqual(parse(yaml.stdout), JSON.parse(json.stdout));
    if (what !== 'proxy-config') t.deepEqual(JSON.parse(pathlab(...argv, '--json').stdout), JSON.parse(json.stdout));
    const bad = pathlab(...argv, '-o', 'xml');
    t.is(bad.status, 2);
    t.regex(bad.stderr, /-o xml: expected (text|short), json or yaml/);
  });
}

test('iptables diff exits 1 when the rules differ and 0 when they do not, as diff does', (t) => {
  const differ = pathlab('iptables', 'diff', '--from', '1.14', '--to', 'current', '-b', '*', '-i', '*', '-d', '15090,15021,15020');
  t.is(differ.status, 1, differ.stderr);
  t.regex(differ.stdout, /^[+-] /m);
  const same = pathlab('iptables', 'diff', '--from', 'current', '--to', 'current', '-b', '*');
  t.is(same.status, 0, same.stderr);
  t.regex(same.stdout, /no rule changes/);
});
