// How the kind lab runs its plan: conditions (onlyIf / unless), optional steps, the first
// failure stops the run with the step named, and a failed start removes the cluster it began.
// The runner here records argv and answers by rule: nothing is executed.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { ExecError, type ExecResult } from '../../../../src/lab/exec.ts';
import { KindEnvironmentError, kindLab, readLabFiles, runKindSteps, type Runner } from '../../../../src/lab/kind/kind-lab.ts';
import { kindPins } from '../../../../src/lab/kind/versions.ts';
import type { KindStep } from '../../../../src/lab/kind/plan.ts';

function recorder(answer: (argv: readonly string[]) => number): { run: Runner; seen: string[] } {
  const seen: string[] = [];
  const run: Runner = async (argv) => {
    seen.push(argv.join(' '));
    const code = answer(argv);
    return { argv, where: 'host', exitCode: code, signal: null, stdout: '', stderr: code ? 'boom' : '', durationMs: 0, timedOut: false } satisfies ExecResult;
  };
  return { run, seen };
}

test('onlyIf runs the step when its check succeeds; unless runs it when its check fails', async (t) => {
  const steps: KindStep[] = [
    { kind: 'run', what: 'a', argv: ['load', 'present'], onlyIf: ['has', 'present'] },
    { kind: 'run', what: 'b', argv: ['load', 'absent'], onlyIf: ['has', 'absent'] },
    { kind: 'run', what: 'c', argv: ['create', 'net'], unless: ['has', 'present'] },
    { kind: 'run', what: 'd', argv: ['create', 'other'], unless: ['has', 'absent'] },
  ];
  const r = recorder((argv) => (argv[1] === 'absent' ? 1 : 0));
  const events: string[] = [];
  await runKindSteps(steps, r.run, (e) => events.push(`${e.step.what}:${e.outcome}`));
  t.deepEqual(r.seen, ['has present', 'load present', 'has absent', 'has present', 'has absent', 'create other']);
  t.deepEqual(events, ['a:start', 'a:done', 'b:start', 'b:skipped', 'c:start', 'c:skipped', 'd:start', 'd:done']);
});

test('an optional step may fail; a required one stops the run and names itself', async (t) => {
  const steps: KindStep[] = [
    { kind: 'run', what: 'optional', argv: ['fail'], optional: true },
    { kind: 'run', what: 'required', argv: ['fail', 'again'] },
    { kind: 'run', what: 'never', argv: ['never'] },
  ];
  const r = recorder((argv) => (argv[0] === 'fail' ? 1 : 0));
  const e = await t.throwsAsync(runKindSteps(steps, r.run), { instanceOf: ExecError });
  t.regex(e?.message ?? '', /fail again: exited with 1\nboom\n {4}at kind lab step 2\/3: required/);
  t.deepEqual(r.seen, ['fail', 'fail again']);
});

/** A kubeconfig with the lab's context, as kind create writes it (its server where `server` says), in force for one test. */
function kubeconfigWith(t: { teardown(fn: () => void): void }, server: string): void {
  const dir = mkdtempSync(join(tmpdir(), 'pathlab-kubeconfig-'));
  const file = join(dir, 'config');
  writeFileSync(file, `apiVersion: v1\nkind: Config\nclusters:\n- name: kind-pathlab-a1b2c3\n  cluster: { server: '${server}' }\nusers:\n- name: kind-pathlab-a1b2c3\n  user: { token: secret }\ncontexts:\n- name: kind-pathlab-a1b2c3\n  context: { cluster: kind-pathlab-a1b2c3, user: kind-pathlab-a1b2c3 }\ncurrent-context: kind-pathlab-a1b2c3\n`);
  const before = process.env.KUBECONFIG;
  process.env.KUBECONFIG = file;
  t.teardown(() => {
    if (before === undefined) delete process.env.KUBECONFIG;
    else process.env.KUBECONFIG = before;
    rmSync(dir, { recursive: true, force: true });
  });
}

test.serial('a start whose context, after kind create, points at another server sends it nothing, and removes the cluster it made', async (t) => {
  const cache = mkdtempSync(join(tmpdir(), 'pathlab-cache-'));
  t.teardown(() => rmSync(cache, { recursive: true, force: true }));
  mkdirSync(join(cache, 'istioctl/1.30.3'), { recursive: true });
  writeFileSync(join(cache, 'istioctl/1.30.3/istioctl'), '');
  kubeconfigWith(t, 'https://10.1.2.3:6443');
  const r = recorder(() => 0);
  const lab = kindLab().withId('a1b2c3').withLabFiles(readLabFiles()).withCacheDir(cache).withPins(kindPins('linux-amd64')).withRunner(r.run);
  await t.throwsAsync(lab.start(), { instanceOf: KindEnvironmentError, message: /its server https:\/\/10\.1\.2\.3:6443 is not a local kind API server/ });
  t.true(r.seen.some((s) => s.startsWith('kind create cluster --name pathlab-a1b2c3')));
  t.false(r.seen.some((s) => s.startsWith('kubectl') || s.includes('istioctl')), r.seen.join('\n'));
  t.true(r.seen.includes('kind delete cluster --name pathlab-a1b2c3'));
});

test.serial('a start that fails half way deletes the cluster it created', async (t) => {
  kubeconfigWith(t, 'https://127.0.0.1:41234');
  // A cache where istioctl 1.30.3 is already present, so the fetch step downloads nothing.
  const cache = mkdtempSync(join(tmpdir(), 'pathlab-cache-'));
  t.teardown(() => rmSync(cache, { recursive: true, force: true }));
  mkdirSync(join(cache, 'istioctl/1.30.3'), { recursive: true });
  writeFileSync(join(cache, 'istioctl/1.30.3/istioctl'), '');
  const r = recorder((argv) => (argv.join(' ').includes('label namespace kube-system') ? 1 : 0));
  const lab = kindLab().withId('a1b2c3').withLabFiles(readLabFiles()).withCacheDir(cache).withPins(kindPins('linux-amd64')).withRunner(r.run);
  await t.throwsAsync(lab.start(), { instanceOf: ExecError });
  const create = r.seen.findIndex((s) => s.startsWith('kind create cluster --name pathlab-a1b2c3'));
  const del = r.seen.indexOf('kind delete cluster --name pathlab-a1b2c3');
  t.true(create >= 0 && del > create, r.seen.join('\n'));
  t.false(r.seen.some((s) => s.includes('istioctl install')), 'nothing after the failed step');
});

test('start refuses when a cluster of that id already exists, creating nothing', async (t) => {
  const r = { seen: [] as string[] };
  const run: Runner = async (argv) => {
    r.seen.push(argv.join(' '));
    return { argv, where: 'host', exitCode: 0, signal: null, stdout: 'kind\npathlab-a1b2c3\n', stderr: '', durationMs: 0, timedOut: false };
  };
  const lab = kindLab().withId('a1b2c3').withLabFiles(readLabFiles()).withCacheDir('/nonexistent').withPins(kindPins('linux-amd64')).withRunner(run);
  await t.throwsAsync(lab.start(), { instanceOf: KindEnvironmentError, message: /pathlab-a1b2c3 already exists/ });
  t.deepEqual(r.seen, ['kind get clusters']);
});
