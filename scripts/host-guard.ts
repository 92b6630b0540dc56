// Runs a command (the test runner) and proves it left the host's firewall alone: the host
// namespace's iptables-save, ip6tables-save and `nft -s list ruleset` must be byte-identical
// before and after (comments and packet counters aside: the host's own traffic moves those).
// Exit: the command's own code, or 1 when the host's rules changed.
import { spawnSync } from 'node:child_process';
import { systemEnv } from '../src/lab/exec.ts';

const env = systemEnv();
function snapshot(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const argv of [['iptables-save'], ['ip6tables-save'], ['nft', '-s', 'list', 'ruleset']]) {
    const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', env });
    out[argv.join(' ')] = r.error ? `(not run: ${r.error.message})` : r.stdout
      .split('\n')
      .filter((l) => !l.startsWith('#'))
      .map((l) => l.replace(/\[\d+:\d+\]/g, '[-:-]'))
      .join('\n');
  }
  return out;
}

const [cmd, ...args] = process.argv.slice(2);
if (!cmd) {
  console.error('usage: tsx scripts/host-guard.ts COMMAND [ARGS...]');
  process.exit(2);
}
const before = snapshot();
const r = spawnSync(cmd, args, { stdio: 'inherit' });
const after = snapshot();
let changed = false;
for (const [what, text] of Object.entries(before)) {
  if (after[what] !== text) {
    changed = true;
    console.error(`host-guard: the host's ${what} changed during the run:\n--- before\n${text}\n--- after\n${after[what]}`);
  }
}
if (!changed) {
  const lines = Object.entries(before).map(([w, t]) => `${w} ${t.split('\n').filter(Boolean).length} lines`);
  console.log(`host-guard: the host's firewall is unchanged (${lines.join(', ')})`);
}
process.exit(changed ? 1 : (r.status ?? 1));
