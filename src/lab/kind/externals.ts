// The external hosts of a kind lab group (a scenario's lab.externalHosts: seed 003's redis at
// 10.0.0.6, seed 002's echo host at 10.0.0.20, seed 000/001's HTTP host at 10.0.0.10), as a
// compose file made from the scenario, one container per host at the host's address on the
// network `pathlab-ext` (10.0.0.0/24; plan.ts EXTERNAL_NETWORK), which the kind node joins.
// A redis host runs Docker's redis image, one redis-server per port; the other hosts run the
// lab's own echo app (src/lab/netns/agents/echo-app.ts, bundled) in the pinned node image, so
// they answer exactly as the netns lab's external hosts do. The compose file is written and
// printed by the run's plan (run-plan.ts); it is started and stopped with the lab group
// through testcontainers' DockerComposeEnvironment. testcontainers is imported lazily (about
// 0.4 s); without a Docker engine it fails within milliseconds with "Could not find a working
// container runtime strategy", which dockerAvailable() turns into a yes/no for tests and doctor.
import { basename, dirname } from 'node:path';
import { stringify } from 'yaml';
import type { LabSpec } from '../../scenario/schema.ts';
import { exec, execOk } from '../exec.ts';
import { NOBODY, externalAppConfig, redisServerArgv } from '../netns/workloads.ts';
import { LAB_LABEL } from './labels.ts';
import { externalNetworkCreateArgv, EXTERNAL_NETWORK } from './plan.ts';
import { imageRef, type PinnedImage } from './versions.ts';

type ExternalHost = NonNullable<LabSpec['externalHosts']>[number];

/** Where the echo app is mounted in an external host's container. */
const AGENT_MOUNT = '/pathlab/echo-app.mjs';

/** The compose project of a lab's external hosts (one lab group's at a time). */
export const externalsProject = (labId: string) => `pathlab-${labId}-ext`;

/** A compose service per host: `ext-<name>`; testcontainers names its container `<service>-1`. */
const serviceOf = (h: ExternalHost) => `ext-${h.name}`;

/** Why kind cannot run this external host as the scenario says, or undefined when it can. */
export function externalProblem(h: ExternalHost): string | undefined {
  if (h.server === 'https') return `the external host ${h.name} at ${h.address} is an HTTPS server, which the kind lab's external hosts do not run yet (only redis, echo and http)`;
  if (h.server === 'mtls') return `the external host ${h.name} at ${h.address} answers mTLS with the netns lab's CA, which a kind lab has not (its meshed pods are Istio's own)`;
  return undefined;
}

/** The line a host's container logs when it serves, and how many times (a redis logs it once per port): what the start waits for. */
export function readyLine(h: ExternalHost): { line: RegExp; times: number } {
  return h.server === 'redis' ? { line: /Ready to accept connections/, times: h.ports.length } : { line: /echo-app \S+: listening on/, times: 1 };
}

/**
 * The compose file of these external hosts (pure). `echoApp` is the bundled echo app on this
 * machine, mounted read-only into the hosts that are not a redis.
 */
export function externalsCompose(hosts: readonly ExternalHost[], opts: { labId: string; echoApp: string; images: { node: PinnedImage; redis: PinnedImage } }): string {
  const services: Record<string, unknown> = {};
  for (const h of hosts) {
    const problem = externalProblem(h);
    if (problem) throw new Error(problem);
    const common = {
      // The external servers run as nobody, as in the netns lab.
      user: `${NOBODY.uid}:${NOBODY.gid}`,
      labels: { [LAB_LABEL]: opts.labId, 'pathlab.dev/external': h.name },
      networks: { ext: { ipv4_address: h.address } },
    };
    if (h.server === 'redis') {
      // Every port's server in the background but the last; each logs that it is ready.
      const argvs = h.ports.map((p) => redisServerArgv(h, p, 'notice').map(shellQuote));
      const script = [...argvs.slice(0, -1).map((a) => `${a.join(' ')} &`), `exec ${argvs.at(-1)!.join(' ')}`].join('\n');
      services[serviceOf(h)] = { image: imageRef(opts.images.redis), command: ['sh', '-c', script], ...common };
    } else {
      services[serviceOf(h)] = {
        image: imageRef(opts.images.node),
        command: ['node', AGENT_MOUNT, JSON.stringify(externalAppConfig(h))],
        volumes: [`${opts.echoApp}:${AGENT_MOUNT}:ro`],
        ...common,
      };
    }
  }
  return stringify({ services, networks: { ext: { name: EXTERNAL_NETWORK, external: true } } }, { lineWidth: 0 });
}

const shellQuote = (a: string) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);

export interface StartedExternals extends AsyncDisposable {
  stop(): Promise<void>;
}

/** Starts the compose file's hosts and waits until each logs its ready line; stop() removes them. */
export async function startExternals(opts: { file: string; project: string; hosts: readonly ExternalHost[] }): Promise<StartedExternals> {
  // The network is external to the compose file (a lab may have created it first).
  const has = await exec(['docker', 'network', 'inspect', '--format', '{{.Name}}', EXTERNAL_NETWORK]);
  if (has.exitCode !== 0) await execOk(externalNetworkCreateArgv());
  const { DockerComposeEnvironment, Wait } = await import('testcontainers');
  let compose = new DockerComposeEnvironment(dirname(opts.file), basename(opts.file)).withProjectName(opts.project);
  for (const h of opts.hosts) {
    const ready = readyLine(h);
    compose = compose.withWaitStrategy(`${serviceOf(h)}-1`, Wait.forLogMessage(ready.line, ready.times));
  }
  const env = await compose.up();
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
