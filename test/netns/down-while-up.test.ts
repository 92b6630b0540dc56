// `pathlab lab down --all` while another command is still bringing a lab up (its sidecars still
// writing into the lab's folder): the lab goes, with nothing left, and down neither crashes nor
// leaves a folder half-removed (it crashed with ENOTEMPTY when a starting pilot-agent wrote into
// the folder as it was removed: a race, which the several moments tried here hit often, not
// always). Under a prefix of this test's own, so no other lab is touched.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import test from 'ava';
import { NEEDS_ROOT, netnsTest } from '../helpers/caps.ts';

const PREFIX = 'plw';
const STATE = `/run/pathlab/${PREFIX}`;
const env = { ...process.env, PATHLAB_PREFIX: PREFIX };
const down = () => spawnSync(process.execPath, ['bin/pathlab.js', 'lab', 'down', '--all'], { env, encoding: 'utf8', timeout: 60_000 });

test.after.always(() => {
  down();
});

netnsTest(`${NEEDS_ROOT} lab down --all while a lab comes up: exit 0, no stack trace, nothing of the lab left`, async (t) => {
  for (const delayMs of [300, 500, 700, 900, 1200]) {
    const up = spawn(process.execPath, ['bin/pathlab.js', 'lab', 'up'], { env, stdio: 'ignore' });
    const upDone = new Promise((r) => up.on('exit', r));
    await new Promise((r) => setTimeout(r, delayMs));
    const r = down();
    t.is(r.status, 0, `after ${delayMs} ms: ${r.stderr}`);
    t.false(r.stderr.includes('    at '), 'no stack trace');
    await upDone;
    down(); // what the interrupted lab up made after the first down
  }
  const labs = existsSync(STATE) ? readdirSync(STATE).filter((e) => e !== 'envoy' && e !== 'agents') : [];
  t.deepEqual(labs, [], 'no lab folder or record is left');
  const namespaces = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n').filter((l) => l.startsWith(`${PREFIX}-`));
  t.deepEqual(namespaces, []);
  // No process survives in a namespace that is gone (a sidecar the starting lab spawned while
  // down ran): none runs this prefix's Envoy copy, none works in its folders.
  const stray = readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(`${STATE}/`) || readlinkSync(`/proc/${pid}/cwd`).startsWith(`${STATE}/`);
      } catch {
        return false;
      }
    });
  t.deepEqual(stray, [], 'no process of the removed labs is left');
});
