// `pathlab capture`: a live pod's state, read from its cluster, for an SRE to keep beside an
// incident and to explain offline. It reads the pod (labels, annotations, istio-init's
// arguments), its sidecar's /config_dump with endpoints (private keys redacted here, before
// anything is written), Envoy's server_info, the mesh config, the Istio release, and the pod's
// rules (iptables-save, ip6tables-save) with, when asked, one connection (`--to`): nc from the
// pod as a captured user, conntrack, the access log lines it caused. The one change it makes
// is the one reading the rules needs: an ephemeral container with NET_ADMIN in the pod (what
// `kubectl debug` adds; Kubernetes never removes one). Where the cluster refuses it, the
// capture says so and keeps the rest.
import type { CoreV1Api, KubeConfig, V1Pod } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { redactPrivateKeys } from '../../mesh/envoy/redact.ts';
import type { ExecResult } from '../exec.ts';
import { apiMessage } from '../kind/api-message.ts';
import { installedIstio } from '../kind/backend.ts';
import { CAPTURE_CONTAINER, PROXY_CONTAINER, envoyAdminArgv } from '../kind/evidence.ts';
import { CaptureContainerRefused, ensureCaptureContainer } from '../kind/capture-container.ts';
import { PodExecClient } from '../kind/exec-client.ts';
import { conntrackArgv } from '../../probes/conntrack.ts';
import { CAPTURE_PROBE_PAYLOAD, CAPTURE_VERSION, CAPTURE_FILES, type CaptureManifest } from '../../scenario/capture.ts';
import { setTimeout as sleep } from 'node:timers/promises';

/** The capture cannot be made: what was refused or missing (exit 3), or a pod that does not exist (exit 2). */
export class CaptureError extends Error {
  override name = 'CaptureError';
  constructor(
    message: string,
    readonly exit: 2 | 3,
  ) {
    super(message);
  }
}

export interface CaptureOptions {
  namespace: string;
  pod: string;
  /** One connection to make from the pod and record. */
  to?: { host: string; port: number };
  /** The image of the ephemeral container that reads the rules (the pinned toolbox). */
  captureImage: string;
  context: string;
}

export interface Captured {
  manifest: CaptureManifest;
  /** The files of the capture folder by name, as written. */
  files: Record<string, string>;
}


/** An exec the user may not make (403 on the upgrade) is a refusal, said as one. */
function refusedExec(r: ExecResult, where: string): CaptureError | undefined {
  if (r.spawnError && /\b403\b/.test(r.spawnError)) return new CaptureError(`you may not exec into ${where}: ${r.spawnError} (RBAC: create pods/exec)`, 3);
  if (r.spawnError) return new CaptureError(`exec into ${where} failed: ${r.spawnError}`, 3);
  return undefined;
}

export async function capturePod(kc: KubeConfig, o: CaptureOptions): Promise<Captured> {
  const { CoreV1Api } = await import('@kubernetes/client-node');
  const api = kc.makeApiClient(CoreV1Api);
  const client = new PodExecClient(kc);
  const where = `${o.namespace}/${o.pod}`;
  let pod: V1Pod;
  try {
    pod = await api.readNamespacedPod({ name: o.pod, namespace: o.namespace });
  } catch (e) {
    const msg = apiMessage(e);
    throw new CaptureError(`the pod ${where}: ${msg}`, /^404\b/.test(msg) ? 2 : 3);
  }
  const containers = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])];
  if (!containers.some((c) => c.name === PROXY_CONTAINER)) throw new CaptureError(`${where} has no ${PROXY_CONTAINER} container: it has no sidecar, so there is no Envoy configuration to capture (capture a meshed pod)`, 3);
  const notes: string[] = [];
  const files: Record<string, string> = {};
  const proxy = { namespace: o.namespace, pod: o.pod, container: PROXY_CONTAINER };

  // The sidecar's configuration, endpoints included; no private key leaves this function.
  const dump = await client.exec(proxy, envoyAdminArgv('config_dump?include_eds'), { timeoutMs: 60_000 });
  const refused = refusedExec(dump, `${where} (container ${PROXY_CONTAINER})`);
  if (refused) throw refused;
  if (dump.exitCode !== 0) throw new CaptureError(`config_dump of ${where}: exit ${dump.exitCode}: ${dump.stderr.trim()}`, 3);
  let parsed: unknown;
  try {
    parsed = JSON.parse(dump.stdout);
  } catch (e) {
    throw new CaptureError(`config_dump of ${where} is not JSON: ${(e as Error).message}`, 3);
  }
  const clean = redactPrivateKeys(parsed);
  files[CAPTURE_FILES.configDump] = `${JSON.stringify(clean.dump, null, 1)}\n`;
  if (clean.redacted) notes.push(`${clean.redacted} private key(s) in the config dump replaced by a placeholder`);
  const info = await client.exec(proxy, envoyAdminArgv('server_info'), { timeoutMs: 30_000 });
  let envoy = 'unknown';
  try {
    if (info.exitCode === 0) envoy = (JSON.parse(info.stdout) as { version?: string }).version ?? 'unknown';
  } catch {
    notes.push('Envoy\'s server_info was not JSON: its version is unknown');
  }

  // The mesh config and the Istio release (istio-system/istio and istiod's image; a revision's names differ, said as a note).
  const mesh = await api.readNamespacedConfigMap({ name: 'istio', namespace: 'istio-system' }).catch((e: unknown) => void notes.push(`the mesh config (istio-system/istio) was not read: ${apiMessage(e)}`));
  if (mesh?.data?.mesh !== undefined) files[CAPTURE_FILES.mesh] = mesh.data.mesh.endsWith('\n') ? mesh.data.mesh : `${mesh.data.mesh}\n`;
  const istio = (await installedIstio(kc)) ?? 'unknown';

  // The rules, from an ephemeral container in the pod's network namespace.
  const rules = await readRules(api, client, pod, o.captureImage).catch((e: Error) => ({ refused: e.message }));
  if ('refused' in rules) notes.push(`the pod's rules were not captured: ${rules.refused}`);
  else {
    files[CAPTURE_FILES.iptables] = rules.v4;
    if (rules.v6) files[CAPTURE_FILES.ip6tables] = rules.v6;
  }

  let probe: CaptureManifest['probe'];
  if (o.to) {
    if ('refused' in rules) notes.push(`--to ${o.to.host}:${o.to.port}: not made, the ephemeral container it runs from was refused`);
    else probe = await connect(api, client, pod, o.to);
  }
  const initArgs = pod.spec?.initContainers?.find((c) => c.name === 'istio-init')?.args;
  const manifest: CaptureManifest = {
    apiVersion: CAPTURE_VERSION,
    kind: 'Capture',
    metadata: { name: `${o.namespace}-${o.pod}`.slice(0, 63), capturedAt: new Date().toISOString(), context: o.context },
    pod: {
      namespace: o.namespace,
      name: o.pod,
      ...(pod.status?.podIP ? { ip: pod.status.podIP } : {}),
      ...(pod.spec?.nodeName ? { node: pod.spec.nodeName } : {}),
      labels: pod.metadata?.labels ?? {},
      annotations: pod.metadata?.annotations ?? {},
      ...(initArgs ? { istioInitArgs: initArgs } : {}),
    },
    versions: { istio, envoy },
    files: Object.keys(files).sort(),
    notes,
    ...(probe ? { probe } : {}),
  };
  files[CAPTURE_FILES.manifest] = stringify(manifest, { lineWidth: 0 });
  return { manifest, files };
}

/** iptables-save (and ip6tables-save) of the flavour that holds Istio's chains, read in an ephemeral container with NET_ADMIN. */
async function readRules(api: CoreV1Api, client: PodExecClient, pod: V1Pod, image: string): Promise<{ v4: string; v6?: string }> {
  const name = pod.metadata!.name!;
  const namespace = pod.metadata!.namespace!;
  try {
    await ensureCaptureContainer(api, { namespace, name }, image);
  } catch (e) {
    throw new Error(e instanceof CaptureContainerRefused ? `the cluster refused the ephemeral container that reads them: ${e.message}` : (e as Error).message, { cause: e });
  }
  const target = { namespace, pod: name, container: CAPTURE_CONTAINER };
  const save = async (family: 'iptables' | 'ip6tables') => {
    for (const flavour of ['nft', 'legacy']) {
      const r = await client.exec(target, [`${family}-${flavour}-save`]);
      if (r.exitCode === 0 && r.stdout.includes(':ISTIO_')) return r.stdout;
    }
    return undefined;
  };
  const v4 = await save('iptables');
  if (v4 === undefined) throw new Error('neither iptables-nft-save nor iptables-legacy-save shows ISTIO_ chains in the pod (Istio CNI or ambient? its rules are not the pod\'s own)');
  const v6 = await save('ip6tables');
  return { v4, ...(v6 ? { v6 } : {}) };
}

/** One connection from the pod (root in the ephemeral container: captured as the app is), its conntrack entries and the access log it caused. */
async function connect(api: CoreV1Api, client: PodExecClient, pod: V1Pod, to: { host: string; port: number }): Promise<NonNullable<CaptureManifest['probe']>> {
  const name = pod.metadata!.name!;
  const namespace = pod.metadata!.namespace!;
  const target = { namespace, pod: name, container: CAPTURE_CONTAINER };
  const logBefore = String(await api.readNamespacedPodLog({ name, namespace, container: PROXY_CONTAINER }).catch(() => '')).split('\n').length - 1;
  // The bytes, then what comes back until the peer closes or 3 s pass without any: the reply a drafted probe expects.
  const argv = ['sh', '-c', 'printf "$0" | nc -w 3 "$1" "$2"', CAPTURE_PROBE_PAYLOAD.replace(/\r/g, '\\r').replace(/\n/g, '\\n'), to.host, String(to.port)];
  const r = await client.exec(target, argv, { timeoutMs: 10_000 });
  const ct = await client.exec(target, conntrackArgv(), { timeoutMs: 10_000 });
  await sleep(1000);
  const log = String(await api.readNamespacedPodLog({ name, namespace, container: PROXY_CONTAINER }).catch(() => '')).split('\n').slice(Math.max(0, logBefore)).filter((l) => l.startsWith('['));
  return { to: `${to.host}:${to.port}`, argv, payload: CAPTURE_PROBE_PAYLOAD, exitCode: r.exitCode ?? -1, output: `${r.stdout}${r.stderr}`.trim(), conntrack: ct.stdout.trim(), accessLog: log };
}
