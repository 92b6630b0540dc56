// `pathlab doctor`: can this machine run the kind backend? Each check runs one program (an
// argument array, through an injected runner) and says what it found and, for a problem,
// what to do. Missing pieces make the report fail (exit 3 in the CLI); warnings do not.
import { existsSync } from 'node:fs';
import { totalmem } from 'node:os';
import type { ExecResult } from '../exec.ts';
import { CLUSTER_PREFIX } from './labels.ts';
import { istioctlPath } from './plan.ts';
import { ISTIO_VERSION, KIND_VERSION, TOOL_PINS, kindPins } from './versions.ts';

export type Runner = (argv: readonly string[]) => Promise<ExecResult>;

export type CheckStatus = 'ok' | 'warn' | 'missing';
export interface DoctorCheck {
  name: string;
  status: CheckStatus;
  detail: string;
  fix?: string;
}
export interface DoctorReport {
  checks: DoctorCheck[];
  ok: boolean;
}

const GiB = 1024 ** 3;
/** kind node + istiod + Bookinfo (6 JVM/Python/Ruby/Node pods with sidecars) + toolbox. */
export const MIN_MEMORY = 6 * GiB;
export const RECOMMENDED_MEMORY = 8 * GiB;

const firstLine = (s: string) => s.trim().split('\n')[0] ?? '';
const notFound = (r: ExecResult) => r.spawnError !== undefined && /ENOENT/.test(r.spawnError);

export async function runDoctor(run: Runner, opts: { cacheDir: string; hostMemory?: number } = { cacheDir: '' }): Promise<DoctorReport> {
  const checks: DoctorCheck[] = [];

  // Docker: the client, then the engine behind it.
  const client = await run(['docker', 'version', '--format', '{{.Client.Version}}']);
  let engineUp = false;
  if (notFound(client)) {
    checks.push({
      name: 'docker',
      status: 'missing',
      detail: 'the docker command is not installed',
      fix: 'install Docker Engine (https://docs.docker.com/engine/install/) or Docker Desktop; kind runs its node as a Docker container',
    });
  } else {
    const server = await run(['docker', 'version', '--format', '{{.Server.Version}}']);
    const version = firstLine(server.stdout);
    engineUp = server.exitCode === 0 && version !== '';
    checks.push(
      engineUp
        ? { name: 'docker engine', status: 'ok', detail: `Docker Engine ${version} (client ${firstLine(client.stdout) || '?'})` }
        : {
            name: 'docker engine',
            status: 'missing',
            detail: `no Docker engine is reachable: the docker client (${firstLine(client.stdout) || 'unknown version'}) is installed, but ${firstLine(server.stderr) || 'the engine did not answer'}`,
            fix: 'start the Docker engine (sudo systemctl start docker, or open Docker Desktop) and check that your user may use its socket (docker info); with DOCKER_HOST set, check that it points at a running engine',
          },
    );
    if (engineUp) {
      const compose = await run(['docker', 'compose', 'version', '--short']);
      checks.push(
        compose.exitCode === 0
          ? { name: 'docker compose', status: 'ok', detail: `Compose ${firstLine(compose.stdout)}` }
          : {
              name: 'docker compose',
              status: 'missing',
              detail: 'the docker compose v2 plugin is missing (the external services of the catalogue are a compose file)',
              fix: 'install the Docker Compose plugin (https://docs.docker.com/compose/install/linux/)',
            },
      );
    }
  }

  // kind, at the pinned version.
  const kind = await run(['kind', 'version']);
  if (kind.exitCode !== 0) {
    checks.push({
      name: 'kind',
      status: 'missing',
      detail: notFound(kind) ? 'the kind command is not installed' : `kind version failed: ${firstLine(kind.stderr)}`,
      fix: `install kind ${KIND_VERSION}: download https://github.com/kubernetes-sigs/kind/releases/download/${KIND_VERSION}/kind-linux-amd64, check sha256 ${TOOL_PINS.kind.linuxAmd64Sha256}, chmod +x, put it on PATH`,
    });
  } else {
    const v = /\bv\d+\.\d+\.\d+\S*/.exec(kind.stdout)?.[0] ?? firstLine(kind.stdout);
    checks.push(
      v === KIND_VERSION
        ? { name: 'kind', status: 'ok', detail: `kind ${v}` }
        : { name: 'kind', status: 'warn', detail: `kind ${v}; the lab is pinned to and tested with ${KIND_VERSION}`, fix: `install kind ${KIND_VERSION} if cluster creation fails` },
    );
  }

  // kubectl.
  const kubectl = await run(['kubectl', 'version', '--client', '-o', 'json']);
  if (kubectl.exitCode !== 0) {
    checks.push({
      name: 'kubectl',
      status: 'missing',
      detail: notFound(kubectl) ? 'the kubectl command is not installed' : `kubectl version --client failed: ${firstLine(kubectl.stderr)}`,
      fix: `install kubectl ${TOOL_PINS.kubectl.version} from https://dl.k8s.io/release/${TOOL_PINS.kubectl.version}/bin/linux/amd64/kubectl (sha256 ${TOOL_PINS.kubectl.linuxAmd64Sha256})`,
    });
  } else {
    let v: string;
    try {
      v = (JSON.parse(kubectl.stdout) as { clientVersion?: { gitVersion?: string } }).clientVersion?.gitVersion ?? '?';
    } catch {
      v = firstLine(kubectl.stdout);
    }
    checks.push({ name: 'kubectl', status: 'ok', detail: `kubectl ${v}` });
  }

  // istioctl: fetched on first use; report whether it is cached.
  const pins = kindPins();
  const cached = istioctlPath(opts.cacheDir, ISTIO_VERSION);
  checks.push(
    existsSync(cached)
      ? { name: 'istioctl', status: 'ok', detail: `istioctl ${ISTIO_VERSION} cached at ${cached}` }
      : pins.istioctl.url === ''
        ? { name: 'istioctl', status: 'missing', detail: pins.istioctl.source, fix: 'run on linux-amd64/arm64 or darwin-amd64/arm64, or pin this platform in src/lab/kind/versions.ts' }
        : { name: 'istioctl', status: 'ok', detail: `istioctl ${ISTIO_VERSION} is fetched on first 'lab up' into ${cached} (sha256 ${pins.istioctl.sha256})` },
  );

  // Memory: the engine's when it answers (Docker Desktop's VM may have less than the host).
  let memory = opts.hostMemory ?? totalmem();
  let whose = 'this host';
  if (engineUp) {
    const info = await run(['docker', 'info', '--format', '{{.MemTotal}}']);
    const n = Number(firstLine(info.stdout));
    if (info.exitCode === 0 && Number.isFinite(n) && n > 0) {
      memory = n;
      whose = 'the Docker engine';
    }
  }
  const gib = (memory / GiB).toFixed(1);
  checks.push(
    memory >= RECOMMENDED_MEMORY
      ? { name: 'memory', status: 'ok', detail: `${gib} GiB on ${whose}` }
      : memory >= MIN_MEMORY
        ? { name: 'memory', status: 'warn', detail: `${gib} GiB on ${whose}; 8 GiB recommended`, fix: 'close other containers, or give Docker Desktop more memory' }
        : { name: 'memory', status: 'missing', detail: `${gib} GiB on ${whose}; the lab needs about 6 GiB`, fix: 'give the Docker engine at least 8 GiB (Docker Desktop: Settings > Resources)' },
  );

  // Existing labs.
  if (kind.exitCode === 0 && engineUp) {
    const clusters = await run(['kind', 'get', 'clusters']);
    const ours = clusters.stdout.split('\n').map((l) => l.trim()).filter((l) => l.startsWith(CLUSTER_PREFIX));
    checks.push({
      name: 'pathlab clusters',
      status: ours.length > 2 ? 'warn' : 'ok',
      detail: ours.length ? `running: ${ours.join(', ')}` : 'none running',
      ...(ours.length > 2 ? { fix: "each lab holds memory: remove old ones with 'pathlab lab down --backend kind --all'" } : {}),
    });
  }

  return { checks, ok: checks.every((c) => c.status !== 'missing') };
}

export function formatDoctor(r: DoctorReport, what = 'the kind backend can run here'): string {
  const mark = { ok: 'ok  ', warn: 'warn', missing: 'FAIL' } as const;
  const lines = r.checks.flatMap((c) => [`${mark[c.status]} ${c.name}: ${c.detail}`, ...(c.fix ? [`     fix: ${c.fix}`] : [])]);
  lines.push(r.ok ? what : `${what.replace(/ can /, ' cannot ')}: fix the FAIL lines above`);
  return `${lines.join('\n')}\n`;
}
