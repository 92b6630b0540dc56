// A run's progress on stderr, as it happens. Without a terminal (a pipe, a CI log) each probe
// and each scenario is a plain line when it finishes: `  ✔ scenario · probe 0.4s`, then
// `✘ scenario 1.4s`. On a terminal one status line says what runs now (`[3/44] scenario ·
// probe`), rewritten in place and cleared at the end, since the report that follows lists
// every scenario: no line printed twice. The lab's own progress lines (a lab starting, a
// warning) pass through in both cases. Our own few lines rather than listr2: the runner
// reports events, not tasks to own, and these are the only two renderings it needs.
import { outcomeOf, unprobed, type ProbeResult, type ScenarioResult } from '../paths/verdict.ts';
import { visibleControls } from '../scenario/text.ts';
import { MARK, seconds } from '../report/console.ts';

export interface ProgressSink {
  write(text: string): void;
  /** A terminal: the status line is rewritten in place. */
  tty: boolean;
  /** The terminal's width: a longer status line is cut (a wrapped one could not be cleared). */
  columns?: number;
}

export interface Progress {
  /** A line of the lab's (starting a lab, a warning): printed as it is. */
  note(line: string): void;
  scenarioStarted(name: string): void;
  probeStarted(scenario: string, probe: string): void;
  probeDone(p: ProbeResult): void;
  scenarioDone(s: ScenarioResult): void;
  /** Clears the status line (the run is over). */
  end(): void;
}

const v = visibleControls;

export function createProgress(sink: ProgressSink, total: number): Progress {
  let done = 0;
  let status = '';
  /** What runs now, by scenario (labs run at once with --concurrency): its probe, when one runs. */
  const running = new Map<string, string | undefined>();
  const clear = (): void => {
    if (sink.tty && status) sink.write('\r\x1b[2K');
    status = '';
  };
  const render = (): void => {
    if (!sink.tty) return;
    clear();
    if (running.size === 0) return;
    const now = [...running].map(([sc, probe]) => (probe === undefined ? v(sc) : `${v(sc)} · ${v(probe)}`)).join(', ');
    const text = `[${Math.min(done + 1, total)}/${total}] ${now} …`;
    const max = Math.max(20, (sink.columns ?? 80) - 1);
    status = [...text].length > max ? `${[...text].slice(0, max - 1).join('')}…` : text;
    sink.write(status);
  };
  const line = (text: string): void => {
    clear();
    sink.write(`${text}\n`);
    render();
  };
  return {
    note: (text) => line(text),
    scenarioStarted: (name) => {
      running.set(name, undefined);
      render();
    },
    probeStarted: (scenario, probe) => {
      running.set(scenario, probe);
      render();
    },
    probeDone: (p) => {
      if (!sink.tty) line(`  ${MARK[p.status]} ${v(p.scenario)} · ${v(p.probe)} ${p.status === 'skipped' ? `skipped${p.reason ? `: ${v(p.reason)}` : ''}` : seconds(p.durationMs)}`);
    },
    scenarioDone: (s) => {
      done++;
      running.delete(s.name);
      if (sink.tty) return render();
      const outcome = outcomeOf(s);
      const mark = outcome === 'skipped' ? MARK.skipped : outcome === 'good' ? MARK.passed : MARK.failed;
      const mode = s.mode === 'without-change' ? (unprobed(s) ? ' (without its change: its probes did not run, so nothing is checked)' : s.status === 'failed' ? ' (without its change: failed, as it must)' : s.status === 'passed' ? ' (without its change: PASSED, its probes do not detect the change)' : ' (without its change)') : '';
      const tail = s.status === 'skipped' ? `skipped${s.reason ? `: ${v(s.reason)}` : ''}` : s.status === 'failed' && s.probes.length === 0 && s.reason ? `${seconds(s.durationMs)}: ${v(s.reason)}` : seconds(s.durationMs);
      line(`${mark} ${v(s.name)}${mode} ${tail}`);
    },
    end: () => {
      running.clear();
      clear();
    },
  };
}
