// The kind lab plan: the printed --dry-run plan against reviewed goldens, and properties
// every plan must have (explicit context on every kubectl/istioctl call, the lab label on
// every object, a rollout wait per Deployment, images pinned), and the refusal to start
// while a required pin is UNPINNED.
import { homedir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { kindLabCommands } from '../../../../src/lab/kind/lab-commands.ts';
import { BackendInputError } from '../../../../src/run/backend.ts';
import { bufferIo } from '../../../../src/cli/io.ts';
import { main } from '../../../../src/cli/main.ts';
import type { CliContext } from '../../../../src/cli/context.ts';
import { KindEnvironmentError, kindLab, readLabFiles } from '../../../../src/lab/kind/kind-lab.ts';
import { planKindLab } from '../../../../src/lab/kind/plan.ts';
import { UNPINNED, imageRef, kindPins } from '../../../../src/lab/kind/versions.ts';
import { loadScenarioFile } from '../../../../src/scenario/loader.ts';
import { assertGolden } from '../../../helpers/golden.ts';

const cacheDir = join(homedir(), '.cache', 'pathlab');
const labs = kindLabCommands(cacheDir);

function cli(): CliContext & { io: ReturnType<typeof bufferIo>; code: () => number } {
  const io = bufferIo();
  let code = 0;
  return { io, exit: (c) => void (code = Math.max(code, c)), code: () => code };
}

function catalogueScenario() {
  const r = loadScenarioFile('scenarios/incident-7000/outage-legacy.yaml');
  if (!r.ok) throw new Error('catalogue scenario must load');
  return r.scenario;
}

test('lab up --dry-run prints the reviewed plan', async (t) => {
  const ctx = cli();
  await labs.up({ dryRun: true }, ctx.io);
  t.is(ctx.io.stderr(), '', 'no UNPINNED warnings for the required pins');
  assertGolden(t, 'kind-lab-up-plan.txt', ctx.io.stdout());
});

test('lab up --dry-run is stable: the same text twice, no random id', async (t) => {
  const a = cli();
  const b = cli();
  await labs.up({ dryRun: true }, a.io);
  await labs.up({ dryRun: true }, b.io);
  t.is(a.io.stdout(), b.io.stdout());
  t.regex(a.io.stdout(), /pathlab-dryrun/);
});

test('lab down --dry-run prints the reviewed plan', async (t) => {
  const ctx = cli();
  await labs.down({ ids: ['a1b2c3'], dryRun: true }, ctx.io);
  assertGolden(t, 'kind-lab-down-plan.txt', ctx.io.stdout());
});

test('lab down without an id or --all is bad input', async (t) => {
  await t.throwsAsync(labs.down({ ids: [] }, cli().io), { instanceOf: BackendInputError });
  const io = bufferIo();
  t.is(await main(['lab', 'down', '--backend', 'kind'], io), 2);
  t.regex(io.stderr(), /say which lab/);
});

test('lab up --lab-id must be a DNS-label-like id', async (t) => {
  await t.throwsAsync(labs.up({ dryRun: true, labId: 'Bad_ID' }, cli().io), { instanceOf: BackendInputError });
  const io = bufferIo();
  t.is(await main(['lab', 'up', '--backend', 'kind', '--dry-run', '--lab-id', 'Bad_ID'], io), 2);
});

test('lab up --backend kind refuses what it cannot honour: an Istio era it does not install, a Lab file', async (t) => {
  const io = bufferIo();
  t.is(await main(['lab', 'up', '--backend', 'kind', '--dry-run', '--istio-version', '1.5'], io), 2);
  t.regex(io.stderr(), /--istio-version 1\.5: the kind backend installs a pinned Istio release: 1\.30\.3, 1\.29\.2/);
  const lab = bufferIo();
  t.is(await main(['lab', 'up', '--backend', 'kind', '--dry-run', '--lab', 'labs/netns/bookinfo.yaml'], lab), 2);
  t.regex(lab.stderr(), /--lab: not an option of the kind backend/);
});

const plans = {
  base: () => planKindLab({ id: 'a1b2c3', pins: kindPins('linux-amd64'), labFiles: readLabFiles(), cacheDir: '/c' }),
  'with the catalogue scenario': () =>
    planKindLab({ id: 'a1b2c3', pins: kindPins('linux-amd64'), labFiles: readLabFiles(), cacheDir: '/c', scenario: catalogueScenario() }),
};

for (const [name, make] of Object.entries(plans)) {
  test(`plan (${name}): every kubectl and istioctl call names the lab's context`, (t) => {
    for (const s of make().steps) {
      if (s.kind !== 'run') continue;
      const tool = s.argv[0]!;
      if (tool === 'kubectl' || tool.endsWith('/istioctl')) t.true(s.argv.includes('--context') && s.argv[s.argv.indexOf('--context') + 1] === 'kind-pathlab-a1b2c3', s.argv.join(' '));
      if (tool === 'kind') t.true(s.argv.includes('pathlab-a1b2c3'), s.argv.join(' '));
    }
  });

  test(`plan (${name}): every object carries the lab label, pod templates too`, (t) => {
    for (const m of make().manifests) {
      if (m.name === 'istio-operator.yaml') continue;
      for (const o of m.objects) {
        t.is(o.metadata.labels?.['pathlab.dev/lab'], 'a1b2c3', `${m.name} ${o.kind}/${o.metadata.name}`);
        const tpl = (o.spec as { template?: { metadata?: { labels?: Record<string, string> } } } | undefined)?.template;
        if (tpl) t.is(tpl.metadata?.labels?.['pathlab.dev/lab'], 'a1b2c3');
      }
    }
  });

  test(`plan (${name}): one rollout wait per Deployment, after every apply`, (t) => {
    const p = make();
    const deployments = p.manifests.flatMap((m) => m.objects).filter((o) => o.kind === 'Deployment');
    const waits = p.steps.filter((s) => s.kind === 'run' && s.argv.includes('rollout') && !s.argv.includes('deployment/istiod'));
    t.is(waits.length, deployments.length);
    const lastApply = p.steps.map((s) => s.kind === 'run' && s.argv.includes('apply')).lastIndexOf(true);
    t.true(p.steps.indexOf(waits[0]!) > lastApply);
  });

  test(`plan (${name}): every container image is a pinned reference`, (t) => {
    const pinned = new Set(Object.values(kindPins('linux-amd64').images).map(imageRef));
    for (const o of make().manifests.flatMap((m) => m.objects)) {
      const cs = (o.spec as { template?: { spec?: { containers?: Array<{ image: string }> } } } | undefined)?.template?.spec?.containers ?? [];
      for (const c of cs) t.true(pinned.has(c.image), c.image);
    }
  });
}

test('plan with the scenario: its pods, Services and ALLOW_ANY reach the cluster', (t) => {
  const p = plans['with the catalogue scenario']();
  const objs = p.manifests.find((m) => m.name === 'scenario:incident-7000-outage-legacy')!.objects;
  t.deepEqual(
    objs.map((o) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`),
    ['Namespace//default', 'Namespace//frontend', 'Deployment/default/app', 'Deployment/frontend/web'],
  );
  const op = p.manifests.find((m) => m.name === 'istio-operator.yaml')!.objects[0]!;
  t.like((op.spec as { meshConfig: object }).meshConfig, { accessLogFile: '/dev/stdout', outboundTrafficPolicy: { mode: 'ALLOW_ANY' } });
  t.regex((op.spec as { meshConfig: { accessLogFormat: string } }).meshConfig.accessLogFormat, / %FILTER_CHAIN_NAME%$/);
});

test('a REGISTRY_ONLY lab installs Istio with REGISTRY_ONLY', (t) => {
  const s = catalogueScenario();
  const p = planKindLab({
    id: 'a1b2c3',
    pins: kindPins('linux-amd64'),
    labFiles: readLabFiles(),
    cacheDir: '/c',
    scenario: { ...s, lab: { ...s.lab, meshConfig: { outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' } } } },
  });
  const write = p.steps.find((x) => x.kind === 'write');
  t.regex(write?.kind === 'write' ? write.content : '', /mode: REGISTRY_ONLY/);
});

test('start() refuses while the node image digest or the istioctl checksum is UNPINNED, before running anything', async (t) => {
  const pins = kindPins('linux-amd64');
  const lab = kindLab()
    .withId('a1b2c3')
    .withPins({ ...pins, nodeImage: { ...pins.nodeImage, digest: UNPINNED }, istioctl: { ...pins.istioctl, sha256: UNPINNED } })
    .withRunner(async (argv) => {
      t.fail(`ran ${argv.join(' ')}`);
      throw new Error('unreachable');
    });
  const e = await t.throwsAsync(lab.start(), { instanceOf: KindEnvironmentError });
  t.regex(e?.message ?? '', /kind node image kindest\/node:v1\.36\.1: pin its digest/);
  t.regex(e?.message ?? '', /istioctl 1\.30\.3: pin the archive's published sha256/);
});

test('kindPins for a platform without a pinned archive is UNPINNED, not a guess', (t) => {
  const p = kindPins('windows-amd64');
  t.is(p.istioctl.sha256, UNPINNED);
  t.is(p.istioctl.url, '');
});

test('lab down --all removes only clusters the guard takes for labs: a cluster named pathlab-* without the label stays', async (t) => {
  const ran: string[][] = [];
  const run = async (argv: readonly string[]) => {
    ran.push([...argv]);
    const stdout = argv[0] === 'kind' && argv[1] === 'get' ? 'pathlab-a1b2c3\npathlab-ffffff\nkind\n' : '';
    return { argv, where: 'host', exitCode: 0, signal: null, stdout, stderr: '', durationMs: 0, timedOut: false };
  };
  // The guard's verdicts, as checkContext would give them: a1b2c3 carries the lab label, ffffff does not.
  const isLab = async (id: string) => (id === 'a1b2c3' ? { allow: true as const, labId: id, reason: 'lab' } : { allow: false as const, reason: 'kube-system has no pathlab.dev/lab label', fix: '' });
  const io = bufferIo();
  await kindLabCommands('/c', run, isLab).down({ ids: [], all: true }, io);
  const deletes = ran.filter((a) => a.includes('delete'));
  t.true(deletes.some((a) => a.includes('pathlab-a1b2c3')));
  t.false(ran.some((a) => a.join(' ').includes('ffffff') && a.includes('delete')));
  t.regex(io.stderr(), /not removing pathlab-ffffff: kube-system has no pathlab\.dev\/lab label/);
  t.regex(io.stdout(), /removed: pathlab-a1b2c3\n/);
});
