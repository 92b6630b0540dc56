// What the netns backend needs on the machine: root, and these programs from Debian's
// packages. The CLI checks before it starts a lab (exit 3 with the install command);
// scripts/system-deps.ts installs what is missing.
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { systemEnv } from '../exec.ts';

/** Each program the lab runs, and the Debian package that ships it. */
export const NETNS_TOOLS: ReadonlyArray<readonly [program: string, pkg: string]> = [
  ['ip', 'iproute2'],
  ['ss', 'iproute2'],
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

/**
 * Programs only the test suite uses: the JUnit report test validates with `xmllint --schema`; the
 * HTML report test opens the report in Debian's chromium (headless, driven by playwright-core).
 */
export const TEST_TOOLS: ReadonlyArray<readonly [program: string, pkg: string]> = [['xmllint', 'libxml2-utils'], ['chromium', 'chromium']];

/** The Debian packages whose programs are missing (looked up on the system PATH). */
export function missingPackages(tools: ReadonlyArray<readonly [string, string]> = NETNS_TOOLS): string[] {
  const dirs = (systemEnv().PATH ?? '').split(delimiter);
  const missing = new Set<string>();
  for (const [program, pkg] of tools) {
    if (!dirs.some((d) => existsSync(join(d, program)))) missing.add(pkg);
  }
  return [...missing].sort();
}

/** Why this machine cannot run a netns lab, with the fix; undefined when it can. */
export function netnsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'netns backend needs root (CAP_NET_ADMIN): run with sudo';
  const pkgs = missingPackages();
  if (pkgs.length > 0) {
    return `netns backend needs these Debian packages: ${pkgs.join(' ')}\ninstall them: apt-get update && apt-get install -y ${pkgs.join(' ')}`;
  }
  return undefined;
}
