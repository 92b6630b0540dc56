// Installs the Debian packages the netns backend and its tests use, when any is missing.
// Runs before `npm test` and before the catalogue (npm's pre-scripts), so a fresh
// Debian/Ubuntu machine needs nothing but Node, npm and root.
import { $, which } from 'zx';

/** Each program the lab runs, and the Debian package that ships it. */
const TOOLS: ReadonlyArray<[program: string, pkg: string]> = [
  ['ip', 'iproute2'],
  ['iptables', 'iptables'],
  ['iptables-restore', 'iptables'],
  ['xtables-monitor', 'iptables'],
  ['nft', 'nftables'],
  ['tcpdump', 'tcpdump'],
  ['conntrack', 'conntrack'],
  ['nc', 'netcat-openbsd'],
  ['redis-server', 'redis-server'],
  ['curl', 'curl'],
  ['openssl', 'openssl'],
  ['setpriv', 'util-linux'],
];

const missing = new Set<string>();
for (const [program, pkg] of TOOLS) {
  if (!(await which(program, { nothrow: true }))) missing.add(pkg);
}

if (missing.size === 0) process.exit(0);

const pkgs = [...missing].sort();
if (process.getuid?.() !== 0) {
  console.error(
    `pathlab needs these Debian packages: ${pkgs.join(' ')}\n` +
      `install them as root: sudo apt-get update && sudo apt-get install -y ${pkgs.join(' ')}`,
  );
  process.exit(3);
}

console.error(`installing Debian packages: ${pkgs.join(' ')}`);
$.verbose = false;
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
await $({ env, stdio: 'inherit' })`apt-get update -qq`;
await $({ env, stdio: 'inherit' })`apt-get install -y -qq --no-install-recommends ${pkgs}`;
