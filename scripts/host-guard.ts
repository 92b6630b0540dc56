// Runs a command (the test runner) and proves it left the host alone: the host namespace's
// iptables-save, ip6tables-save and `nft -s list ruleset` (comments and packet counters aside:
// the host's own traffic moves those), its links and its routes must be the same before and
// after; and a lab of another prefix (a sentinel this guard makes: a namespace and a record of
// prefix "zzg") must still be there, untouched by any test's clean-up.
// Exit: the command's own code, or 1 when the host changed or the sentinel was touched.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { systemEnv } from '../src/lab/exec.ts';

const env = systemEnv();
function snapshot(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const argv of [['iptables-save'], ['ip6tables-save'], ['nft', '-s', 'list', 'ruleset'], ['ip', '-o', 'link', 'show'], ['ip', 'route', 'show'], ['ip', '-6', 'route', 'show']]) {
    const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', env });
    out[argv.join(' ')] = r.error ? `(not run: ${r.error.message})` : r.stdout
      .split('\n')
      .filter((l) => !l.startsWith('#'))
      .map((l) => l.replace(/\[\d+:\d+\]/g, '[-:-]'))
      // a link is its index, name and kind: its state and queue may move with the host's own traffic
      .map((l) => (argv[1] === '-o' ? l.replace(/^(\d+: \S+).*?(link\/\S+).*$/, '$1 $2') : l))
      // a route learnt from router advertisements counts its lifetime down
      .map((l) => l.replace(/ expires \d+sec/, ''))
      .join('\n');
  }
  return out;
}

const [cmd, ...args] = process.argv.slice(2);
if (!cmd) {
  console.error('usage: tsx scripts/host-guard.ts COMMAND [ARGS...]');
  process.exit(2);
}
// Another prefix's lab, as a killed run of it would leave it: nothing of this run may remove it.
const SENTINEL_NS = `zzg-${process.pid.toString(16).padStart(6, '0').slice(-6)}-node`;
const SENTINEL_RECORD = `/run/pathlab/zzg/${SENTINEL_NS.split('-')[1]}.json`;
if (spawnSync('ip', ['netns', 'add', SENTINEL_NS], { env }).status !== 0) {
  console.error(`host-guard: cannot make the sentinel namespace ${SENTINEL_NS}`);
  process.exit(1);
}
mkdirSync(dirname(SENTINEL_RECORD), { recursive: true });
writeFileSync(SENTINEL_RECORD, '{"id":"sentinel of scripts/host-guard.ts"}\n');
const before = snapshot();
const r = spawnSync(cmd, args, { stdio: 'inherit' });
const after = snapshot();
let changed = false;
const sentinelKept = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8', env }).stdout.includes(SENTINEL_NS) && existsSync(SENTINEL_RECORD);
spawnSync('ip', ['netns', 'del', SENTINEL_NS], { env });
// Only this guard's own record: another guard's sentinel (a second CI job) stays.
rmSync(SENTINEL_RECORD, { force: true });
if (!sentinelKept) {
  changed = true;
  console.error(`host-guard: the sentinel lab of another prefix (${SENTINEL_NS}, ${SENTINEL_RECORD}) was removed during the run`);
}
for (const [what, text] of Object.entries(before)) {
  if (after[what] !== text) {
    changed = true;
    console.error(`host-guard: the host's ${what} changed during the run:\n--- before\n${text}\n--- after\n${after[what]}`);
  }
}
if (!changed) {
  const lines = Object.entries(before).map(([w, t]) => `${w} ${t.split('\n').filter(Boolean).length} lines`);
  console.log(`host-guard: the host's firewall, links and routes are unchanged (${lines.join(', ')}); another prefix's lab was left alone`);
}
process.exit(changed ? 1 : (r.status ?? 1));
