// pathlab finds its catalogue, default lab and Go source beside itself, not in the current folder:
// run from `/` (where `labs/netns/bookinfo.yaml` and `scenarios/` do not exist), the whole
// catalogue runs, and `lab up` brings up the default lab.
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import test from 'ava';
import { removeLab } from '../../src/lab/netns/netns-lab.ts';
import { shownPath, PACKAGE_ROOT } from '../../src/lab/package-root.ts';
import { NEEDS_ROOT, netnsTest } from '../helpers/caps.ts';

const pathlab = resolve('bin/pathlab.js');
const created: string[] = [];
test.after.always(async () => {
  for (const id of created) await removeLab(id);
});

test('package paths are shown relative inside the checkout, absolute from anywhere else', (t) => {
  t.is(shownPath(`${PACKAGE_ROOT}/labs/netns/bookinfo.yaml`, PACKAGE_ROOT), 'labs/netns/bookinfo.yaml');
  t.is(shownPath(`${PACKAGE_ROOT}/scenarios`, `${PACKAGE_ROOT}/scenarios/incident-7000`), '..');
  t.is(shownPath(`${PACKAGE_ROOT}/scenarios`, '/'), `${PACKAGE_ROOT}/scenarios`);
  t.is(shownPath(`${PACKAGE_ROOT}/scenarios`, '/tmp'), `${PACKAGE_ROOT}/scenarios`);
});

netnsTest(`${NEEDS_ROOT} pathlab run from / runs the whole catalogue; lab up from / brings up the default lab`, (t) => {
  const run = spawnSync(process.execPath, [pathlab, 'run'], { cwd: '/', encoding: 'utf8', timeout: 600_000 });
  t.is(run.status, 0, run.stdout.slice(-3000) + run.stderr.slice(-2000));
  t.regex(run.stdout, /\d+ scenarios: (\d+) passed, 0 failed/);
  t.notRegex(run.stdout + run.stderr, /no such file/);
  const up = spawnSync(process.execPath, [pathlab, 'lab', 'up'], { cwd: '/', encoding: 'utf8', timeout: 120_000 });
  const id = /pathlab lab down ([0-9a-f]{6})/.exec(up.stdout)?.[1];
  if (id) created.push(id);
  t.is(up.status, 0, up.stderr);
  t.truthy(id, up.stdout);
  t.regex(up.stdout + up.stderr, /productpage/, 'the default lab: Bookinfo');
});
