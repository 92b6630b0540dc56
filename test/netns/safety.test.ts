// A root tool on a shared machine, tried as a hostile user would (issue 12): it never deletes
// what is not a lab of its own, and a taken lab id is refused before anything is made.
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import test from 'ava';
import { listLabNamespaces, netnsLab, removeLab } from '../../src/lab/netns/netns-lab.ts';
import type { Backend, StartedBackend } from '../../src/run/backend.ts';
import { runScenarios } from '../../src/run/runner.ts';
import { loadScenarioFile } from '../../src/scenario/loader.ts';
import type { LabSpec } from '../../src/scenario/schema.ts';
import { TOOLS } from '../../src/probes/index.ts';
import { NEEDS_ROOT, netnsTest } from '../helpers/caps.ts';
import { netnsBackendWith, netnsLabOf } from '../helpers/netns-backend.ts';

const pathlab = (...args: string[]) => spawnSync(process.execPath, ['bin/pathlab.js', ...args], { encoding: 'utf8', timeout: 60_000 });

function smallLab(): LabSpec {
  const r = loadScenarioFile('scenarios/incident-7000/outage-legacy.yaml');
  if (!r.ok) throw new Error('the catalogue scenario must load');
  return { ...r.scenario.lab, pods: r.scenario.lab.pods.map((p) => ({ ...p, meshed: false })), externalHosts: [] };
}

const created: string[] = [];
test.after.always(async () => {
  for (const id of created) await removeLab(id);
});

netnsTest(`${NEEDS_ROOT} lab down refuses what is not a lab id, and an id no lab has: nothing is removed (exit 2)`, (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pathlab-victim-'));
  const victim = join(dir, 'x');
  writeFileSync(victim, 'keep');
  writeFileSync(`${victim}.json`, 'keep');
  try {
    for (const id of [`../../../..${victim}`, '.', '', '../..', 'ffffff\n', 'FFFFFF']) {
      const r = pathlab('lab', 'down', id);
      t.is(r.status, 2, `lab down ${JSON.stringify(id)}: ${r.stdout}${r.stderr}`);
      t.regex(r.stderr, /not a lab id/);
      t.false(r.stderr.includes('at '), 'no stack trace');
    }
    t.true(existsSync(victim) && existsSync(`${victim}.json`), 'the files named by the path are still there');
    const unknown = pathlab('lab', 'down', 'ffffff');
    t.is(unknown.status, 2);
    t.regex(unknown.stderr, /no lab ffffff/);
    t.false(unknown.stdout.includes('removed'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

netnsTest(`${NEEDS_ROOT} lab up --lab-id of a running lab is refused before anything is made, and the running lab is untouched; a 500ms probe's nc runs`, async (t) => {
  const lab = await netnsLab(smallLab()).start();
  created.push(lab.id);
  const before = (await listLabNamespaces()).get(lab.id)?.length ?? 0;
  t.true(before > 0);
  try {
    const r = pathlab('lab', 'up', '--scenario', 'scenarios/incident-7000/outage-legacy.yaml', '--lab-id', lab.id);
    t.is(r.status, 2, r.stdout + r.stderr);
    t.regex(r.stderr, new RegExp(`lab id ${lab.id} is taken`));
    t.false(r.stderr.includes('    at '), 'no stack trace');
    t.is((await listLabNamespaces()).get(lab.id)?.length ?? 0, before, 'every namespace of the running lab is still there');
    const probe = await lab.run('app', ['ip', '-br', 'addr', 'show', 'eth0']);
    t.regex(probe.stdout, /10\.64\.192\.14/);
    // The documented `500ms` timeout gives an nc command netcat-openbsd accepts (it refused `-w 0.5`).
    const nc = TOOLS.nc.argv({ target: { ip: '127.0.0.1', port: 1, name: '127.0.0.1' }, timeoutMs: 500 });
    const r500 = await lab.run('app', nc.argv, { timeoutMs: 5000 });
    t.regex(r500.stderr, /connect to 127\.0\.0\.1 port 1 \(tcp\) failed: Connection refused/, r500.stderr);
  } finally {
    await lab.stop();
  }
});

/**
 * The netns backend, with the app pod's Envoy killed when `when` says (after the lab is up, or
 * after the setup): the Envoy the lab started (the model's file-based xDS), or the one pilot-agent
 * started (istiod's), found as pilot-agent's child.
 */
function killingSidecar(when: 'start' | 'setup'): Backend {
  const kill = (lab: StartedBackend) => {
    const sidecar = netnsLabOf(lab).processes.find((p) => p.host === 'app' && (p.what === 'envoy' || p.what === 'istio-proxy'))!;
    const envoy = sidecar.what === 'envoy' ? sidecar.pid : Number(spawnSync('pgrep', ['-P', String(sidecar.pid), '-x', 'envoy'], { encoding: 'utf8' }).stdout.trim().split('\n')[0]);
    if (!(envoy > 0)) throw new Error(`no Envoy under the app's ${sidecar.what} (pid ${sidecar.pid})`);
    process.kill(envoy, 'SIGKILL');
  };
  return netnsBackendWith(created, (lab) => {
    if (when === 'start') kill(lab);
    else {
      const apply = lab.applySetup.bind(lab);
      lab.applySetup = async (...a) => {
        const r = await apply(...a);
        kill(lab);
        return r;
      };
    }
  });
}

for (const [file, process_, how] of [
  ['scenarios/incident-7000/outage-legacy.yaml', 'envoy', 'the model, file-based xDS'],
  ['scenarios/incident-7000/outage-current.yaml', 'istio-proxy', 'istiod, pilot-agent running Envoy'],
] as const) {
  netnsTest(`${NEEDS_ROOT} a sidecar whose Envoy died is the reason its probes fail (or its setup), with its log, never a path difference (${how})`, async (t) => {
    const r = loadScenarioFile(file);
    if (!r.ok) throw new Error('the catalogue scenario must load');
    const dead = new RegExp(`^the ${process_} of app \\(pid \\d+\\) is not running`);
    const afterSetup = (await runScenarios(killingSidecar('setup'), [r], { checkFault: false, keepLab: false })).results[0]!;
    t.true(afterSetup.probes.length > 0);
    for (const p of afterSetup.probes) {
      t.is(p.status, 'failed');
      t.regex(p.reason ?? '', dead, p.reason);
    }
    const beforeSetup = (await runScenarios(killingSidecar('start'), [r], { checkFault: false, keepLab: false })).results[0]!;
    t.is(beforeSetup.status, 'failed');
    t.regex(beforeSetup.reason ?? '', dead, beforeSetup.reason);
    // pilot-agent's own words that its Envoy died, or the lab's, if it looked first.
    if (process_ === 'istio-proxy') t.regex(beforeSetup.reason ?? '', /Envoy exited|its Envoy is gone/);
  });
}

netnsTest(`${NEEDS_ROOT} pathlab run from a checkout in a mode-700 folder (as /root and many homes are) passes: nothing the proxy uid runs is read from it`, (t) => {
  const outer = mkdtempSync(join(tmpdir(), 'pathlab-private-'));
  try {
    chmodSync(outer, 0o700);
    const checkout = join(outer, 'istio-pathlab');
    const files = spawnSync('git', ['ls-files'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
    for (const f of files) cpSync(f, join(checkout, f), { recursive: true });
    symlinkSync(resolve('node_modules'), join(checkout, 'node_modules'));
    const run = spawnSync(process.execPath, ['bin/pathlab.js', 'run', 'scenarios/incident-7000/outage-legacy.yaml', 'scenarios/bookinfo/productpage-details.yaml'], { cwd: checkout, encoding: 'utf8', timeout: 120_000 });
    t.is(run.status, 0, run.stdout + run.stderr);
    t.regex(run.stdout, /2 scenarios: 2 passed/);
  } finally {
    rmSync(outer, { recursive: true, force: true });
  }
});
