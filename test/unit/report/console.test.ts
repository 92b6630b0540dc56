// The console report: the first differing hop is the marked row, must-not hops and gaps are
// named, the evidence behind the difference follows, and the summary and --check-fault lines
// say what happened in words a reader cannot misread.
import test from 'ava';
import { formatConsole, formatSummary } from '../../../src/report/console.ts';
import { formatTap } from '../../../src/report/tap.ts';
import { formatJunit } from '../../../src/report/junit.ts';
import { outcomeOf } from '../../../src/paths/verdict.ts';
import { assertGolden } from '../../helpers/golden.ts';
import { DIFF_MARK, formatHopDiff, hopDiffRows } from '../../../src/report/hop-diff.ts';
import { checkFaultRun, checkFaultUnprobedRun, failingRun, setupFailedRun, hostileRun, mustNotRun, passingRun, probe7000LeftPod, probe7000StillBroken, skippedRun } from './fixtures.ts';

const markedLine = (text: string): string | undefined => text.split('\n').find((l) => l.trimStart().startsWith(DIFF_MARK));

const cases = [
  {
    name: 'expected hop 2 is the first difference: its row is marked, facing the observed 0.0.0.0_7000 listener',
    probe: probe7000StillBroken,
    expectedCell: 'envoy listener=virtualOutbound cluster=PassthroughCluster',
    observedCell: 'envoy listener=virtualOutbound -> listener=0.0.0.0_7000 chain=#2',
  },
  {
    name: 'a must-not hop seen: the observed wire hop to 7000 is marked, with no expected hop beside it',
    probe: probe7000LeftPod,
    expectedCell: '',
    observedCell: 'wire iface=eth0 dst=10.0.0.6:7000',
  },
];

for (const c of cases) {
  test(`hop diff: ${c.name}`, (t) => {
    const marked = hopDiffRows(c.probe).filter((r) => r.marked);
    t.is(marked.length, 1);
    t.is(marked[0]?.expected ?? '', c.expectedCell);
    t.is(marked[0]?.observed, c.observedCell);
    const line = markedLine(formatHopDiff(c.probe).join('\n')) ?? '';
    const [left, right] = line.split(' │ ');
    t.is(left?.replace(DIFF_MARK, '').trim(), c.expectedCell);
    t.is(right?.trim(), c.observedCell);
  });
}

test('hop diff: an expected hop never observed says so, and unexpected observed hops get their own row', (t) => {
  const rows = hopDiffRows(probe7000StillBroken);
  t.deepEqual(
    rows.map((r) => [r.expectedIndex ?? null, r.observedIndex ?? null]),
    [
      [0, 0],
      [1, 1],
      [2, null],
      [null, 2],
    ],
  );
  t.regex(formatHopDiff(probe7000StillBroken).join('\n'), /wire iface=eth0 dst=10\.0\.0\.6:7000 +│ \(not observed\)/);
});

test('hop diff: an expected hop the runner matched with nothing stands alone, unless it is the first difference', (t) => {
  // The runner says expected hops 2 and 3 were satisfied by nothing; hop 2 is the first
  // difference, and the runner named the observed hop it differs from: only that one faces it.
  const rows = hopDiffRows({ ...probe7000StillBroken, matched: [0, null, null] });
  t.deepEqual(
    rows.map((r) => [r.expectedIndex ?? null, r.observedIndex ?? null]),
    [
      [0, 0],
      [1, 1],
      [2, null],
      [null, 2],
    ],
  );
  const noFacing = hopDiffRows({ ...probe7000StillBroken, matched: [0, null, null], firstDifference: { ...probe7000StillBroken.firstDifference!, observed: null } });
  t.deepEqual(
    noFacing.map((r) => [r.expectedIndex ?? null, r.observedIndex ?? null]),
    [
      [0, 0],
      [1, null],
      [2, null],
      [null, 1],
      [null, 2],
    ],
  );
  t.is(rows.find((r) => r.marked)?.expectedIndex, 1);
});

const consoleCases = [
  {
    name: 'a passing run prints one ✔ line per scenario and the summary, no tables',
    report: passingRun,
    has: ['✔ incident-7000-outage-legacy 1.0s', '1 scenario: 1 passed, 0 failed, 0 skipped (2 probes) in 4.2s'],
    hasNot: [DIFF_MARK, 'expected', '--check-fault'],
  },
  {
    name: 'a failing probe prints the header, the marked table, the must-not hop, the gap and its evidence',
    report: failingRun,
    has: [
      '✘ incident-7000-fix-serviceentry 1.8s',
      '✘ incident-7000/fix-serviceentry · app (10.64.192.14) → 10.0.0.6:7000',
      'first differing hop, expected #2: envoy listener=virtualOutbound cluster=PassthroughCluster',
      'must not be on the path, but was: envoy listener=0.0.0.0_7000',
      'note: prediction gap',
      'evidence behind the difference:',
      'sport=15001 dport=50498',
      '2 scenarios: 1 passed, 1 failed, 0 skipped (4 probes) in 4.2s',
    ],
    // evidence tied to another hop (the tcpdump control) is left for --verbose
    hasNot: ['positive control'],
  },
  {
    name: 'a must-not hop seen names it and shows the tcpdump line behind it',
    report: mustNotRun,
    has: ['must-not hop seen: wire iface=eth0 dst=10.0.0.6:7000', '10.64.192.14.50498 > 10.0.0.6.7000: Flags [S]'],
    hasNot: [],
  },
  {
    name: 'a skipped scenario is one "-" line with its reason and counts as skipped',
    report: skippedRun,
    has: ['- bookinfo-productpage-reviews-ratings skipped: needs the kind backend', '2 scenarios: 1 passed, 0 failed, 1 skipped (2 probes)'],
    hasNot: ['✘'],
  },
  {
    name: '--check-fault: failing without the fault is reported as the good outcome, passing without it as a failed check',
    report: checkFaultRun,
    has: [
      '--check-fault: 2 scenarios run again WITHOUT their fault',
      '✔ incident-7000-outage-legacy: failed without its fault, as it must (the fault is what breaks it)',
      '✘ incident-7000-registry-only-7003: PASSED without its fault: its probes do not detect the fault (check failed)',
      'check-fault FAILED: 1 of 2 scenarios pass without their fault',
    ],
    // the without-change runs' probe failures are not printed as failures of the run
    hasNot: [DIFF_MARK],
  },
  {
    name: 'control characters in evidence are shown as escapes, never sent to the terminal',
    report: hostileRun,
    has: ['\\x1b[31mred\\x1b[0m \\x00 bell\\x07', 'the reply began with ESC \\x1b and NUL \\x00'],
    hasNot: ['\u001b', '\u0000', '\u0007'],
  },
];

for (const c of consoleCases) {
  test(`console: ${c.name}`, (t) => {
    const out = formatConsole(c.report, { color: false });
    for (const s of c.has) t.true(out.includes(s), `missing ${JSON.stringify(s)} in:\n${out}`);
    for (const s of c.hasNot) t.false(out.includes(s), `unexpected ${JSON.stringify(s)} in:\n${out}`);
  });
}

test('console: a --check-fault run where every scenario fails without its fault says the check passed', (t) => {
  const good = { ...checkFaultRun, scenarios: checkFaultRun.scenarios.slice(0, 2) };
  const out = formatConsole(good, { color: false });
  t.true(out.includes('check-fault passed: all 1 checked scenarios fail without their fault'), out);
  t.false(out.includes('FAILED'), out);
});

test('console: a scenario that failed before its probes says why under its name (no probe line would)', (t) => {
  const out = formatConsole(setupFailedRun, { color: false });
  t.regex(out, /✘ \S+ [\d.]+s\n {2}the setup failed: web: Envoy rejected configuration 11: .*unknown cluster 'inbound\|7000\|\|'\n/, out);
});

test('console: colour only when asked; without it the text is the same minus the escapes', (t) => {
  const plain = formatConsole(failingRun, { color: false });
  const colored = formatConsole(failingRun, { color: true });
  t.false(plain.includes('\u001b['));
  t.true(colored.includes('\u001b['));
  // eslint-disable-next-line no-control-regex -- stripping SGR sequences
  t.is(colored.replace(/\u001b\[\d+m/g, ''), plain);
});

test('console: --verbose lists passed probes and every evidence entry', (t) => {
  const out = formatConsole(failingRun, { color: false, verbose: true });
  t.true(out.includes('✔ redis-7003-answers-noauth'));
  t.true(out.includes('positive control'));
});

test('console: the failing probe of seed 003, as a reviewed golden (test/golden/report-console-failing-probe.txt)', (t) => {
  assertGolden(t, 'report-console-failing-probe.txt', formatConsole(failingRun, { color: false }));
});

test('hop diff on a narrow terminal: each row stacked, expected over observed, the marked row still first marked', (t) => {
  const wide = formatHopDiff(probe7000StillBroken, 2);
  t.true(Math.max(...wide.map((l) => l.length)) > 100, 'the table is wider than the terminal below');
  t.deepEqual(formatHopDiff(probe7000StillBroken, 2, undefined, 200), wide, 'a table that fits stays a table');
  const lines = formatHopDiff(probe7000StillBroken, 2, undefined, 100);
  t.true(lines.every((l) => l.length <= 100 || !l.includes('│')));
  const marked = lines.findIndex((l) => l.trimStart().startsWith(DIFF_MARK));
  t.is(lines[marked], `  ${DIFF_MARK} expected ${probe7000StillBroken.firstDifference!.expected}`);
  t.is(lines[marked + 1], `    observed ${probe7000StillBroken.firstDifference!.observed}`);
  t.true(lines.includes(`    both     ${probe7000StillBroken.expected[0]}`));
  t.is(formatConsole(failingRun, { color: false, columns: 100 }).includes('│'), false);
});

test('console and every reporter: a run without its fault that failed before its probes (its lab did not start) fails the check instead of proving it', (t) => {
  const out = formatConsole(checkFaultUnprobedRun, { color: false });
  t.true(out.includes('✘ incident-7000-outage-legacy: its probes did not run without its fault, so the fault is not checked (check failed): the lab could not start'), out);
  t.true(out.includes('check-fault FAILED: 0 of 1 scenarios pass without their fault; 1 did not run their probes without it'), out);
  t.is(outcomeOf(checkFaultUnprobedRun.scenarios[1]!), 'bad');
  t.regex(formatTap(checkFaultUnprobedRun), /^not ok \d+ - incident-7000-outage-legacy › fails without its fault$/m);
  t.regex(formatJunit(checkFaultUnprobedRun), /type="UnprobedWithoutFault"/);
});

test('formatSummary (--out): a run without its fault whose probes did not run is named', (t) => {
  const out = formatSummary(checkFaultUnprobedRun, { color: false });
  t.regex(out, /^✘ incident-7000-outage-legacy: its probes did not run without its fault, so the fault is not checked: the lab could not start/m);
});
