// What this machine lets the tests do. A test that needs a capability is registered with
// `netnsTest` (or checks `caps`) and, without it, is skipped with the reason in its title,
// never passed vacuously.
import { spawnSync } from 'node:child_process';
import test from 'ava';

function canNetns(): boolean {
  if (process.getuid?.() !== 0) return false;
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  return r.status === 0;
}

export const caps = { root: process.getuid?.() === 0, netns: canNetns() };

/** `test.serial` when this machine can make network namespaces (root + iproute2), else a skip. */
export const netnsTest = caps.netns ? test.serial : test.skip;
export const NEEDS_ROOT = '[needs root]';
