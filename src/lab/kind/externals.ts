// The catalogue's external services (docker-compose.yml at the repository root: a redis that
// answers -NOAUTH on 7000-7003 at 10.0.0.6) started and stopped through testcontainers'
// DockerComposeEnvironment. testcontainers is imported lazily (about 0.4 s); without a Docker
// engine it fails within milliseconds with "Could not find a working container runtime
// strategy", which dockerAvailable() turns into a yes/no for tests and doctor.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { PACKAGE_ROOT } from '../package-root.ts';
import { exec, execOk } from '../exec.ts';
import { externalNetworkCreateArgv } from './plan.ts';

export const COMPOSE_FILE = 'docker-compose.yml';
export const COMPOSE_PROJECT = 'pathlab-externals';
/** The network the compose file creates; kind nodes join it (plan.ts EXTERNAL_NETWORK). */
export const COMPOSE_NETWORK = 'pathlab-ext';

const repoRoot = PACKAGE_ROOT;

export interface StartedExternals extends AsyncDisposable {
  stop(): Promise<void>;
}

export async function startExternals(opts: { dir?: string; file?: string } = {}): Promise<StartedExternals> {
  const dir = opts.dir ?? repoRoot;
  const file = opts.file ?? COMPOSE_FILE;
  if (!existsSync(resolve(dir, file))) throw new Error(`no ${file} in ${dir}`);
  // The network is external to the compose file (a lab may have created it first).
  const has = await exec(['docker', 'network', 'inspect', '--format', '{{.Name}}', COMPOSE_NETWORK]);
  if (has.exitCode !== 0) await execOk(externalNetworkCreateArgv());
  const { DockerComposeEnvironment, Wait } = await import('testcontainers');
  const env = await new DockerComposeEnvironment(dir, file)
    .withProjectName(COMPOSE_PROJECT)
    .withWaitStrategy('redis-7000-7003', Wait.forLogMessage(/Ready to accept connections/))
    .up();
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await env.down({ removeVolumes: true });
  };
  return { stop, [Symbol.asyncDispose]: stop };
}

export interface DockerAvailability {
  available: boolean;
  /** Why not, in words a skipped test title can carry. */
  reason?: string;
}

/** Asks testcontainers for a container runtime (a Docker socket it can talk to). */
export async function dockerAvailable(): Promise<DockerAvailability> {
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await getContainerRuntimeClient();
    return { available: true };
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    return {
      available: false,
      reason: /Could not find a working container runtime strategy/.test(msg) ? 'no Docker engine on this machine' : `Docker unusable: ${msg.split('\n')[0]}`,
    };
  }
}
