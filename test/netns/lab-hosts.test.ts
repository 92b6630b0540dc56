// Expected paths name lab hosts (`pod/details:9080`, `svc/web:7000`) instead of addresses: each
// lab puts in the address its pod or Service has (kind's CNI gives pods its own), so the
// same scenario holds on every backend. On the real netns lab: a wrong name is a wrong hop (the
// address compared is the named pod's), --record writes the observed hop back as the name it
// is, and a name that is no host of the lab is refused when the file is checked. Probe targets
// (`host: pod/app`) and the source an app saw (`sourceSeenByApp: pod/app`) name pods the same
// way; the catalogue's own run (test/scenarios.test.ts) exercises them on the real lab.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import type { RunReport } from '../../src/paths/verdict.ts';
import { NEEDS_ROOT, netnsTest } from '../helpers/caps.ts';

const dir = mkdtempSync(join(tmpdir(), 'pathlab-lab-hosts-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));
const pathlab = (...args: string[]) => spawnSync(process.execPath, ['bin/pathlab.js', ...args], { encoding: 'utf8', timeout: 180_000 });
const ORIGINAL = 'scenarios/bookinfo/productpage-details.yaml';

function copy(sub: string, edit: (text: string) => string): string {
  mkdirSync(join(dir, sub), { recursive: true });
  const file = join(dir, sub, 'productpage-details.yaml');
  writeFileSync(file, edit(readFileSync(ORIGINAL, 'utf8')));
  return file;
}

netnsTest(`${NEEDS_ROOT} a wrong pod name is a wrong hop; --record writes the observed hop back by name`, (t) => {
  const file = copy('wrong', (s) => s.replace('        - wire iface=eth0 dst=pod/details:9080\n', '        - wire iface=eth0 dst=pod/ratings:9080\n'));
  t.true(readFileSync(file, 'utf8').includes('dst=pod/ratings:9080'));
  const r = pathlab('run', file, '--probe', 'productpage-to-details', '--reporter', 'json');
  t.is(r.status, 1, r.stderr);
  const p = (JSON.parse(r.stdout) as RunReport).scenarios[0]!.probes[0]!;
  const ratings = p.labHosts!['pod/ratings']!;
  const details = p.labHosts!['pod/details']!;
  t.truthy(ratings && details && ratings !== details, JSON.stringify(p.labHosts));
  // The report compares, and shows, the addresses this lab gave the names.
  t.is(p.firstDifference?.expected, `wire iface=eth0 dst=${ratings}:9080`);
  t.true(p.observed.includes(`wire iface=eth0 dst=${details}:9080`), p.observed.join('\n'));

  const rec = pathlab('run', file, '--probe', 'productpage-to-details', '--record');
  t.is(rec.status, 1, rec.stderr);
  const after = readFileSync(file, 'utf8');
  t.true(after.includes('        - wire iface=eth0 dst=pod/details:9080\n'), rec.stdout);
  t.false(after.includes(`${details}:9080`), 'no address of this lab written into the file');
  t.is(pathlab('run', file, '--probe', 'productpage-to-details').status, 0);
});

test('a lab host that is not one of the lab is refused when the file is checked (exit 2): in a hop, a target, sourceSeenByApp', (t) => {
  const file = copy('unknown', (s) => s.replace('        - wire iface=eth0 dst=pod/details:9080\n', '        - wire iface=eth0 dst=pod/nosuch:9080\n'));
  const r = pathlab('validate', file);
  t.is(r.status, 2);
  t.regex(r.stderr, /expect\.path\[\d\]: pod\/nosuch: no pod "nosuch" in lab\.pods/);
  const target = readFileSync('scenarios/traffic-types/remote-to-local.yaml', 'utf8');
  t.true(target.includes('host: pod/app'));
  writeFileSync(join(dir, 'target.yaml'), target.replace('host: pod/app', 'host: pod/gone'));
  const rt = pathlab('validate', join(dir, 'target.yaml'));
  t.is(rt.status, 2);
  t.regex(rt.stderr, /target\.host: pod\/gone: no pod "gone" in lab\.pods/);
  const seen = readFileSync('scenarios/traffic-types/local-to-remote.yaml', 'utf8');
  t.true(seen.includes('sourceSeenByApp: pod/'));
  writeFileSync(join(dir, 'seen.yaml'), seen.replace(/sourceSeenByApp: pod\/[a-z0-9-]+/, 'sourceSeenByApp: pod/gone'));
  const rs = pathlab('validate', join(dir, 'seen.yaml'));
  t.is(rs.status, 2);
  t.regex(rs.stderr, /expect\.sourceSeenByApp: pod\/gone: no pod "gone" in lab\.pods/);
});
