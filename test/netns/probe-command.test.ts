// `pathlab probe LAB-ID SCENARIO [PROBE]` on labs `pathlab lab up --scenario` made: the scenario's
// probes run again and again in the same lab (its setup applied and reverted each time, here one
// that restarts a sidecar in TPROXY mode), one probe by name, and the lab is left up.
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { LAB_STATE_DIR, listLabNamespaces, removeLab } from '../../src/lab/netns/netns-lab.ts';
import { NEEDS_ROOT, netnsTest } from '../helpers/caps.ts';

const pathlab = (...args: string[]) => spawnSync(process.execPath, ['bin/pathlab.js', ...args], { encoding: 'utf8', timeout: 180_000 });
const created: string[] = [];
test.after.always(async () => {
  for (const id of created) await removeLab(id);
});

function labUp(scenario: string): string {
  const up = pathlab('lab', 'up', '--scenario', scenario);
  const id = /pathlab lab down ([0-9a-f]{6})/.exec(up.stdout)?.[1];
  if (!id) throw new Error(`lab up --scenario ${scenario} gave no lab: ${up.stderr}`);
  created.push(id);
  return id;
}

netnsTest(`${NEEDS_ROOT} probe runs a scenario's probes twice in one kept lab (setup that restarts a sidecar in TPROXY, applied and reverted each time), one probe by name, and leaves the lab up`, async (t) => {
  const scenario = 'scenarios/injection/tproxy-inbound.yaml';
  const id = labUp(scenario);
  for (const round of [1, 2]) {
    const r = pathlab('probe', id, scenario);
    t.is(r.status, 0, `round ${round}: ${r.stdout.slice(-2000)}${r.stderr}`);
    t.regex(r.stdout, /1 scenario: 1 passed/);
  }
  const one = pathlab('probe', id, scenario, 'tproxy-path-keeps-the-callers-address');
  t.is(one.status, 0, one.stdout + one.stderr);
  t.regex(one.stdout, /\(1 probe\)/, 'only the probe named');
  t.true((await listLabNamespaces()).has(id), 'the lab is still up');
});

netnsTest(`${NEEDS_ROOT} probe: an unknown lab, an unknown probe, or a scenario of another lab is bad input (exit 2), and runs nothing`, (t) => {
  const id = labUp('scenarios/incident-7000/outage-legacy.yaml');
  const noLab = pathlab('probe', 'abcdef', 'scenarios/incident-7000/outage-legacy.yaml');
  t.is(noLab.status, 2);
  t.regex(noLab.stderr, /no netns lab abcdef/);
  const noProbe = pathlab('probe', id, 'scenarios/incident-7000/outage-legacy.yaml', 'nosuch');
  t.is(noProbe.status, 2);
  t.regex(noProbe.stderr, /has no probe "nosuch" \(probes: /);
  const other = pathlab('probe', id, 'scenarios/incident-7000/outage-current.yaml');
  t.is(other.status, 2);
  t.regex(other.stderr, /its lab is not the definition lab [0-9a-f]{6} was made from/);
});

netnsTest(`${NEEDS_ROOT} probe refuses a lab another command holds, and one a command left with its setup applied (exit 2, saying which pid)`, (t) => {
  const scenario = 'scenarios/incident-7000/outage-current.yaml';
  const id = labUp(scenario);
  // Another command holds it (this test process, alive, plays it).
  writeFileSync(join(LAB_STATE_DIR, id, 'holder.pid'), `${process.pid}\n`);
  const held = pathlab('probe', id, scenario);
  t.is(held.status, 2, held.stdout + held.stderr);
  t.regex(held.stdout + held.stderr, new RegExp(`lab ${id} is in use by pid ${process.pid}`));
  rmSync(join(LAB_STATE_DIR, id, 'holder.pid'));
  // The command that made it still runs (a run --keep-lab between two scenarios: its record names it, it holds no file).
  const file = join(LAB_STATE_DIR, `${id}.json`);
  const kept = readFileSync(file, 'utf8');
  writeFileSync(file, JSON.stringify({ ...(JSON.parse(kept) as object), ownerPid: process.pid }));
  const owned = pathlab('probe', id, scenario);
  t.is(owned.status, 2, owned.stdout + owned.stderr);
  t.regex(owned.stdout + owned.stderr, new RegExp(`lab ${id} is in use by pid ${process.pid}, the command that made it`));
  writeFileSync(file, kept);
  // A command applied a setup and never reverted it (it was killed).
  writeFileSync(file, JSON.stringify({ ...(JSON.parse(readFileSync(file, 'utf8')) as object), changedBy: 4242 }));
  const changed = pathlab('probe', id, scenario);
  t.regex(changed.stdout + changed.stderr, new RegExp(`lab ${id} was left with a scenario's setup applied \\(by pid 4242`));
  t.is(changed.status, 2);
});
