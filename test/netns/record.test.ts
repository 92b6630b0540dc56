// `pathlab run --record` on the real lab: a round trip on three catalogue scenarios that pass
// leaves them byte-identical; a scenario with a wrong hop fails, is recorded (the diff printed),
// then holds the observed hop and passes; --record with --check-fault or a dry run is refused
// and writes nothing.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import test from 'ava';
import type { RunReport } from '../../src/paths/verdict.ts';
import { NEEDS_ROOT, netnsTest } from '../helpers/caps.ts';

const dir = mkdtempSync(join(tmpdir(), 'pathlab-record-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

const pathlab = (...args: string[]) => spawnSync(process.execPath, ['bin/pathlab.js', 'run', ...args], { encoding: 'utf8', timeout: 120_000 });

/** A copy of a catalogue scenario in the test's folder (its own subfolder: names stay unique). */
function copy(original: string, sub: string): string {
  const to = join(dir, sub, basename(original));
  mkdirSync(join(dir, sub), { recursive: true });
  copyFileSync(original, to);
  return to;
}

// Small current-Istio scenarios of the catalogue that pass: a blackhole with a must-not hop, the
// 127.0.0.6 source from a plain and a meshed pod, plaintext on lo and mTLS between sidecars.
const ROUND_TRIP = ['scenarios/incident-7000/registry-only-7003.yaml', 'scenarios/ports/source-127-0-0-6.yaml', 'scenarios/ports/plaintext-and-mtls.yaml'];

netnsTest(`${NEEDS_ROOT} --record on three catalogue scenarios that pass leaves each byte-identical`, (t) => {
  const copies = ROUND_TRIP.map((f) => copy(f, 'round-trip'));
  const r = pathlab('--record', ...copies);
  t.is(r.status, 0, r.stdout + r.stderr);
  for (const [i, c] of copies.entries()) {
    t.true(readFileSync(c).equals(readFileSync(ROUND_TRIP[i]!)), `${c} differs from ${ROUND_TRIP[i]}`);
    t.true(r.stdout.includes(`${c} unchanged\n`), r.stdout);
  }
  t.notRegex(r.stdout, /^(---|\+\+\+) /m, 'no diff printed');
});

netnsTest(`${NEEDS_ROOT} a wrong hop: the run fails, --record writes the observed hop and prints the diff, the next run passes`, (t) => {
  const original = 'scenarios/incident-7000/outage-current.yaml';
  const file = copy(original, 'wrong-hop');
  const right = 'listener=0.0.0.0_7000 chain=PassthroughFilterChain';
  const text = readFileSync(file, 'utf8');
  t.true(text.includes(right));
  writeFileSync(file, text.replace(right, 'listener=0.0.0.0_7001 chain=PassthroughFilterChain'));

  const failing = pathlab(file, '--reporter', 'json');
  t.is(failing.status, 1, failing.stderr);
  const probe = (JSON.parse(failing.stdout) as RunReport).scenarios[0]!.probes[0]!;
  t.is(probe.firstDifference?.index, 1, 'the second expected hop (the envoy hop) is the wrong one');
  const observedHop = probe.firstDifference!.observed!;
  t.true(observedHop.includes('listener=0.0.0.0_7000'), observedHop);

  const recorded = pathlab('--record', file);
  t.is(recorded.status, 1, `the run itself failed, against the file as it was\n${recorded.stderr}`);
  const after = readFileSync(file, 'utf8');
  t.true(after.includes(`        - ${observedHop}\n`), after);
  t.false(after.includes('0.0.0.0_7001'));
  t.true(recorded.stdout.includes(`--- ${file}\n+++ ${file}\n@@ `), recorded.stdout);
  t.regex(recorded.stdout, /^-\s+- envoy listener=virtualOutbound -> listener=0\.0\.0\.0_7001 /m);
  t.true(recorded.stdout.includes(`\n+        - ${observedHop}\n`), recorded.stdout);
  t.true(recorded.stdout.includes(`recorded 1 probe(s) in ${file}\n`), recorded.stdout);
  // The observed hop is the catalogue's own: the recorded file is the original again, byte for byte.
  t.true(readFileSync(file).equals(readFileSync(original)));

  const passing = pathlab(file);
  t.is(passing.status, 0, passing.stdout + passing.stderr);
  t.regex(passing.stdout, /1 scenario: 1 passed, 0 failed/);
});

const refusals: Array<{ name: string; args: string[]; message: RegExp }> = [
  { name: '--check-fault', args: ['--check-fault'], message: /--record cannot be used with --check-fault/ },
  { name: '--backend kind --dry-run', args: ['--backend', 'kind', '--dry-run'], message: /--record cannot be used with --dry-run/ },
];
for (const c of refusals) {
  test(`--record with ${c.name} exits 2 (bad input), saying why, and leaves the file alone`, (t) => {
    const file = copy('scenarios/incident-7000/outage-current.yaml', `refused-${c.args.length}`);
    const before = statSync(file).mtimeMs;
    const r = pathlab('--record', ...c.args, file);
    t.is(r.status, 2, r.stdout + r.stderr);
    t.regex(r.stderr, c.message);
    t.true(readFileSync(file).equals(readFileSync('scenarios/incident-7000/outage-current.yaml')));
    t.is(statSync(file).mtimeMs, before);
  });
}
