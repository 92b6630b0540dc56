// `lab up` returns only when every sidecar is ready. Here the lab's copy of Envoy is one that
// cannot start (under a prefix of this test's own, so no other lab sees it): lab up must tear
// down what it made, exit 3 and print the failing Envoy's last log lines (pilot-agent's log, which
// has Envoy's, and its own line that Envoy exited).
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { ENVOY_PINS } from '../../src/istio/envoy.ts';
import { NEEDS_ROOT, netnsTest } from '../helpers/caps.ts';

const PREFIX = 'plq';
const STATE = `/run/pathlab/${PREFIX}`;
const env = { ...process.env, PATHLAB_PREFIX: PREFIX };
const pathlab = (args: string[]) => spawnSync(process.execPath, ['bin/pathlab.js', ...args], { env, encoding: 'utf8', timeout: 120_000 });

test.after.always(() => {
  pathlab(['lab', 'down', '--all']);
  rmSync(join(STATE, 'envoy'), { recursive: true, force: true });
});

netnsTest(`${NEEDS_ROOT} lab up with an Envoy that cannot start: exit 3, the Envoy's own words, nothing of the lab left`, (t) => {
  const dir = join(STATE, 'envoy', ENVOY_PINS[0]!.version);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'envoy'), '#!/bin/sh\necho "[critical][main] error initializing configuration: pathlab test, this Envoy cannot start" >&2\nexit 1\n');
  chmodSync(join(dir, 'envoy'), 0o755);
  const r = pathlab(['lab', 'up']);
  t.is(r.status, 3, r.stderr);
  t.regex(r.stderr, /the lab is torn down: a sidecar is not ready: the istio-proxy of \S+ \(pid \d+\) is not running; its log ends: .*this Envoy cannot start.*Envoy exited with error/);
  const labs = readdirSync(STATE).filter((e) => e !== 'envoy' && e !== 'agents');
  t.deepEqual(labs, [], 'no lab folder or record is left');
  const namespaces = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n').filter((l) => l.startsWith(`${PREFIX}-`));
  t.deepEqual(namespaces, []);
});
