// Node access on a cluster that is not a kind lab. On kind, the node-side evidence commands
// (src/lab/kind/evidence.ts: the pod's pid, iptables-save and the kernel trace by nsenter, the
// control SYN) run as `docker exec <node> …`. Here there is no Docker: each such command runs
// in a node debug pod instead, one per node, made on first use in the run's own namespace:
// privileged, in the host's pid namespace, pinned to the node (what `kubectl debug node/…
// --profile=sysadmin` makes). The pod's pid comes from /proc/*/cgroup, which names the
// container's id, rather than from crictl, which the toolbox image lacks. When the cluster
// refuses the pod (RBAC, Pod Security admission, a policy engine), every node command answers
// exit 126 with the refusal, so a probe that needs the node says why and never passes.
import type { KubeConfig } from '@kubernetes/client-node';
import type { ExecResult } from '../exec.ts';
import { exec } from '../exec.ts';
import { PodExecClient } from '../kind/exec-client.ts';
import { LAB_LABEL } from '../kind/labels.ts';
import { apiMessage } from '../kind/api-message.ts';
import { setTimeout as sleep } from 'node:timers/promises';

export const NODE_DEBUG_CONTAINER = 'debug';

/** The node debug pod for `node` (pure): privileged, host pid namespace, on that node, idle. */
export function nodeDebugPod(node: string, namespace: string, image: string, runId: string) {
  // A node name is a DNS subdomain; the pod's name must stay a label of at most 63 characters.
  const name = `pathlab-node-${node.toLowerCase().replace(/[^a-z0-9-]/g, '-')}`.slice(0, 63).replace(/-+$/, '');
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels: { [LAB_LABEL]: runId, 'pathlab.dev/node-debug': 'true' }, annotations: { 'sidecar.istio.io/inject': 'false' } },
    spec: {
      nodeName: node,
      hostPID: true,
      restartPolicy: 'Never',
      terminationGracePeriodSeconds: 0,
      tolerations: [{ operator: 'Exists' }],
      containers: [{ name: NODE_DEBUG_CONTAINER, image, command: ['sleep', 'infinity'], securityContext: { privileged: true } }],
    },
  };
}

/** What a node command of evidence.ts runs in the node debug pod: the same argv, but the pid by cgroup instead of crictl. */
export function nodeDebugArgv(argv: readonly string[]): string[] {
  if (argv[0] === 'crictl' && argv[1] === 'inspect') {
    const id = argv.at(-1)!;
    // A container id, or the plan's placeholder for one (`<container id of app>`).
    if (!/^([0-9a-f]{12,64}|<[^'<>]+>)$/.test(id)) throw new Error(`not a container id: ${id}`);
    // The first process whose cgroup path names the container: any of them is in the pod's network namespace.
    return ['sh', '-c', `grep -l ${id} /proc/[0-9]*/cgroup 2>/dev/null | head -n 1 | cut -d/ -f3`];
  }
  return [...argv];
}

type Runner = (argv: readonly string[], opts?: { input?: string; timeoutMs?: number }) => Promise<ExecResult>;

export class NodeDebug {
  private pods = new Map<string, Promise<{ name: string } | { refused: string }>>();
  private readonly client: PodExecClient;

  constructor(
    private readonly kc: KubeConfig,
    private readonly namespace: string,
    private readonly image: string,
    private readonly runId: string,
  ) {
    this.client = new PodExecClient(kc);
  }

  /** The node debug pod of `node`, made and waited for once; or why the cluster refused it. */
  private pod(node: string): Promise<{ name: string } | { refused: string }> {
    let p = this.pods.get(node);
    if (!p) {
      p = this.make(node);
      this.pods.set(node, p);
    }
    return p;
  }

  private async make(node: string): Promise<{ name: string } | { refused: string }> {
    const { CoreV1Api } = await import('@kubernetes/client-node');
    const api = this.kc.makeApiClient(CoreV1Api);
    const body = nodeDebugPod(node, this.namespace, this.image, this.runId);
    try {
      await api.createNamespacedPod({ namespace: this.namespace, body: body as never });
    } catch (e) {
      return { refused: `the cluster refused a privileged node debug pod on ${node} in ${this.namespace}: ${apiMessage(e)}` };
    }
    for (let i = 0; i < 120; i++) {
      const now = await api.readNamespacedPod({ name: body.metadata.name, namespace: this.namespace }).catch(() => undefined);
      if (now?.status?.containerStatuses?.find((c) => c.name === NODE_DEBUG_CONTAINER)?.state?.running) return { name: body.metadata.name };
      const waiting = now?.status?.containerStatuses?.[0]?.state?.waiting?.reason;
      if (waiting && /ErrImagePull|ImagePullBackOff|CreateContainerError/.test(waiting)) return { refused: `the node debug pod on ${node} does not start: ${waiting}` };
      await sleep(500);
    }
    return { refused: `the node debug pod on ${node} was not running within 60 s` };
  }

  /**
   * A runner for evidence.ts's node commands: `docker exec <node> argv` runs argv in that node's
   * debug pod (exit 126 with the reason when the cluster refused it); anything else runs here.
   */
  readonly runner: Runner = async (argv, opts = {}) => {
    if (argv[0] !== 'docker' || argv[1] !== 'exec' || argv[2] === undefined) return exec(argv, { ...opts, where: 'host' });
    const pod = await this.pod(argv[2]);
    if ('refused' in pod) return { argv, where: `node ${argv[2]}`, exitCode: 126, signal: null, stdout: '', stderr: `no node access: ${pod.refused}`, durationMs: 0, timedOut: false };
    return this.client.exec({ namespace: this.namespace, pod: pod.name, container: NODE_DEBUG_CONTAINER }, nodeDebugArgv(argv.slice(3)), opts);
  };
}
