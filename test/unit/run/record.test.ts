// `pathlab run --record`'s editing of scenario files, on the catalogue's own files and the hops
// and replies real runs observed (netns lab, current Istio): what held stays byte for byte, what
// did not is rewritten in place, comments and layout around it kept, and the result loads. The
// line diff is checked against GNU diff's own output for the same texts.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { parseHop } from '../../../src/paths/hop.ts';
import type { ProbeResult, ScenarioResult } from '../../../src/paths/verdict.ts';
import { recordExpectations, recordRefusal, recordRun, stableReply } from '../../../src/run/record.ts';
import { unifiedDiff } from '../../../src/scenario/line-diff.ts';
import { loadScenarioText } from '../../../src/scenario/loader.ts';

const OUTAGE = 'scenarios/incident-7000/outage-current.yaml';
const BLACKHOLE = 'scenarios/incident-7000/registry-only-7003.yaml';
const outage = readFileSync(OUTAGE, 'utf8');
const blackhole = readFileSync(BLACKHOLE, 'utf8');

// What `pathlab run` observed for the two files' probes (the report's "observed" column).
const OUTAGE_OBSERVED = [
  'iptables nat/OUTPUT#1 -> nat/ISTIO_OUTPUT#9 -> nat/ISTIO_REDIRECT#1 REDIRECT:15001',
  'envoy listener=virtualOutbound -> listener=0.0.0.0_7000 chain=PassthroughFilterChain cluster=PassthroughCluster upstream=10.0.0.6:7000',
  'iptables nat/OUTPUT#1 -> nat/ISTIO_OUTPUT#4 ACCEPT',
  'wire iface=eth0 dst=10.0.0.6:7000',
  'reply "-NOAUTH Authentication required."',
];
const NOAUTH = '-NOAUTH Authentication required.\r\n';
const BLACKHOLE_OBSERVED = [
  'iptables nat/OUTPUT#1 -> nat/ISTIO_OUTPUT#9 -> nat/ISTIO_REDIRECT#1 REDIRECT:15001',
  'envoy listener=virtualOutbound chain=virtualOutbound-catchall-tcp cluster=BlackHoleCluster flags=UH',
  'reply closed',
];
const WRONG_ENVOY = 'listener=0.0.0.0_7001 chain=';
const RIGHT_ENVOY = 'listener=0.0.0.0_7000 chain=';

/** A probe result as the runner gives it; only what --record reads matters. */
function result(p: Partial<ProbeResult> & Pick<ProbeResult, 'probe'>): ProbeResult {
  return {
    scenario: 'incident-7000-outage-current',
    title: 'incident-7000-outage-current · app (10.64.192.14) → 10.0.0.6:7000',
    status: 'failed',
    expected: [],
    notExpected: [],
    predicted: [],
    observed: OUTAGE_OBSERVED,
    matched: [],
    notExpectedSeen: [],
    predictionGaps: [],
    outcome: 'reached',
    reply: NOAUTH,
    evidence: [],
    retries: [],
    durationMs: 200,
    ...p,
  };
}
const noauth = (p: Partial<ProbeResult> = {}) => result({ probe: 'redis-7000-answers-noauth', ...p });
const blackholed = (p: Partial<ProbeResult> = {}) => result({ probe: 'redis-7003-blackholed', observed: BLACKHOLE_OBSERVED, outcome: 'closed', reply: '', ...p });

/** The expect of the file's first probe, as the loader reads it (the file must load). */
function loadedExpect(t: ExecutionContext, text: string, file = OUTAGE) {
  const r = loadScenarioText(text, file, 'scenarios/incident-7000');
  if (!r.ok) return t.fail(r.problems.map((p) => p.message).join('\n'));
  return r.scenario.probes[0]!.expect;
}

/** Lines that differ between two texts, as [removed, added]. */
function changedLines(a: string, b: string): [string[], string[]] {
  const diff = unifiedDiff(a, b, 'f').split('\n').slice(2);
  return [diff.filter((l) => l.startsWith('-')).map((l) => l.slice(1)), diff.filter((l) => l.startsWith('+')).map((l) => l.slice(1))];
}

test('a probe whose expectations held leaves the file byte-identical (its partial path is the author\'s)', (t) => {
  const r = recordExpectations(outage, [noauth({ status: 'passed' })]);
  t.is(r.text, outage);
  t.deepEqual(r.recorded, []);
  t.deepEqual(r.notes, []);
  const b = recordExpectations(blackhole, [blackholed({ status: 'passed' })]);
  t.is(b.text, blackhole);
});

test('a wrong hop is replaced by the observed hop of its kind, in place: the file is the catalogue\'s again', (t) => {
  const wrong = outage.replace(RIGHT_ENVOY, WRONG_ENVOY);
  t.not(wrong, outage);
  const r = recordExpectations(wrong, [noauth()]);
  t.is(r.text, outage);
  t.deepEqual(r.recorded, ['redis-7000-answers-noauth']);
  const [removed, added] = changedLines(wrong, r.text);
  t.deepEqual(removed, [`        - envoy listener=virtualOutbound -> ${WRONG_ENVOY}PassthroughFilterChain cluster=PassthroughCluster upstream=10.0.0.6:7000`]);
  t.deepEqual(added, [`        - ${OUTAGE_OBSERVED[1]}`]);
});

test('comments beside and between hops, quoting, flow lists and the folded description are kept', (t) => {
  const annotated = outage
    .replace('REDIRECT:15001\n', 'REDIRECT:15001   # istio-init sends it to Envoy\n        # then the listener on 7000:\n')
    .replace(`- envoy listener=virtualOutbound -> ${RIGHT_ENVOY}`, `- 'envoy listener=virtualOutbound -> ${WRONG_ENVOY}`)
    .replace('upstream=10.0.0.6:7000\n', "upstream=10.0.0.6:7000'  # the hop under test\n");
  t.regex(annotated, /# then the listener on 7000:\n {8}- 'envoy/);
  const r = recordExpectations(annotated, [noauth()]);
  const [removed, added] = changedLines(annotated, r.text);
  t.is(removed.length, 1);
  // The replaced hop keeps its quoting style and its comment; everything else is as it was.
  t.deepEqual(added, [`        - '${OUTAGE_OBSERVED[1]}'  # the hop under test`]);
  t.is(r.text.replace(added[0]!, removed[0]!), annotated);
  t.deepEqual(loadedExpect(t, r.text)?.path, OUTAGE_OBSERVED.slice(0, 4));
});

test('a probe without a path gets the whole observed path, at its expect\'s indentation, and the file loads', (t) => {
  const without = outage.replace(/ {6}path:\n( {8}- .*\n)+/, '');
  t.false(without.includes('path:'));
  const r = recordExpectations(without, [noauth({ status: 'passed' })]);
  t.true(r.text.startsWith(without));
  t.is(r.text.slice(without.length), `      path:\n${OUTAGE_OBSERVED.map((h) => `        - ${h}\n`).join('')}`);
  t.deepEqual(loadedExpect(t, r.text)?.path, OUTAGE_OBSERVED);
});

test('a flow expect gets the path in flow; `path: []` becomes a block list; both load', (t) => {
  const flow = outage.replace(/ {4}expect:\n[\s\S]*$/, '    expect: { outcome: reached }   # to record\n');
  const f = recordExpectations(flow, [noauth({ status: 'passed' })]);
  const [, added] = changedLines(flow, f.text);
  t.is(added.length, 1);
  t.true(added[0]!.startsWith('    expect: { outcome: reached, path: [iptables nat/OUTPUT#1'));
  t.true(added[0]!.endsWith('reply "-NOAUTH Authentication required."] }   # to record'));
  t.deepEqual(loadedExpect(t, f.text)?.path, OUTAGE_OBSERVED);

  const empty = outage.replace(/ {6}path:\n( {8}- .*\n)+/, '      path: []\n');
  const e = recordExpectations(empty, [noauth({ status: 'passed' })]);
  t.is(e.text, `${empty.replace('      path: []\n', '      path:\n')}${OUTAGE_OBSERVED.map((h) => `        - ${h}\n`).join('')}`);
  t.deepEqual(loadedExpect(t, e.text)?.path, OUTAGE_OBSERVED);
});

test('hops in the wrong order: the whole observed path is written', (t) => {
  // wire before the redirect: the redirect has no iptables hop after the wire to stand for it.
  const swapped = outage.replace(/ {6}path:\n( {8}- .*\n)+/, `      path:\n        - wire iface=eth0 dst=10.0.0.6:7000\n        - ${OUTAGE_OBSERVED[0]}\n`);
  const r = recordExpectations(swapped, [noauth()]);
  t.deepEqual(loadedExpect(t, r.text)?.path, OUTAGE_OBSERVED);
});

test('an outcome and a reply that did not hold are recorded; other failed expectations are named, not guessed', (t) => {
  const wrong = outage.replace('outcome: reached', 'outcome: refused').replace('pattern: "^-NOAUTH Authentication required"', 'pattern: "^\\\\+OK"');
  const evidence = [{ source: 'expectations', lines: ['the reply "-NOAUTH Authentication required.\\r\\n" is not "^\\\\+OK"', 'the outcome was reached, not refused', 'no SYN to 10.0.0.6:7000 left the pod on eth0'] }];
  const r = recordExpectations(wrong, [noauth({ evidence })]);
  const [removed, added] = changedLines(wrong, r.text);
  t.deepEqual(removed, ['      outcome: refused', '        pattern: "^\\\\+OK"']);
  t.deepEqual(added, ['      outcome: reached', '        contains: "-NOAUTH Authentication required."']);
  t.deepEqual(r.notes, ['redis-7000-answers-noauth: still fails, not recorded (--record writes path, notPath, outcome and reply): no SYN to 10.0.0.6:7000 left the pod on eth0']);
  const e = loadedExpect(t, r.text);
  t.deepEqual([e?.outcome, e?.reply], ['reached', { contains: '-NOAUTH Authentication required.' }]);
});

const replyCases: Array<{ name: string; was: string; body: string; now: string }> = [
  { name: 'no bytes: none', was: 'pattern: "^-NOAUTH"', body: '', now: 'none: true' },
  { name: 'an exact reply stays exact', was: 'exact: "+OK\\r\\n"', body: NOAUTH, now: 'exact: "-NOAUTH Authentication required.\\r\\n"' },
  { name: 'a 200-character (cut) reply is not exact: contains its first line', was: 'exact: x', body: `${'y'.repeat(150)}\n${'z'.repeat(49)}`, now: `contains: ${'y'.repeat(150)}` },
  { name: 'a block scalar becomes a quoted one', was: 'contains: |\n          +OK\n', body: NOAUTH, now: 'contains: "-NOAUTH Authentication required."' },
];
for (const c of replyCases) {
  test(`reply: ${c.name}`, (t) => {
    const text = outage.replace('pattern: "^-NOAUTH Authentication required"\n', `${c.was}${c.was.endsWith('\n') ? '' : '\n'}`);
    const r = recordExpectations(text, [noauth({ reply: c.body, observed: c.body === '' ? [...OUTAGE_OBSERVED.slice(0, 4), 'reply closed'] : OUTAGE_OBSERVED, outcome: 'reached' })]);
    const [, added] = changedLines(text, r.text);
    t.true(added.includes(`        ${c.now}`), added.join('\n'));
    t.truthy(loadedExpect(t, r.text));
  });
}

test('a notPath hop that was observed is taken out, the others kept; the key goes with the last one', (t) => {
  const flow = blackhole.replace('      notPath:\n        - wire iface=eth0 dst=10.0.0.6:7003\n', '      notPath: [ "wire iface=eth0 dst=10.0.0.6:7003", "envoy cluster=BlackHoleCluster" ]\n');
  const f = recordExpectations(flow, [blackholed()]);
  t.deepEqual(changedLines(flow, f.text), [['      notPath: [ "wire iface=eth0 dst=10.0.0.6:7003", "envoy cluster=BlackHoleCluster" ]'], ['      notPath: [ "wire iface=eth0 dst=10.0.0.6:7003" ]']]);

  const block = blackhole.replace('      notPath:\n', '      notPath:\n        - envoy cluster=BlackHoleCluster\n');
  const b = recordExpectations(block, [blackholed()]);
  t.is(b.text, blackhole);

  const only = blackhole.replace('        - wire iface=eth0 dst=10.0.0.6:7003\n', '        - envoy cluster=BlackHoleCluster   # must not\n');
  const o = recordExpectations(only, [blackholed()]);
  t.deepEqual(changedLines(only, o.text), [['      notPath:', '        - envoy cluster=BlackHoleCluster   # must not'], []]);
  t.is(loadedExpect(t, o.text, BLACKHOLE)?.notPath, undefined);
});

test('a probe that failed before any observation is not written, and says so; a passed ss/iptables-save probe needs nothing', (t) => {
  const wrong = outage.replace(RIGHT_ENVOY, WRONG_ENVOY);
  const r = recordExpectations(wrong, [noauth({ observed: [], reason: 'the target does not resolve in this lab' })]);
  t.is(r.text, wrong);
  t.deepEqual(r.recorded, []);
  t.deepEqual(r.notes, ['redis-7000-answers-noauth: not recorded: it failed before any observation (the target does not resolve in this lab)']);
  const s = recordExpectations(wrong, [noauth({ status: 'skipped', observed: [], reason: 'interrupted (SIGINT)' })]);
  t.deepEqual(s.notes, ['redis-7000-answers-noauth: not recorded: it did not run (interrupted (SIGINT))']);
  t.deepEqual(recordExpectations(wrong, [noauth({ status: 'passed', observed: [] })]).notes, []);
});

test('a probe under which a process of the lab died is not written: what it saw is not the path', (t) => {
  const wrong = outage.replace(RIGHT_ENVOY, WRONG_ENVOY);
  const why = 'the envoy hop observed here differs';
  const expected = `envoy listener=virtualOutbound -> ${WRONG_ENVOY}PassthroughFilterChain cluster=PassthroughCluster upstream=10.0.0.6:7000`;
  const firstDifference = { index: 1, expected, observed: OUTAGE_OBSERVED[1]!, why };
  // As the runner words it: the difference is the reason, unless a process died (then that is).
  t.is(recordExpectations(wrong, [noauth({ firstDifference, reason: `${why}: expected ${expected}` })]).text, outage);
  const dead = 'the envoy of app (pid 4242) is not running; its log ends: caught SIGSEGV';
  const r = recordExpectations(wrong, [noauth({ firstDifference, reason: dead, evidence: [{ source: 'expectations', lines: [dead] }] })]);
  t.is(r.text, wrong);
  t.deepEqual(r.notes, [`redis-7000-answers-noauth: not recorded: the lab broke under it, so what it saw is not the path (${dead})`]);
});

test('a file with CRLF line ends gets CRLF lines', (t) => {
  const crlf = outage.replace(/ {6}path:\n( {8}- .*\n)+/, '').replace(/\n/g, '\r\n');
  const r = recordExpectations(crlf, [noauth({ status: 'passed' })]);
  t.true(r.text.startsWith(crlf));
  t.false(/[^\r]\n/.test(r.text));
  t.deepEqual(loadedExpect(t, r.text)?.path, OUTAGE_OBSERVED);
});

test('every hop written is one the loader parses back to the same hop', (t) => {
  const without = outage.replace(/ {6}path:\n( {8}- .*\n)+/, '');
  const r = recordExpectations(without, [noauth({ status: 'passed' })]);
  const path = loadedExpect(t, r.text)?.path ?? [];
  t.deepEqual(path.map((h) => parseHop(h)), OUTAGE_OBSERVED.map((h) => parseHop(h)));
});

test('recordRun: the diff and "recorded 1 probe(s) in FILE", "FILE unchanged", a file that would not load is not written', (t) => {
  const files = new Map([[OUTAGE, outage.replace(RIGHT_ENVOY, WRONG_ENVOY)], [BLACKHOLE, blackhole]]);
  const access = { read: (f: string) => files.get(f)!, write: (f: string, text: string) => void files.set(f, text) };
  const scenario = (file: string, probes: ProbeResult[]): ScenarioResult => ({ name: file, file, backend: 'netns', mode: 'with-setup', status: 'failed', probes, durationMs: 1 });
  const out = recordRun([scenario(OUTAGE, [noauth()]), scenario(BLACKHOLE, [blackholed({ status: 'passed' })])], access);
  t.is(files.get(OUTAGE), outage);
  t.is(files.get(BLACKHOLE), blackhole);
  t.is(
    out,
    [
      `--- ${OUTAGE}`,
      `+++ ${OUTAGE}`,
      '@@ -75,6 +75,6 @@',
      '         pattern: "^-NOAUTH Authentication required"',
      '       path:',
      `         - ${OUTAGE_OBSERVED[0]}`,
      `-        - envoy listener=virtualOutbound -> ${WRONG_ENVOY}PassthroughFilterChain cluster=PassthroughCluster upstream=10.0.0.6:7000`,
      `+        - ${OUTAGE_OBSERVED[1]}`,
      `         - ${OUTAGE_OBSERVED[2]}`,
      `         - ${OUTAGE_OBSERVED[3]}`,
      `recorded 1 probe(s) in ${OUTAGE}`,
      `${BLACKHOLE} unchanged`,
      '',
    ].join('\n'),
  );
  // A file that would not load once recorded (here it went bad during the run) is not written.
  files.set(OUTAGE, outage.replace(/ {6}path:\n( {8}- .*\n)+/, ''));
  const bad = recordRun([scenario(OUTAGE, [noauth({ status: 'passed' })])], { ...access, read: (f) => files.get(f)!.replace('leavesPod: true', 'leavesPod: yes-please') });
  t.regex(bad, /unchanged: not written, the recorded file would not load:\n {2}scenarios\/incident-7000\/outage-current\.yaml:\d+:\d+: probes\[0\]\.expect\.leavesPod/);
  t.false(files.get(OUTAGE)!.includes('path:'));
  t.is(recordRun([scenario(OUTAGE, [noauth()])], access, { interrupted: true }), '--record: the run was interrupted; no file was written\n');
  t.is(recordRun([{ ...scenario(OUTAGE, []), reason: 'setup step 1 failed: boom' }], access), `${OUTAGE} unchanged: no probe ran (setup step 1 failed: boom)\n`);
});

test('--record is refused with --check-fault, --dry-run and --istio-version, and without a path (it would rewrite pathlab\'s own catalogue)', (t) => {
  t.regex(recordRefusal({ paths: [] }) ?? '', /^--record rewrites the files it runs: name them/);
  t.is(recordRefusal({ paths: ['my-scenarios/'] }), undefined);
  t.regex(recordRefusal({ checkFault: true }) ?? '', /^--record cannot be used with --check-fault/);
  t.regex(recordRefusal({ dryRun: true }) ?? '', /^--record cannot be used with --dry-run/);
  t.regex(recordRefusal({ istioVersion: '1.5' }) ?? '', /^--record cannot be used with --istio-version/);
  t.is(recordRefusal({}), undefined);
});

// The line diff against GNU diff -u on the same texts (its header lines, with dates, left out).
const dir = mkdtempSync(join(tmpdir(), 'pathlab-record-unit-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));
const lines = (n: number, f: (i: number) => string = (i) => `line ${i}`) => Array.from({ length: n }, (_, i) => `${f(i + 1)}\n`).join('');
const diffCases: Array<{ name: string; a: string; b: string }> = [
  { name: 'one line changed in the middle', a: lines(20), b: lines(20).replace('line 10\n', 'line ten\n') },
  { name: 'two changes far apart: two hunks', a: lines(40), b: lines(40).replace('line 5\n', 'five\n').replace('line 30\n', '') },
  { name: 'two changes close together: one hunk', a: lines(40), b: lines(40).replace('line 5\n', 'five\n').replace('line 11\n', 'eleven\nand more\n') },
  { name: 'lines added at the start and at the end', a: lines(8), b: `first\n${lines(8)}last\n` },
  { name: 'lines removed at the start', a: lines(8), b: lines(8).replace('line 1\nline 2\n', '') },
  { name: 'no newline at the end of the new text', a: lines(5), b: lines(5).slice(0, -1) },
  { name: 'no newline at the end of either, last line changed', a: 'a\nb\nc', b: 'a\nb\nd' },
  { name: 'a catalogue file with a hop put right', a: outage.replace(RIGHT_ENVOY, WRONG_ENVOY), b: outage },
];
for (const c of diffCases) {
  test(`unifiedDiff agrees with GNU diff -u: ${c.name}`, (t) => {
    writeFileSync(join(dir, 'a'), c.a);
    writeFileSync(join(dir, 'b'), c.b);
    const gnu = spawnSync('diff', ['-u', join(dir, 'a'), join(dir, 'b')], { encoding: 'utf8' });
    t.is(gnu.status, 1, gnu.stderr);
    const body = (s: string) => s.split('\n').slice(2).join('\n');
    t.is(body(unifiedDiff(c.a, c.b, 'f')), body(gnu.stdout));
  });
}

test('unifiedDiff of equal texts is empty', (t) => {
  t.is(unifiedDiff(outage, outage, OUTAGE), '');
});

test('a recorded reply stops before its first ephemeral port: it matches the next run as a prefix', (t) => {
  const real = parseHop('reply "{\\"id\\":0,\\"pod\\":\\"details\\",\\"peer\\":\\"127.0.0.6:59037\\"}"');
  if (real.kind !== 'reply') return t.fail();
  const stable = stableReply(real);
  t.is(stable.text, '{"id":0,"pod":"details","peer":"127.0.0.6:');
  t.true(real.text.startsWith(stable.text));
  // A service port (below the ephemeral range) stays; tcp-echo's greeting keeps its port 7000.
  const greeting = parseHop('reply "hello from ext port 7000 (peer 10.64.0.20:41234)"');
  if (greeting.kind !== 'reply') return t.fail();
  t.is(stableReply(greeting).text, 'hello from ext port 7000 (peer 10.64.0.20:');
  const plain = parseHop('reply "HTTP/1.1 200 OK 10.0.0.6:7000"');
  if (plain.kind !== 'reply') return t.fail();
  t.is(stableReply(plain).text, plain.text, 'no ephemeral port: the whole reply');
});
