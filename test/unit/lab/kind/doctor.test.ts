// doctor on recorded answers of the real programs. test/data/kind/doctor holds what docker
// and kubectl printed on this machine (docker client 28.2.2 without an engine; kubectl
// v1.32.4-dispatcher); the other cases use the documented output shapes of kind and docker.
// Tests never run docker, kind or kubectl themselves.
import { readFileSync } from 'node:fs';
import test from 'ava';
import type { ExecResult } from '../../../../src/lab/exec.ts';
import { formatDoctor, runDoctor, type Runner } from '../../../../src/lab/kind/doctor.ts';
import { kindDoctor } from '../../../../src/cli/commands/doctor.ts';
import { bufferIo } from '../../../../src/cli/io.ts';
import { main } from '../../../../src/cli/main.ts';

const rec = (name: string) => {
  const f = (ext: string) => readFileSync(`test/data/kind/doctor/${name}.${ext}`, 'utf8');
  return { stdout: f('stdout'), stderr: f('stderr'), exitCode: Number(f('rc').trim()) };
};

type Answer = Partial<ExecResult> & { exitCode: number | null };
function runner(answers: Record<string, Answer>, seen: string[] = []): Runner {
  return async (argv) => {
    const key = argv.join(' ');
    seen.push(key);
    const a = answers[key] ?? { exitCode: null, spawnError: `spawn ${argv[0]} ENOENT` };
    return { argv, where: 'host', signal: null, stdout: '', stderr: '', durationMs: 1, timedOut: false, ...a };
  };
}

const DOCKER_CLIENT = 'docker version --format {{.Client.Version}}';
const DOCKER_SERVER = 'docker version --format {{.Server.Version}}';
const KUBECTL = 'kubectl version --client -o json';

test('this machine: a docker client without an engine, no kind: FAIL lines with fixes, not ok', async (t) => {
  const seen: string[] = [];
  const r = await runDoctor(runner({ [DOCKER_CLIENT]: rec('docker-client'), [DOCKER_SERVER]: rec('docker-server'), [KUBECTL]: rec('kubectl') }, seen), {
    cacheDir: '/nonexistent-cache',
    hostMemory: 16 * 1024 ** 3,
  });
  t.false(r.ok);
  const text = formatDoctor(r);
  t.regex(text, /^FAIL docker engine: no Docker engine is reachable: the docker client \(28\.2\.2\) is installed, but Cannot connect to the Docker daemon at unix:\/\/\/var\/run\/docker\.sock\. Is the docker daemon running\?$/m);
  t.regex(text, /^ {5}fix: start the Docker engine/m);
  t.regex(text, /^FAIL kind: the kind command is not installed$/m);
  t.regex(text, /fix: install kind v0\.32\.0: .*kind-linux-amd64, check sha256 50030de2/);
  t.regex(text, /^ok {3}kubectl: kubectl v1\.32\.4-dispatcher$/m);
  t.regex(text, /^ok {3}memory: 16\.0 GiB on this host$/m);
  t.regex(text, /cannot run here/);
  // Without an engine, nothing else asks it anything.
  t.false(seen.some((s) => s.startsWith('docker info') || s.startsWith('docker compose') || s === 'kind get clusters'));
});

test('a ready machine: engine, compose, pinned kind, memory from the engine, existing labs listed', async (t) => {
  const r = await runDoctor(
    runner({
      [DOCKER_CLIENT]: { exitCode: 0, stdout: '28.2.2\n' },
      [DOCKER_SERVER]: { exitCode: 0, stdout: '28.2.2\n' },
      'docker compose version --short': { exitCode: 0, stdout: '2.36.2\n' },
      'kind version': { exitCode: 0, stdout: 'kind v0.32.0 go1.25.5 linux/amd64\n' },
      [KUBECTL]: rec('kubectl'),
      'docker info --format {{.MemTotal}}': { exitCode: 0, stdout: `${12 * 1024 ** 3}\n` },
      'kind get clusters': { exitCode: 0, stdout: 'kind\npathlab-a1b2c3\n' },
    }),
    { cacheDir: '/nonexistent-cache', hostMemory: 2 * 1024 ** 3 },
  );
  t.true(r.ok, formatDoctor(r));
  const text = formatDoctor(r);
  t.regex(text, /^ok {3}docker engine: Docker Engine 28\.2\.2/m);
  t.regex(text, /^ok {3}memory: 12\.0 GiB on the Docker engine$/m);
  t.regex(text, /^ok {3}pathlab clusters: running: pathlab-a1b2c3$/m);
  t.regex(text, /^ok {3}istioctl: istioctl 1\.30\.3 is fetched on first 'lab up'/m);
});

test('too little memory for the lab is a FAIL; another kind version a warning', async (t) => {
  const r = await runDoctor(
    runner({
      [DOCKER_CLIENT]: { exitCode: 0, stdout: '28.2.2\n' },
      [DOCKER_SERVER]: { exitCode: 0, stdout: '28.2.2\n' },
      'docker compose version --short': { exitCode: 0, stdout: '2.36.2\n' },
      'kind version': { exitCode: 0, stdout: 'kind v0.29.0 go1.24.2 linux/amd64\n' },
      [KUBECTL]: rec('kubectl'),
      'docker info --format {{.MemTotal}}': { exitCode: 0, stdout: `${4 * 1024 ** 3}\n` },
      'kind get clusters': { exitCode: 0, stdout: '' },
    }),
    { cacheDir: '/nonexistent-cache' },
  );
  t.false(r.ok);
  const text = formatDoctor(r);
  t.regex(text, /^FAIL memory: 4\.0 GiB on the Docker engine; the lab needs about 6 GiB$/m);
  t.regex(text, /^warn kind: kind v0\.29\.0; the lab is pinned to and tested with v0\.32\.0$/m);
});

test('pathlab doctor is a registered command; kindDoctor prints the report and sets exit 3 when it fails', async (t) => {
  const io = bufferIo();
  t.is(await main(['--help'], io), 0);
  t.regex(io.stdout(), /^\s+doctor\s/m);
  let code = 0;
  const out = bufferIo();
  await kindDoctor(
    { io: out, exit: (c) => void (code = Math.max(code, c)) },
    { cacheDir: '/nonexistent-cache', run: runner({ [DOCKER_CLIENT]: rec('docker-client'), [DOCKER_SERVER]: rec('docker-server'), [KUBECTL]: rec('kubectl') }) },
  );
  t.is(code, 3);
  t.regex(out.stdout(), /^FAIL docker engine: no Docker engine is reachable/m);
});
