// `pathlab doctor --context X`: exactly what the cluster backend needs of that cluster, asked of
// its API server without changing anything. RBAC by SelfSubjectAccessReview for every call the
// run makes (namespaces, workloads, Istio objects, exec, logs, ephemeral containers, nodes), and
// Pod Security by a server-side dry run of one of the run's namespaces labelled privileged
// (istio-init needs NET_ADMIN and NET_RAW; the node debug pod is privileged): admission, and any
// policy engine's webhook, answers as for the real namespace, and nothing is stored.
import type { KubeConfig } from '@kubernetes/client-node';
import type { DoctorCheck, DoctorReport } from '../kind/doctor.ts';
import { formatDoctor } from '../kind/doctor.ts';
import { installedIstio } from '../kind/backend.ts';
import { apiMessage } from '../kind/api-message.ts';
import { runNamespace } from './relocate.ts';

/** One permission the run needs: the SelfSubjectAccessReview's resourceAttributes, what it is for, and whether the run fails without it. */
export interface Permission {
  verb: string;
  group: string;
  resource: string;
  subresource?: string;
  namespaced: boolean;
  for: string;
  required: boolean;
}

const core = (verb: string, resource: string, purpose: string, extra: Partial<Permission> = {}): Permission => ({ verb, group: '', resource, namespaced: true, for: purpose, required: true, ...extra });

/** Every call of a cluster run, as permissions. */
export const CLUSTER_PERMISSIONS: readonly Permission[] = [
  core('create', 'namespaces', 'the run\'s own namespaces', { namespaced: false }),
  core('delete', 'namespaces', 'removing them after the run', { namespaced: false }),
  { verb: 'create', group: 'apps', resource: 'deployments', namespaced: true, for: 'the scenarios\' pods', required: true },
  core('create', 'services', 'the scenarios\' Services'),
  core('create', 'configmaps', 'the echo app of echo pods'),
  core('list', 'pods', 'finding the scenarios\' pods'),
  core('create', 'pods', 'the node debug pods (kernel trace, iptables-save)'),
  core('create', 'pods', 'commands in the pods (probes, config_dump)', { subresource: 'exec' }),
  core('get', 'pods', 'the sidecars\' access logs', { subresource: 'log' }),
  core('update', 'pods', 'the capture container (tcpdump)', { subresource: 'ephemeralcontainers' }),
  core('list', 'nodes', 'the cluster\'s pod networks (a probe goes nowhere else)', { namespaced: false }),
  { verb: 'list', group: 'networking.k8s.io', resource: 'servicecidrs', namespaced: false, for: 'the cluster\'s Service networks', required: false },
  { verb: 'create', group: 'networking.istio.io', resource: 'serviceentries', namespaced: true, for: 'scenario setup', required: true },
  { verb: 'create', group: 'networking.istio.io', resource: 'sidecars', namespaced: true, for: 'scenario setup', required: true },
  { verb: 'create', group: 'networking.istio.io', resource: 'virtualservices', namespaced: true, for: 'scenario setup', required: true },
  { verb: 'create', group: 'networking.istio.io', resource: 'destinationrules', namespaced: true, for: 'scenario setup', required: true },
  { verb: 'create', group: 'security.istio.io', resource: 'peerauthentications', namespaced: true, for: 'scenario setup', required: true },
];

const describe = (p: Permission) => `${p.verb} ${p.group ? `${p.resource}.${p.group}` : p.resource}${p.subresource ? `/${p.subresource}` : ''}`;

export async function runClusterDoctor(context: string, kcIn?: KubeConfig): Promise<DoctorReport> {
  const { AuthorizationV1Api, CoreV1Api, KubeConfig: Kc, VersionApi } = await import('@kubernetes/client-node');
  const checks: DoctorCheck[] = [];
  const kc = kcIn ?? new Kc();
  if (!kcIn) kc.loadFromDefault();
  const ctx = kc.getContextObject(context);
  if (!ctx) {
    checks.push({ name: 'context', status: 'missing', detail: `kubeconfig has no context "${context}"`, fix: 'kubectl config get-contexts lists them' });
    return { checks, ok: false };
  }
  kc.setCurrentContext(context);
  checks.push({ name: 'context', status: 'ok', detail: `${context} (server ${kc.getCluster(ctx.cluster)?.server ?? '?'})` });
  try {
    const v = await kc.makeApiClient(VersionApi).getCode();
    checks.push({ name: 'API server', status: 'ok', detail: `Kubernetes ${v.gitVersion}` });
  } catch (e) {
    checks.push({ name: 'API server', status: 'missing', detail: `not reachable: ${apiMessage(e)}`, fix: 'check the context\'s server and credentials (kubectl --context … version)' });
    return { checks, ok: false };
  }
  const istio = await installedIstio(kc);
  checks.push(istio ? { name: 'Istio', status: 'ok', detail: `istiod ${istio} (istio-system/istiod)` } : { name: 'Istio', status: 'missing', detail: 'no istio-system/istiod Deployment could be read', fix: 'the cluster backend runs on a cluster with Istio installed (sidecar mode)' });
  const probeNs = runNamespace('doctor', 'default');
  const auth = kc.makeApiClient(AuthorizationV1Api);
  for (const p of CLUSTER_PERMISSIONS) {
    try {
      const r = await auth.createSelfSubjectAccessReview({
        body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: { resourceAttributes: { verb: p.verb, group: p.group, resource: p.resource, ...(p.subresource ? { subresource: p.subresource } : {}), ...(p.namespaced ? { namespace: probeNs } : {}) } } },
      });
      const allowed = r.status?.allowed === true;
      checks.push({
        name: `RBAC ${describe(p)}`,
        status: allowed ? 'ok' : p.required ? 'missing' : 'warn',
        detail: allowed ? p.for : `denied${r.status?.reason ? ` (${r.status.reason})` : ''}: needed for ${p.for}${p.subresource === 'ephemeralcontainers' ? '; without it no packet is captured and every probe fails, saying so' : ''}`,
        ...(allowed ? {} : { fix: `grant ${describe(p)}${p.namespaced ? ' in the namespaces pathlab-<run id>-*' : ''} to your user (a Role or ClusterRole and its binding)` }),
      });
    } catch (e) {
      checks.push({ name: `RBAC ${describe(p)}`, status: 'missing', detail: `the access review failed: ${apiMessage(e)}` });
    }
  }
  // Pod Security: one of the run's namespaces, labelled as the run labels it, created in a dry run.
  try {
    await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: probeNs, labels: { 'pod-security.kubernetes.io/enforce': 'privileged', 'istio-injection': 'enabled' } } }, dryRun: 'All' });
    checks.push({ name: 'Pod Security', status: 'ok', detail: `a namespace labelled pod-security.kubernetes.io/enforce=privileged is admitted (server-side dry run of ${probeNs})` });
  } catch (e) {
    checks.push({ name: 'Pod Security', status: 'missing', detail: `the run's namespaces are refused: ${apiMessage(e)}`, fix: 'istio-init needs NET_ADMIN and NET_RAW and the node debug pod is privileged: allow the privileged level for namespaces pathlab-* (or use a cluster where they are exempt)' });
  }
  return { checks, ok: checks.every((c) => c.status !== 'missing') };
}

export function formatClusterDoctor(r: DoctorReport): string {
  return formatDoctor(r, 'the cluster backend can run on this context');
}
