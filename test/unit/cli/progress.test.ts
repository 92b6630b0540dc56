// Progress as the run goes: plain lines without a terminal (a probe, then its scenario, when
// each ends), one status line rewritten in place on a terminal, cleared before any other line
// and at the end, never wider than the terminal.
import test from 'ava';
import { createProgress } from '../../../src/cli/progress.ts';
import { failingRun } from '../report/fixtures.ts';

const scenario = failingRun.scenarios.find((s) => s.status === 'failed')!;
const probe = scenario.probes.find((p) => p.status === 'failed')!;

test('without a terminal: a line per probe and per scenario as each ends, the lab\'s lines as they come', (t) => {
  let text = '';
  const p = createProgress({ write: (s) => (text += s), tty: false }, 1);
  p.scenarioStarted(scenario.name);
  p.note('lab a1b2c3: starting 2 pods');
  p.probeStarted(scenario.name, probe.probe);
  p.probeDone(probe);
  p.scenarioDone(scenario);
  p.end();
  const secs = (ms: number) => `${(ms / 1000).toFixed(1)}s`;
  t.deepEqual(text.split('\n'), ['lab a1b2c3: starting 2 pods', `  ✘ ${probe.scenario} · ${probe.probe} ${secs(probe.durationMs)}`, `✘ ${scenario.name} ${secs(scenario.durationMs)}`, '']);
});

test('on a terminal: one status line, cleared before a lab line and at the end, cut to the width', (t) => {
  let text = '';
  const p = createProgress({ write: (s) => (text += s), tty: true, columns: 40 }, 2);
  p.probeStarted('a-scenario-with-a-very-long-name-indeed', 'its-probe');
  t.is(text, '[1/2] a-scenario-with-a-very-long-name…');
  p.note('warning: something');
  t.true(text.endsWith('\r\x1b[2Kwarning: something\n[1/2] a-scenario-with-a-very-long-name…'));
  p.probeDone(probe);
  p.scenarioDone(scenario);
  p.end();
  t.true(text.endsWith('\r\x1b[2K'), JSON.stringify(text));
  t.false(text.includes(`✘ ${scenario.name}`), 'the report that follows lists the scenarios');
});

test('on a terminal, labs at once (--concurrency): the status names every scenario under way; one ending leaves the others', (t) => {
  let text = '';
  const p = createProgress({ write: (s) => (text += s), tty: true, columns: 200 }, 3);
  p.probeStarted('a', 'p1');
  p.probeStarted('b', 'q1');
  t.true(text.endsWith('[1/3] a · p1, b · q1 …'), JSON.stringify(text));
  p.scenarioDone({ ...scenario, name: 'a' });
  t.true(text.endsWith('\r\x1b[2K[2/3] b · q1 …'), JSON.stringify(text));
});

test('--check-fault\'s run without the change: failing is the good outcome (✔), passing is not (✘)', (t) => {
  let text = '';
  const p = createProgress({ write: (s) => (text += s), tty: false }, 2);
  p.scenarioDone({ ...scenario, name: 'x', mode: 'without-change', status: 'failed' });
  p.scenarioDone({ ...scenario, name: 'y', mode: 'without-change', status: 'passed' });
  t.regex(text, /^✔ x \(without its change: failed, as it must\) /m);
  t.regex(text, /^✘ y \(without its change: PASSED, its probes do not detect the change\) /m);
});
