// Installs the Debian packages the netns backend and its tests use, when any is missing.
// Runs before `npm test` and before the catalogue (npm's pre-scripts), so a fresh
// Debian/Ubuntu machine needs nothing but Node, npm and root.
import { $ } from 'zx';
import { missingPackages, NETNS_TOOLS, TEST_TOOLS } from '../src/lab/netns/requirements.ts';

const pkgs = missingPackages([...NETNS_TOOLS, ...TEST_TOOLS]);
if (pkgs.length === 0) process.exit(0);

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
