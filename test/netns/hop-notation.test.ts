// One hop notation everywhere (issue 15): the whole catalogue runs on the netns backend, and
// every hop printed about it is fed back to `pathlab validate` as a scenario's expect.path:
// - what the console, JSON, JUnit and TAP reporters print, for the run as it is and for the same
//   run with every probe shown as failed (the console prints a probe's hop table only then),
//   and for a --check-fault run (real first differences and must-not hops seen);
// - what `pathlab explain` prints (text and --json) for each probe from a meshed pod, on the
//   pod's own iptables-save and its sidecar's config_dump as the runner read them;
// - what `pathlab iptables trace` prints (text and --json) for each probe's connection, and for
//   one arriving at the pod.
// The same run checks the prediction: nothing to a loopback address or the pod's own address is
// predicted on eth0, and no prediction gap is reported where prediction and observation agree.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { bufferIo } from '../../src/cli/io.ts';
import { main } from '../../src/cli/main.ts';
import { BACKEND_REGISTRY } from '../../src/lab/registry.ts';
import { HOP_KINDS, parseHop } from '../../src/paths/hop.ts';
import { REPORT_API_VERSION, RunReportSchema, type RunReport, type ScenarioResult } from '../../src/paths/verdict.ts';
import { TOOLS } from '../../src/probes/index.ts';
import { formatConsole } from '../../src/report/console.ts';
import { formatJson } from '../../src/report/json.ts';
import { formatJunit } from '../../src/report/junit.ts';
import { formatTap } from '../../src/report/tap.ts';
import type { Backend, BackendSession, LabUser, StartedBackend } from '../../src/run/backend.ts';
import { runScenarios } from '../../src/run/runner.ts';
import { collectScenarioFiles } from '../../src/scenario/collect.ts';
import { loadScenarioFile } from '../../src/scenario/loader.ts';
import type { LoadedScenario } from '../../src/scenario/loaded.ts';
import { NEEDS_ROOT, netnsTest } from '../helpers/caps.ts';
import { consoleHops, explainHops, jsonReportHops, junitHops, tapHops, validateHops } from '../helpers/printed-hops.ts';

const netns = BACKEND_REGISTRY.netns;
const dir = mkdtempSync(join(tmpdir(), 'pathlab-hop-notation-'));
test.after.always(async () => {
  await netns.abandon?.();
  rmSync(dir, { recursive: true, force: true });
});

const load = (files: string[]): LoadedScenario[] => files.flatMap((f) => {
  const r = loadScenarioFile(f);
  return r.ok ? [r] : [];
});

/** What the runner's predict phase read in a pod, kept with the probe that followed it. */
interface Seen {
  scenario: string;
  pod: string;
  argv: readonly string[];
  user: LabUser;
  save?: string;
  dump?: unknown;
}

/** `o` with some members replaced; the others are o's own (methods bound to it, getters read on it). */
function over<T extends object>(o: T, members: Partial<T>): T {
  return new Proxy(o, {
    get(target, key) {
      if (Object.hasOwn(members, key)) return members[key as keyof T];
      const v: unknown = Reflect.get(target, key, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

/** The netns backend, recording for each probe the iptables-save and config_dump its prediction read. */
function recording(backend: Backend, seen: Seen[]): Backend {
  const started = (lab: StartedBackend): StartedBackend => {
    let scenario = '';
    const save = new Map<string, string>();
    const dump = new Map<string, unknown>();
    return over(lab, {
      applySetup: (s, steps, mode) => {
        scenario = s.scenario.metadata.name;
        return lab.applySetup(s, steps, mode);
      },
      netns: async (pod, argv) => {
        const r = await lab.netns(pod, argv);
        if (argv[0] === 'iptables-save') {
          save.set(pod, r.stdout);
          dump.delete(pod);
        }
        return r;
      },
      configDump: async (pod) => {
        const d = await lab.configDump(pod);
        dump.set(pod, d);
        return d;
      },
      probe: (pod, argv, opts) => {
        seen.push({ scenario, pod, argv, user: opts.user, ...(save.has(pod) ? { save: save.get(pod)! } : {}), ...(dump.has(pod) ? { dump: dump.get(pod) } : {}) });
        return lab.probe(pod, argv, opts);
      },
    });
  };
  return over(backend, {
    open: async (opts) => {
      const session = await backend.open(opts);
      return over<BackendSession>(session, { start: async (group) => started(await session.start(group)) });
    },
  });
}

function report(results: ScenarioResult[], checkFault: boolean): RunReport {
  const normal = results.filter((s) => s.mode === 'with-setup');
  const probes = normal.flatMap((s) => s.probes);
  const compared = probes.filter((p) => p.explainAgrees !== undefined);
  return RunReportSchema.parse({
    apiVersion: REPORT_API_VERSION,
    kind: 'RunReport',
    startedAt: new Date().toISOString(),
    durationMs: results.reduce((n, s) => n + s.durationMs, 0),
    backend: 'netns',
    checkFault,
    scenarios: results,
    summary: {
      scenarios: normal.length,
      passed: normal.filter((s) => s.status === 'passed').length,
      failed: normal.filter((s) => s.status === 'failed').length,
      skipped: normal.filter((s) => s.status === 'skipped').length,
      probes: probes.length,
      explain: { agree: compared.filter((p) => p.explainAgrees).length, compared: compared.length },
    },
  });
}

/** The same report with every probe that ran shown as failed: the console, JUnit and TAP then print each one's hops. */
const allFailed = (r: RunReport): RunReport => ({
  ...r,
  scenarios: r.scenarios.map((s) => ({ ...s, status: 'failed', probes: s.probes.map((p) => (p.status === 'passed' ? { ...p, status: 'failed' } : p)) })),
});

function reporterHops(r: RunReport): Record<'console' | 'json' | 'junit' | 'tap', string[]> {
  return {
    console: consoleHops(formatConsole(r, { color: false, verbose: true })),
    json: jsonReportHops(JSON.parse(formatJson(r)) as RunReport),
    junit: junitHops(formatJunit(r)),
    tap: tapHops(formatTap(r)),
  };
}

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = bufferIo();
  const code = await main(argv, io);
  return { code, out: io.stdout(), err: io.stderr() };
}

const TITLE = /· (\S+) \(([\d.]+)\) → ([\d.]+):(\d+)$/;
/** A payload as explain's --payload takes it (\r, \n, \t written out). */
const escapes = (s: string) => s.replace(/\r/g, '\\r').replace(/\n/g, '\\n').replace(/\t/g, '\\t');

netnsTest(`${NEEDS_ROOT} every hop the catalogue run, explain and iptables trace print is a hop pathlab validate accepts`, async (t) => {
  t.timeout(600_000);
  const catalogue = load(collectScenarioFiles(['scenarios']).files).filter((s) => netns.unsupported(s.scenario) === undefined);
  const seen: Seen[] = [];
  const run = await runScenarios(recording(netns, seen), catalogue, { concurrency: 2, checkFault: false, keepLab: false });
  const main_ = report([...run.results, ...run.skipped], false);
  // Real first differences and must-not hops seen: the seed 003 outage and a fix, without their change.
  const faults = load(['scenarios/incident-7000/outage-legacy.yaml', 'scenarios/incident-7000/fix-serviceentry.yaml']);
  const checked = report((await runScenarios(netns, faults, { concurrency: 1, checkFault: true, keepLab: false })).results, true);
  t.true(checked.scenarios.some((s) => s.mode === 'without-change' && s.probes.some((p) => p.firstDifference !== undefined)), 'the --check-fault run has a first difference');

  const printed: Record<string, string[]> = {};
  const add = (source: string, hops: readonly string[]) => (printed[source] ??= []).push(...hops);
  for (const r of [main_, allFailed(main_), checked]) for (const [name, hops] of Object.entries(reporterHops(r))) add(name, hops);

  // explain and iptables trace for each probe's connection, on what the runner read in its pod.
  const probes = main_.scenarios.flatMap((s) => s.probes.map((p) => ({ s, p })));
  const used = new Set<Seen>();
  let explained = 0;
  for (const { s, p } of probes) {
    const m = TITLE.exec(p.title);
    // The probe's own command heads its evidence; several probes may run the same one (as another user): in order.
    const rec = seen.find((x) => !used.has(x) && x.scenario === s.name && p.evidence.some((e) => e.source.includes(x.argv.join(' '))));
    if (!m || !rec?.save) continue;
    used.add(rec);
    const [, pod, ip, dstIp, dstPort] = m;
    t.is(rec.pod, pod!, `${s.name} › ${p.probe}: the recorded pod`);
    const probe = catalogue.find((c) => c.scenario.metadata.name === s.name)!.scenario.probes.find((x) => x.name === p.probe)!;
    const rules = join(dir, `${s.name}.${p.probe}.save`);
    writeFileSync(rules, rec.save);
    const dst = `${dstIp}:${dstPort}`;
    const ids = ['--uid', String(rec.user.uid), '--gid', String(rec.user.gid)];
    const out = ['iptables', 'trace', '--rules', rules, '--src', ip!, '--dst', dst, ...ids, ...(dstIp === ip || dstIp!.startsWith('127.') ? ['--oif', 'lo'] : [])];
    const into = ['iptables', 'trace', '--rules', rules, '--direction', 'in', '--src', '10.64.255.250', '--dst', `${ip}:${dstPort}`];
    for (const argv of [out, into]) {
      const text = await cli(argv);
      const json = await cli([...argv, '--json']);
      t.is(text.code, 0, text.err);
      // The text is one hop (the --json path), or says that no rule matched and there is no hop.
      const path = (JSON.parse(json.out) as { path: string | null }).path;
      if (path !== null) add('iptables trace', [text.out.trimEnd(), path]);
      else t.regex(text.out, /^no rule matched/);
    }
    if (rec.dump === undefined) continue;
    const dump = join(dir, `${s.name}.${p.probe}.dump.json`);
    writeFileSync(dump, JSON.stringify(rec.dump));
    const tool = TOOLS[probe.tool];
    const payload =
      probe.target?.serverName !== undefined
        ? []
        : tool.kind === 'connect' && tool.payloadKind === 'http'
          ? ['--http-host', `${probe.target?.host ?? probe.target?.address}:${dstPort}`, ...(probe.target?.path !== undefined ? ['--http-path', probe.target.path] : [])]
          : probe.payload !== undefined ? ['--payload', escapes(probe.payload)] : [];
    const argv = ['explain', '--config-dump', dump, '--iptables', rules, '--src', ip!, '--dst', dst, '--uid', String(rec.user.uid), ...payload];
    const text = await cli(argv);
    const json = await cli([...argv, '--json']);
    t.is(text.code, 0, `${argv.join(' ')}: ${text.err}`);
    const hops = explainHops(text.out, json.out);
    add('explain', hops);
    explained++;
    // Loopback traffic is never predicted on eth0: not by explain, not by the run's prediction.
    const local = (h: string) => h.startsWith('wire ') && (h.includes(' dst=127.') || h.includes(` dst=${ip}:`));
    t.false([...hops, ...p.predicted].some(local), `${s.name} › ${p.probe} predicts loopback traffic on eth0:\n${[...hops, ...p.predicted].join('\n')}`);
  }

  // Every hop kind and every source is there, and every hop is accepted.
  const all = [...new Set(Object.values(printed).flat())];
  for (const source of ['console', 'json', 'junit', 'tap', 'explain', 'iptables trace']) t.true((printed[source]?.length ?? 0) > 0, `${source} printed hops`);
  t.true(explained >= 30, `explain ran for ${explained} probes`);
  const kinds = new Set(all.map((h) => h.split(' ')[0]));
  for (const k of HOP_KINDS) t.true(kinds.has(k), `a ${k} hop was printed`);
  t.true(all.includes('reply closed'));
  t.true(all.some((h) => h.startsWith('iptables nat/PREROUTING#')), 'an inbound iptables hop (the peer pod, trace --direction in)');
  const rejected = all.filter((h) => {
    try {
      parseHop(h);
      return false;
    } catch {
      return true;
    }
  });
  t.deepEqual(rejected, [], `hops no scenario takes, printed by ${Object.entries(printed).filter(([, hs]) => hs.some((h) => rejected.includes(h))).map(([s]) => s).join(', ')}`);
  const v = await validateHops(all);
  t.is(v.code, 0, v.out);
  t.log(`${all.length} distinct hops: ${Object.entries(printed).map(([s, hs]) => `${s} ${hs.length}`).join(', ')}; explain on ${explained} probes`);

  // A prediction gap only where prediction and observation differ: on the catalogue explain names
  // every hop the sidecars logged, so no probe has one.
  const gaps = probes.filter(({ p }) => p.predictionGaps.length > 0).map(({ s, p }) => `${s.name} › ${p.probe}: ${p.predictionGaps.join('; ')}`);
  t.deepEqual(gaps, []);
});
