// `pathlab run --backend kind --dry-run`: the whole kind run as commands, manifests and API
// calls, against a reviewed golden, and properties every run plan must have whatever the
// golden says: the guard's context on every kubectl call, every setup undone in reverse,
// every probe traced, captured and controlled, nothing left behind.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { main } from '../../../../src/cli/main.ts';
import { bufferIo } from '../../../../src/cli/io.ts';
import { expectedListeners, planKindRun, type KindRunSection } from '../../../../src/lab/kind/run-plan.ts';
import { kindBackend } from '../../../../src/lab/kind/backend.ts';
import { modesOf } from '../../../../src/scenario/setup-roles.ts';
const kindUnsupported = (s: Parameters<typeof kindBackend.unsupported>[0]) => kindBackend.unsupported(s);
import { collectScenarioFiles } from '../../../../src/scenario/collect.ts';
import { loadScenarioFile } from '../../../../src/scenario/loader.ts';
import { kindPins } from '../../../../src/lab/kind/versions.ts';
import type { LoadedScenario } from '../../../../src/scenario/loaded.ts';
import { assertGolden } from '../../../helpers/golden.ts';

const cacheDir = join(homedir(), '.cache', 'pathlab');

function catalogue(): LoadedScenario[] {
  return collectScenarioFiles(['scenarios']).files.flatMap((file) => {
    const r = loadScenarioFile(file);
    if (!r.ok) throw new Error(`${file} must load`);
    return [{ file, scenario: r.scenario, expected: r.expected, files: r.files }];
  });
}
const forKind = () => catalogue().filter((s) => kindUnsupported(s.scenario) === undefined);

async function run(args: string[]) {
  const io = bufferIo();
  const code = await main(args, io);
  return { code, out: io.stdout(), err: io.stderr() };
}

test('run --backend kind --dry-run prints the reviewed plan of the catalogue\'s kind scenarios', async (t) => {
  const r = await run(['run', '--backend', 'kind', '--dry-run']);
  t.is(r.code, 0, r.err);
  t.regex(r.err, /plan of 25 scenario\(s\) on kind; 19 skipped \(not for kind\)/);
  // Each scenario left out is named with why.
  const skipped = r.err.split('\n').filter((l) => l.startsWith('skipped '));
  t.is(skipped.length, 19);
  t.true(skipped.includes('skipped incident-7000-outage-legacy: the kind lab installs current Istio (1.30.3 or 1.29.2); this scenario\'s lab is Istio 1.5'), skipped.join('\n'));
  t.true(skipped.some((l) => /^skipped traffic-types-sidecar-to-istiod: kindnet masquerades pod traffic/.test(l)));
  assertGolden(t, 'kind-run-plan.txt', r.out);
});

test('the catalogue names kind for current-Istio scenarios only, each other one saying why not; their listeners are waited for', (t) => {
  const names = forKind().map((s) => s.scenario.metadata.name);
  t.is(names.length, 25, names.join(' '));
  t.true(names.includes('incident-7000-outage-current') && names.includes('bookinfo-productpage-details') && names.includes('istiod-app-protocol'));
  // Seed 002's echo host and seed 000/001's HTTP host run beside the cluster.
  t.true(names.includes('injection-annotation-include-outbound-ports') && names.includes('traffic-types-remote-to-local') && names.includes('ports-source-127-0-0-6'));
  for (const s of catalogue()) {
    if (s.scenario.lab.istio.version !== 'current') t.regex(kindUnsupported(s.scenario) ?? '', /^the kind lab installs current Istio \(1\.30\.3 or 1\.29\.2\); this scenario's lab is Istio /);
    else if (!names.includes(s.scenario.metadata.name)) t.regex(kindUnsupported(s.scenario) ?? '', /^(kindnet masquerades pod traffic to addresses outside the cluster|its external hosts .* are HTTPS servers|its expected listeners are named by the pods' addresses|its reply expectation .* is the netns lab's Bookinfo stand-in's answer)/, s.scenario.metadata.name);
  }
  const outage = forKind().find((s) => s.scenario.metadata.name === 'incident-7000-outage-current')!;
  t.deepEqual([...expectedListeners(outage)], [['app', { expected: ['virtualOutbound', '0.0.0.0_7000'], absent: [] }]]);
});

const plans: Record<string, () => KindRunSection[]> = {
  'a new lab': () => planKindRun({ scenarios: forKind(), id: 'a1b2c3', pins: kindPins('linux-amd64'), cacheDir }),
  'a running lab, --check-fault': () => planKindRun({ scenarios: forKind(), id: 'a1b2c3', pins: kindPins('linux-amd64'), cacheDir, existing: { context: 'kind-pathlab-a1b2c3' }, checkFault: true }),
};
const commands = (sections: KindRunSection[]) => sections.flatMap((s) => s.steps.flatMap((st) => (st.kind === 'run' ? [st.argv] : [])));

for (const [name, plan] of Object.entries(plans)) {
  test(`run plan (${name}): every kubectl and istioctl call names the lab's context`, (t) => {
    const calls = commands(plan()).filter((a) => a[0] === 'kubectl' || a[0]!.endsWith('/istioctl'));
    t.true(calls.length > 5);
    for (const a of calls) t.true(a.includes('kind-pathlab-a1b2c3'), a.join(' '));
  });

  test(`run plan (${name}): every probe is traced, captured, controlled, and its TRACE rule removed`, (t) => {
    // A connection probe's section (a pod-state probe, iptables-save or ss, only reads the pod).
    const probes = plan().filter((s) => / probe /.test(s.title) && s.steps.some((st) => st.kind === 'exec' && st.what.startsWith('the probe: ')));
    t.true(probes.length >= 4);
    for (const p of probes) {
      const argvs = p.steps.map((st) => (st.kind === 'run' || st.kind === 'exec' ? st.argv.join(' ') : ''));
      const adds = argvs.filter((a) => a.includes('-j TRACE') && a.includes(' -I '));
      const removes = argvs.filter((a) => a.includes('-j TRACE') && a.includes(' -D '));
      t.is(adds.length, removes.length, p.title);
      t.true(argvs.some((a) => a.includes('xtables-monitor --trace')), p.title);
      t.true(argvs.some((a) => a.includes('tcpdump -i eth0 -nn')), p.title);
      t.true(argvs.some((a) => a.includes('-S 1337 -G 1337')), `${p.title}: the positive control`);
      t.true(p.steps.some((st) => st.kind === 'exec' && st.what.startsWith('the probe: ')), p.title);
    }
  });

  test(`run plan (${name}): each setup is reverted, in reverse, and a namespace it made goes with it`, (t) => {
    const sections = plan();
    for (const setup of sections.filter((s) => s.title.endsWith(': setup'))) {
      const revert = sections.find((s) => s.title === setup.title.replace(/: setup$/, ': revert'))!;
      const applied = setup.steps.filter((st) => st.kind === 'run' && st.argv.includes('apply')).map((st) => (st.kind === 'run' ? st.input : ''));
      const deleted = revert.steps.filter((st) => st.kind === 'run' && st.argv.includes('delete')).map((st) => (st.kind === 'run' ? st.input : ''));
      t.deepEqual(deleted, [...applied].reverse(), setup.title);
    }
    const se = sections.find((s) => s.title === 'scenario incident-7000-tcp-serviceentry-no-address: setup')!;
    const input = se.steps.find((st) => st.kind === 'run' && st.argv.includes('apply'));
    t.regex(input?.kind === 'run' ? input.input ?? '' : '', /kind: Namespace\nmetadata:\n {2}name: ops/);
  });
}

test('run plan on a running lab: no lab up, no lab down; --check-fault runs each changed scenario twice', (t) => {
  const sections = plans['a running lab, --check-fault']!();
  t.false(sections.some((s) => s.title.startsWith('lab up') || s.title === 'lab down'));
  const without = sections.filter((s) => s.title.includes('(without its change): setup'));
  t.is(without.length, forKind().filter((s) => modesOf(s.scenario, true).length === 2).length);
  t.is(without.length, 10);
  // Without its change, the fault's own apply is left out: registry-only's setup runs nothing.
  const ro = sections.find((s) => s.title === 'scenario incident-7000-registry-only-7003 (without its change): setup')!;
  t.false(ro.steps.some((st) => st.kind === 'run'));
});

test('run --backend kind: guard and option mistakes are bad input (exit 2), before anything runs', async (t) => {
  const a = await run(['run', '--backend', 'kind', '--dry-run', '--i-know-this-is-not-a-lab']);
  t.is(a.code, 2);
  t.regex(a.err, /needs the context it applies to: --context <name>/);
  const b = await run(['run', '--dry-run']);
  t.is(b.code, 2);
  t.regex(b.err, /--dry-run: not an option of the netns backend/);
  const c = await run(['run', '--backend', 'kind', '--dry-run', '--lab-id', 'Not_An_Id']);
  t.is(c.code, 2);
  const d = await run(['run', '--backend', 'kind', '--dry-run', '--filter', 'incident-7000-outage-legacy']);
  t.is(d.code, 2);
  t.regex(d.err, /no selected scenario can run on kind \(1 skipped: the kind lab installs current Istio \(1\.30\.3 or 1\.29\.2\); this scenario's lab is Istio 1\.5\)/);
});

test('a scenario that names kind must be current Istio and must not ask for a uid: refused when loaded', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pathlab-kind-'));
  try {
    const text = readFileSync('scenarios/incident-7000/outage-current.yaml', 'utf8')
      .replace("version: current", "version: '1.5'")
      .replace("    from:\n      pod: app\n", "    from:\n      pod: app\n      uid: 1000\n");
    writeFileSync(join(dir, 's.yaml'), text);
    const r = loadScenarioFile(join(dir, 's.yaml'));
    t.false(r.ok);
    const messages = r.ok ? [] : r.problems.map((p) => p.message);
    t.true(messages.some((m) => /the kind backend runs current Istio; this lab asks for Istio 1\.5/.test(m)), messages.join('\n'));
    t.true(messages.some((m) => /from\.uid cannot be honoured/.test(m)), messages.join('\n'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('run --backend kind --dry-run --context: the user\'s context is named on every call, no lab is made', async (t) => {
  const r = await run(['run', '--backend', 'kind', '--dry-run', '--context', 'kind-workshop', '--i-know-this-is-not-a-lab', '--filter', 'incident-7000-outage-current']);
  t.is(r.code, 0, r.err);
  t.false(r.out.includes('kind create cluster'));
  t.false(r.out.includes('kind delete cluster'));
  t.true(r.out.includes('kubectl --context kind-workshop apply --server-side'));
  // Every kubectl call, the setup's too, names that context.
  t.false(/kubectl --context (?!kind-workshop )/.test(r.out));
  // A context that is not a kind cluster is the cluster backend's.
  const staging = await run(['run', '--backend', 'kind', '--dry-run', '--context', 'staging', '--i-know-this-is-not-a-lab']);
  t.is(staging.code, 2);
  t.regex(staging.err, /--context staging: not a kind cluster .* use --backend cluster --context staging/);
});

test('run plan with two lab groups: each group has its own removal, so the second group\'s objects and mesh config go too', (t) => {
  const [a] = forKind();
  const b = { ...a!, file: 'scenarios/x/other.yaml', scenario: { ...a!.scenario, metadata: { ...a!.scenario.metadata, name: 'other-lab' }, lab: { ...a!.scenario.lab, meshConfig: { outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' as const } } } } };
  const sections = planKindRun({ scenarios: [a!, b], id: 'a1b2c3', pins: kindPins('linux-amd64'), cacheDir, existing: { context: 'kind-pathlab-a1b2c3' } });
  const removals = sections.filter((s) => s.title.endsWith(': remove'));
  t.is(removals.length, 2);
  t.is(new Set(removals.map((s) => s.title)).size, 2, 'distinct titles: the backend finds each group\'s own');
  const second = removals.find((s) => s.title.includes('other-lab'))!;
  t.true(second.steps.some((st) => st.kind === 'run' && st.argv.includes('delete')));
  t.true(second.steps.some((st) => st.kind === 'run' && st.what === 'restore the lab\'s mesh config'), 'the REGISTRY_ONLY group restores the mesh config');
});

test('run --backend kind --istio-version 1.29 --dry-run installs Istio 1.29.2: its archive, by its published sha256; every other line as the default plan', async (t) => {
  const now = await run(['run', '--backend', 'kind', '--dry-run']);
  const prev = await run(['run', '--backend', 'kind', '--dry-run', '--istio-version', '1.29']);
  t.is(prev.code, 0, prev.err);
  const pins = kindPins('linux-amd64', '1.29.2');
  t.is(pins.istioctl.sha256, '904bbf1b917dd0135aa55b99cbfa34edd0a188fdeeeef09bb995d8e8e3165112');
  t.true(prev.out.includes('download https://github.com/istio/istio/releases/download/1.29.2/istio-1.29.2-linux-amd64.tar.gz'), prev.out.slice(0, 600));
  t.true(prev.out.includes(pins.istioctl.sha256));
  t.regex(prev.out, /^\d+\. install Istio 1\.29\.2$/m);
  t.false(prev.out.includes('1.30.3'), 'nothing of the default release is left');
  const a = now.out.split('\n');
  const b = prev.out.split('\n');
  t.is(a.length, b.length);
  const differing = a.flatMap((line, i): Array<[string, string]> => (line === b[i] ? [] : [[line, b[i]!]]));
  t.true(differing.length > 0);
  const pinned = kindPins('linux-amd64');
  for (const [x, y] of differing) t.is(y.replaceAll('1.29.2', '1.30.3').replace(pins.istioctl.sha256, pinned.istioctl.sha256), x);
  // The same through its full release name, and `current` is the default.
  t.is((await run(['run', '--backend', 'kind', '--dry-run', '--istio-version', '1.29.2'])).out, prev.out);
  t.is((await run(['run', '--backend', 'kind', '--dry-run', '--istio-version', 'current'])).out, now.out);
});

test('run --backend kind --istio-version: an unpinned release is refused with the pinned ones; a running lab keeps its Istio', async (t) => {
  const r = await run(['run', '--backend', 'kind', '--dry-run', '--istio-version', '1.28']);
  t.is(r.code, 2);
  t.regex(r.err, /--istio-version 1\.28: the kind backend installs a pinned Istio release: 1\.30\.3, 1\.29\.2/);
  const lab = await run(['run', '--backend', 'kind', '--dry-run', '--istio-version', '1.29', '--lab-id', 'a1b2c3']);
  t.is(lab.code, 2);
  t.regex(lab.err, /a running lab or cluster has the Istio it was given/);
  const up = await run(['lab', 'up', '--backend', 'kind', '--dry-run', '--istio-version', '1.29']);
  t.is(up.code, 0, up.err);
  t.regex(up.out, /^pinned: Istio 1\.29\.2, istioctl from https:\/\/github\.com\/istio\/istio\/releases\/download\/1\.29\.2\//m);
});
