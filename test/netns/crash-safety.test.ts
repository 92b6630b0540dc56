// Crash safety: `pathlab lab up` killed with SIGKILL at 10 moments spread over its run, each
// followed by `pathlab lab down --all`, leaves no namespace, link, /etc/netns entry, record or
// process behind. The labs here use their own prefix (PATHLAB_PREFIX), so `--all` cannot touch
// the labs of test files running beside this one.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import test from 'ava';
import { NEEDS_ROOT, netnsTest } from '../helpers/caps.ts';

const PREFIX = 'plk';
const env = { ...process.env, PATHLAB_PREFIX: PREFIX };
const STATE = `/run/pathlab/${PREFIX}`;

function pathlab(args: string[]) {
  return spawnSync(process.execPath, ['bin/pathlab.js', ...args], { env, encoding: 'utf8', timeout: 60_000 });
}

function leftovers(): string[] {
  const out: string[] = [];
  const ns = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
  for (const line of ns.split('\n')) if (line.startsWith(`${PREFIX}-`)) out.push(`namespace ${line.split(' ')[0]}`);
  for (const e of existsSync('/etc/netns') ? readdirSync('/etc/netns') : []) if (e.startsWith(`${PREFIX}-`)) out.push(`/etc/netns/${e}`);
  for (const e of existsSync(STATE) ? readdirSync(STATE) : []) if (e !== 'agents' && e !== 'envoy') out.push(`${STATE}/${e}`); // shared by every lab: the bundled agents, the Envoy copy
  const ps = spawnSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' }).stdout;
  for (const line of ps.split('\n')) if (line.includes(`${STATE}/`) || line.includes(`${PREFIX}-`)) out.push(`process ${line.trim()}`);
  const links = spawnSync('ip', ['-o', 'link'], { encoding: 'utf8' }).stdout;
  for (const line of links.split('\n')) if (line.includes(`${PREFIX}`)) out.push(`host link ${line}`);
  return out.filter((l) => !l.includes('ps -eo'));
}

test.after.always(() => {
  pathlab(['lab', 'down', '--all']);
});

netnsTest(`${NEEDS_ROOT} SIGKILL at 10 moments of lab up, then lab down --all: nothing of a lab remains`, async (t) => {
  t.timeout(180_000);
  const hostLinks = spawnSync('ip', ['-o', 'link'], { encoding: 'utf8' }).stdout;
  // How long a whole `lab up` takes here: the kill moments are spread over it.
  const full = pathlab(['lab', 'up']);
  t.is(full.status, 0, full.stderr);
  const total = Number(/is up in ([\d.]+) s/.exec(full.stdout)?.[1] ?? '2') * 1000 + 600; // + CLI start-up
  t.is(pathlab(['lab', 'down', '--all']).status, 0);
  t.deepEqual(leftovers(), []);
  // Deterministic moments (a fixed pseudo-random sequence), from just after spawn to the end.
  let seed = 7;
  const moments = Array.from({ length: 10 }, () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return Math.round(100 + (seed / 2 ** 31) * total);
  }).sort((a, b) => a - b);
  let sawPartial = 0;
  for (const ms of moments) {
    const child = spawn(process.execPath, ['bin/pathlab.js', 'lab', 'up'], { env, stdio: 'ignore' });
    const closed = new Promise((r) => child.on('close', r));
    await new Promise((r) => setTimeout(r, ms));
    child.kill('SIGKILL');
    await closed;
    // Give processes the run had started a moment to appear, as they would after a real crash.
    await new Promise((r) => setTimeout(r, 50));
    if (leftovers().length > 0) sawPartial++;
    const down = pathlab(['lab', 'down', '--all']);
    t.is(down.status, 0, down.stderr);
    t.deepEqual(leftovers(), [], `after a SIGKILL at ${ms} ms`);
  }
  t.log(`killed at ${moments.join(', ')} ms; ${sawPartial} of 10 kills left a half-made lab for lab down --all`);
  t.true(sawPartial >= 5, 'most kills must land while the lab is being made, or the test proves little');
  t.is(spawnSync('ip', ['-o', 'link'], { encoding: 'utf8' }).stdout, hostLinks, 'the host namespace has the same links');
});

netnsTest(`${NEEDS_ROOT} SIGTERM and SIGINT during lab up: the command tears down what it made before it exits`, async (t) => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    const child = spawn(process.execPath, ['bin/pathlab.js', 'lab', 'up'], { env, stdio: 'ignore' });
    const closed = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    // Wait until the lab is half-made (its namespaces exist), then signal.
    for (let i = 0; i < 400 && !leftovers().some((l) => l.startsWith('namespace')); i++) await new Promise((r) => setTimeout(r, 10));
    t.true(leftovers().some((l) => l.startsWith('namespace')), 'the lab was being made');
    child.kill(signal);
    const code = await closed;
    t.is(code, signal === 'SIGINT' ? 130 : 143);
    t.deepEqual(leftovers(), [], `after ${signal}, without lab down`);
  }
});

test(`lab up without root: exit 3 and how to get it`, (t) => {
  const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, 'bin/pathlab.js', 'lab', 'up'], { encoding: 'utf8', timeout: 60_000 });
  if (r.error) return t.fail(String(r.error));
  t.is(r.status, 3, r.stderr);
  t.regex(r.stderr, /netns backend needs root \(CAP_NET_ADMIN\): run with sudo/);
});
