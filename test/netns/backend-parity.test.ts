// The two backends do the same for the same scenario fields. For each variant of a current-
// Istio scenario (a step without a role, context beside a fix, the probe's own captures, a
// probe from the istio-proxy container), under --check-fault, the shared runner drives the real
// netns backend (its calls recorded at the seam), and the kind backend's run plan (what it
// executes, as --dry-run prints it) says what kind would do. They must agree: the same runs,
// the same setup steps in each, the same probe command, user, captures and conntrack.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { netnsBackend } from '../../src/lab/netns/backend.ts';
import { planKindRun } from '../../src/lab/kind/run-plan.ts';
import { kindBackend } from '../../src/lab/kind/backend.ts';
import { kindPins } from '../../src/lab/kind/versions.ts';
import type { Backend, StartedBackend, WatchSpec } from '../../src/run/backend.ts';
import { runScenarios } from '../../src/run/runner.ts';
import { loadedScenario, type LoadedScenario } from '../../src/scenario/loaded.ts';
import { ScenarioSchema, type Scenario } from '../../src/scenario/schema.ts';
import { NEEDS_ROOT, netnsTest } from '../helpers/caps.ts';

const FILE = 'scenarios/incident-7000/outage-current.yaml';
const base = (): Scenario => ScenarioSchema.parse(parse(readFileSync(FILE, 'utf8')));

const variants: Array<{ name: string; make: (s: Scenario) => void }> = [
  { name: 'a setup step without a role', make: (s) => void delete s.setup![0]!.role },
  {
    name: 'a context step beside a fix',
    make: (s) => {
      s.setup![0]!.role = 'context';
      s.setup!.push({ role: 'fix', description: 'exclude 7000 from capture', annotate: { pod: 'app', annotations: { 'traffic.sidecar.istio.io/excludeOutboundPorts': '7000' } } });
    },
  },
  { name: 'the probe\'s own captures', make: (s) => void (s.probes[0]!.captures = [{ tcpdump: { iface: 'eth0', filter: 'tcp and host 10.0.0.6' } }, { conntrack: true }]) },
  { name: 'a probe from the istio-proxy container', make: (s) => void (s.probes[0]!.from.container = 'istio-proxy') },
];

interface Seen {
  runs: string[];
  setup: Record<string, number[]>;
  probes: Array<{ argv: string[]; proxy: boolean; captures: string[]; conntrack: boolean }>;
}

/** The netns backend's calls at the seam, as the shared runner makes them. */
async function netnsCalls(s: LoadedScenario): Promise<Seen> {
  const seen: Seen = { runs: [], setup: {}, probes: [] };
  let captures: string[] = [];
  const record = (lab: StartedBackend): StartedBackend =>
    new Proxy(lab, {
      get(target, key) {
        const v = Reflect.get(target, key, target) as unknown;
        if (key === 'applySetup') {
          return async (sc: LoadedScenario, steps: Parameters<StartedBackend['applySetup']>[1], mode: Parameters<StartedBackend['applySetup']>[2]) => {
            seen.runs.push(mode);
            seen.setup[mode] = steps.map((st) => sc.scenario.setup!.indexOf(st));
            return target.applySetup(sc, steps, mode);
          };
        }
        if (key === 'watch') {
          return async (pod: string, spec: WatchSpec) => {
            captures.push(...spec.captures.map((c) => `${pod} ${c.iface} ${c.filter}`));
            return target.watch(pod, spec);
          };
        }
        if (key === 'probe') {
          return async (...a: Parameters<StartedBackend['probe']>) => {
            const argv = [...a[1]];
            seen.probes.push({ argv, proxy: a[2].user.uid === target.proxyUser.uid, captures, conntrack: false });
            captures = [];
            return target.probe(...a);
          };
        }
        if (key === 'netns') {
          return async (pod: string, argv: readonly string[]) => {
            if (argv[0] === 'conntrack') seen.probes.at(-1)!.conntrack = true;
            return target.netns(pod, argv);
          };
        }
        return typeof v === 'function' ? (v as (...x: unknown[]) => unknown).bind(target) : v;
      },
    });
  const backend: Backend = { ...netnsBackend, open: async (o) => {
    const session = await netnsBackend.open(o);
    return { ...session, start: async (g) => record(await session.start(g)) };
  } };
  await runScenarios(backend, [s], { checkFault: true, keepLab: false });
  return seen;
}

/** What the kind backend would do, from its run plan. */
function kindCalls(s: LoadedScenario): Seen {
  const seen: Seen = { runs: [], setup: {}, probes: [] };
  const sections = planKindRun({ scenarios: [s], id: 'a1b2c3', pins: kindPins('linux-amd64'), cacheDir: '/c', existing: { context: 'kind-pathlab-a1b2c3' }, checkFault: true });
  for (const sec of sections) {
    const m = /^scenario \S+( \(without its change\))?: (setup|probe .*)$/.exec(sec.title);
    if (!m) continue;
    const mode = m[1] ? 'without-change' : 'with-setup';
    if (m[2] === 'setup') {
      seen.runs.push(mode);
      seen.setup[mode] = [...new Set(sec.steps.filter((st) => st.kind === 'run').flatMap((st) => [.../setup\[(\d+)\]/.exec(st.what) ?? []].slice(1).map(Number)))];
      continue;
    }
    const probe = sec.steps.find((st) => st.kind === 'exec' && st.what.startsWith('the probe: '));
    if (probe?.kind !== 'exec') continue;
    seen.probes.push({
      argv: probe.argv,
      proxy: probe.target.endsWith('/istio-proxy'),
      captures: sec.steps.flatMap((st) => {
        const c = /^start the probe's capture: tcpdump -i (\S+) (.*)$/.exec(st.what);
        return c ? [`${s.scenario.probes[0]!.from.pod} ${c[1]} ${c[2]}`] : [];
      }),
      conntrack: sec.steps.some((st) => st.kind === 'run' && st.argv.includes('conntrack')),
    });
  }
  return seen;
}

for (const v of variants) {
  netnsTest(`${NEEDS_ROOT} parity: ${v.name}: netns and kind make the same runs, setup, probe command, user, captures`, async (t) => {
    const s = base();
    v.make(s);
    const loaded = loadedScenario(FILE, s);
    t.is(kindBackend.unsupported(s), undefined, 'the variant is one kind can run');
    const netns = await netnsCalls(loaded);
    const kind = kindCalls(loaded);
    // The netns probe runs inside `ip netns exec <ns> [setpriv …] --`: compare the tool's own argv.
    const tool = (argv: string[]) => argv.slice(argv.findIndex((a) => a === 'nc' || a === 'curl'));
    t.deepEqual(netns.runs, kind.runs);
    t.deepEqual(netns.setup, kind.setup);
    t.deepEqual(netns.probes.map((p) => ({ ...p, argv: tool(p.argv) })), kind.probes.map((p) => ({ ...p, argv: tool(p.argv) })));
    t.true(netns.probes.length > 0 && netns.runs.length === 2, 'both runs happened, with their probes');
  });
}
