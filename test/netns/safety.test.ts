// A root tool on a shared machine, tried as a hostile user would (issue 12): it never deletes
// what is not a lab of its own, and a taken lab id is refused before anything is made.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { listLabNamespaces, netnsLab, removeLab } from '../../src/lab/netns/netns-lab.ts';
import { loadScenarioFile } from '../../src/scenario/loader.ts';
import type { LabSpec } from '../../src/scenario/schema.ts';
import { TOOLS } from '../../src/probes/index.ts';
import { NEEDS_ROOT, netnsTest } from '../helpers/caps.ts';

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
