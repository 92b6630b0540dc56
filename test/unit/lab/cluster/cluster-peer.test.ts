// The cluster backend against a local server that speaks the Kubernetes API for the calls it
// makes (JSON over HTTP, Status objects for refusals, as kube-apiserver answers them): the
// doctor's access reviews and Pod Security dry run, and a run's evidence on a cluster that
// refuses ephemeral containers or privileged node debug pods. A refusal must reach the user as
// what was refused and what it costs, and a probe that needs what was refused must not pass.
import test from 'ava';
import { kubePeer, status, type PeerAnswer, type PeerRequest } from '../../../helpers/kube-peer.ts';
import { CAPTURE_CONTAINER } from '../../../../src/lab/kind/evidence.ts';
import { kubeConfigFor, pathlabWithKubeconfig } from '../../../helpers/kube.ts';
import { formatClusterDoctor, runClusterDoctor, CLUSTER_PERMISSIONS } from '../../../../src/lab/cluster/doctor.ts';
import { NodeDebug } from '../../../../src/lab/cluster/node-debug.ts';
import { KindProbeLab } from '../../../../src/lab/kind/probe-lab.ts';

interface Policy {
  /** resourceAttributes → allowed */
  allow(attrs: { verb: string; resource: string; subresource?: string; group?: string }): boolean;
  /** The Pod Security admission refusing privileged namespaces and pods. */
  psaRefuses: boolean;
  ephemeralForbidden: boolean;
}

/** A command run through the exec API: its answer (stdout, exit code). */
type Answer = (container: string, command: string[]) => { stdout: string; exit: number };
const RULES = '*nat\n:PREROUTING ACCEPT [0:0]\n:ISTIO_INBOUND - [0:0]\n-A PREROUTING -p tcp -j ISTIO_INBOUND\nCOMMIT\n';
const noExec: Answer = (_c, command) => ({ stdout: '', exit: command.length ? 127 : 0 });

const USER = 'alice@example.com';
const forbidden = (message: string) => ({ code: 403, body: status(403, 'Forbidden', message) });

const POD = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'app-7d9c-xk2', namespace: 'pathlab-r1-default', labels: { 'pathlab.dev/pod': 'app', 'pathlab.dev/lab': 'r1' } },
  spec: { nodeName: 'node-a', containers: [{ name: 'app', image: 'x' }, { name: 'istio-proxy', image: 'y' }] },
  status: { phase: 'Running', podIP: '10.8.1.7', containerStatuses: [{ name: 'app', ready: true, restartCount: 0, image: 'x', imageID: 'x', containerID: 'containerd://0123456789abcdef0123', state: { running: {} } }] },
};

function peer(policy: Policy, answer: Answer = noExec) {
  // The ephemeral containers added so far: the pod reports them running.
  const ephemeral: unknown[] = [];
  const pod = () => ({ ...POD, spec: { ...POD.spec, ephemeralContainers: ephemeral }, status: { ...POD.status, ephemeralContainerStatuses: ephemeral.map((c) => ({ name: (c as { name: string }).name, ready: false, restartCount: 0, image: 'x', imageID: 'x', state: { running: {} } })) } });
  const route = ({ method, path, query, body }: PeerRequest): PeerAnswer => {
    if (method === 'GET' && path === '/version') return { code: 200, body: { major: '1', minor: '36', gitVersion: 'v1.36.1', gitCommit: 'abc', gitTreeState: 'clean', buildDate: '2026-05-01T00:00:00Z', goVersion: 'go1.26', compiler: 'gc', platform: 'linux/amd64' } };
    if (method === 'GET' && path === '/apis/apps/v1/namespaces/istio-system/deployments/istiod')
      return { code: 200, body: { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'istiod', namespace: 'istio-system' }, spec: { selector: {}, template: { spec: { containers: [{ name: 'discovery', image: 'docker.io/istio/pilot:1.30.3' }] } } } } };
    if (method === 'POST' && path === '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews') {
      const attrs = (body!.spec as { resourceAttributes: { verb: string; resource: string; subresource?: string; group?: string } }).resourceAttributes;
      const allowed = policy.allow(attrs);
      return { code: 201, body: { ...body, status: { allowed, ...(allowed ? {} : { reason: `no RBAC policy matched for ${USER}` }) } } };
    }
    if (method === 'POST' && path === '/api/v1/namespaces' && query.get('dryRun') === 'All') {
      if (policy.psaRefuses) return forbidden('admission webhook "validate.kyverno.svc" denied the request: namespaces may not set pod-security.kubernetes.io/enforce=privileged');
      return { code: 201, body };
    }
    if (method === 'GET' && path === '/api/v1/namespaces/pathlab-r1-default/pods') return { code: 200, body: { apiVersion: 'v1', kind: 'PodList', metadata: {}, items: [pod()] } };
    if (method === 'GET' && path === `/api/v1/namespaces/pathlab-r1-default/pods/${POD.metadata.name}`) return { code: 200, body: pod() };
    if (method === 'PUT' && path === `/api/v1/namespaces/pathlab-r1-default/pods/${POD.metadata.name}/ephemeralcontainers`) {
      if (policy.ephemeralForbidden) return forbidden(`pods "${POD.metadata.name}" is forbidden: User "${USER}" cannot update resource "pods/ephemeralcontainers" in API group "" in the namespace "pathlab-r1-default"`);
      ephemeral.splice(0, ephemeral.length, ...((body!.spec as { ephemeralContainers?: unknown[] }).ephemeralContainers ?? []));
      return { code: 200, body: pod() };
    }
    if (method === 'POST' && path === '/api/v1/namespaces/pathlab-r1-nodes/pods') {
      if (policy.psaRefuses) return forbidden('pods "pathlab-node-node-a" is forbidden: violates PodSecurity "baseline:latest": host namespaces (hostPID=true), privileged (container "debug" must not set securityContext.privileged=true)');
      return { code: 201, body };
    }
    return undefined;
  };
  return kubePeer({ route, exec: (c) => answer(c.container, c.command) });
}

const everything: Policy = { allow: () => true, psaRefuses: false, ephemeralForbidden: false };
const noEphemeral: Policy = { allow: (a) => a.subresource !== 'ephemeralcontainers', psaRefuses: false, ephemeralForbidden: true };
const strictPsa: Policy = { allow: () => true, psaRefuses: true, ephemeralForbidden: false };

const doctorCli = (url: string) => pathlabWithKubeconfig(url, 'staging', ['doctor', '--context', 'staging']);

test.serial('doctor --context: a cluster that allows every call the run makes passes, each permission asked of the API server', async (t) => {
  const p = await peer(everything);
  try {
    const r = await doctorCli(p.url);
    t.is(r.code, 0, r.out + r.err);
    t.regex(r.out, /^ok {3}API server: Kubernetes v1\.36\.1$/m);
    t.regex(r.out, /^ok {3}Istio: istiod 1\.30\.3/m);
    t.regex(r.out, /^ok {3}RBAC update pods\/ephemeralcontainers: the capture container/m);
    t.regex(r.out, /^ok {3}Pod Security: a namespace labelled pod-security\.kubernetes\.io\/enforce=privileged is admitted/m);
    t.regex(r.out, /the cluster backend can run on this context\n$/);
    // One review per permission, and the namespace only in a dry run: nothing stored.
    t.is(p.seen.filter((s) => s.startsWith('POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews')).length, CLUSTER_PERMISSIONS.length);
    t.deepEqual(p.seen.filter((s) => s.startsWith('POST /api/v1/namespaces')), ['POST /api/v1/namespaces?dryRun=All']);
  } finally {
    await p.close();
  }
});

test.serial('doctor --context: a cluster that forbids ephemeral containers fails on that line, saying what it costs (exit 3)', async (t) => {
  const p = await peer(noEphemeral);
  try {
    const r = await doctorCli(p.url);
    t.is(r.code, 3);
    t.regex(r.out, /^FAIL RBAC update pods\/ephemeralcontainers: denied \(no RBAC policy matched for alice@example\.com\): needed for the capture container \(tcpdump\); without it no packet is captured and every probe fails, saying so$/m);
    t.regex(r.out, /^ {5}fix: grant update pods\/ephemeralcontainers in the namespaces pathlab-<run id>-\*/m);
    t.regex(r.out, /the cluster backend cannot run on this context: fix the FAIL lines above\n$/);
  } finally {
    await p.close();
  }
});

test.serial('doctor --context: Pod Security that refuses the run\'s privileged namespaces fails, with the admission\'s words', async (t) => {
  const p = await peer(strictPsa);
  try {
    const kc = kubeConfigFor(p.url, 'staging');
    const report = await runClusterDoctor('staging', kc);
    t.false(report.ok);
    t.regex(formatClusterDoctor(report), /^FAIL Pod Security: the run's namespaces are refused: 403 admission webhook "validate\.kyverno\.svc" denied the request/m);
  } finally {
    await p.close();
  }
});

test.serial('a run on a cluster that forbids ephemeral containers: the probe\'s capture fails with the refusal, so the probe cannot pass', async (t) => {
  const p = await peer(noEphemeral);
  try {
    // Node access is not what is under test here: the pod's pid comes from a runner that knows it.
    const lab = new KindProbeLab({ kc: kubeConfigFor(p.url, 'staging'), namespaces: new Map([['app', 'pathlab-r1-default']]), captureImage: 'toolbox', labSelector: 'pathlab.dev/lab=r1', backend: 'cluster', host: async (argv) => ({ argv, where: 'node', exitCode: 0, signal: null, stdout: '4242\n', stderr: '', durationMs: 1, timedOut: false }) });
    t.is(lab.backend, 'cluster');
    const e = await t.throwsAsync(lab.watch('app', { trace: [], syns: true, captures: [] }));
    t.regex(e!.message, /^pathlab-r1-default\/app-7d9c-xk2: the cluster refused the capture container \(an ephemeral container, for tcpdump\): 403 pods "app-7d9c-xk2" is forbidden: User "alice@example\.com" cannot update resource "pods\/ephemeralcontainers".*; without it no packet is captured, so the probe cannot be checked$/);
  } finally {
    await p.close();
  }
});

test.serial('a run on a cluster whose Pod Security refuses the node debug pod: every node command says so (exit 126); the rules are read in the capture container, and the kernel hop is said to be unobserved', async (t) => {
  const answer: Answer = (container, command) => {
    if (container === 'app' && command[0] === 'sh') return { stdout: '1000 1000\n', exit: 0 };
    if (container === CAPTURE_CONTAINER && command[0] === 'iptables-nft-save') return { stdout: RULES, exit: 0 };
    if (container === CAPTURE_CONTAINER && command[0] === 'setpriv') return { stdout: '', exit: 0 };
    return { stdout: '', exit: 127 };
  };
  const p = await peer(strictPsa, answer);
  try {
    const kc = kubeConfigFor(p.url, 'staging');
    const nodes = new NodeDebug(kc, 'pathlab-r1-nodes', 'toolbox', 'r1');
    const r = await nodes.runner(['docker', 'exec', 'node-a', 'crictl', 'inspect', '--output', 'go-template', '--template', '{{.info.pid}}', '0123456789abcdef0123']);
    t.is(r.exitCode, 126);
    t.regex(r.stderr, /^no node access: the cluster refused a privileged node debug pod on node-a in pathlab-r1-nodes: 403 pods "pathlab-node-node-a" is forbidden: violates PodSecurity "baseline:latest"/);
    // The pod is asked for once per node, not once per command.
    await nodes.runner(['docker', 'exec', 'node-a', 'nsenter', '-t', '1', '-n', '--', 'iptables-nft-save']);
    t.is(p.seen.filter((s) => s === 'POST /api/v1/namespaces/pathlab-r1-nodes/pods').length, 1);

    const lab = new KindProbeLab({ kc, namespaces: new Map([['app', 'pathlab-r1-default']]), captureImage: 'toolbox', backend: 'cluster', host: nodes.runner });
    t.deepEqual(await lab.pod('app'), { name: 'app', ip: '10.8.1.7', meshed: true });
    // iptables-save: the flavour and the rules, from the capture container (NET_ADMIN) in the pod's own network namespace.
    const rules = await lab.netns('app', ['iptables-save']);
    t.is(rules.stdout, RULES);
    t.deepEqual(p.seen.filter((s) => s.startsWith(`EXEC ${CAPTURE_CONTAINER}`)), [`EXEC ${CAPTURE_CONTAINER} iptables-nft-save`, `EXEC ${CAPTURE_CONTAINER} iptables-nft-save`]);
    const w = await lab.watch('app', { trace: [{ chain: 'OUTPUT', proto: 'tcp', dport: 7000 }], syns: false, captures: [] });
    await lab.controlSyn('app', '10.8.1.9', 9);
    const rec = await w.end();
    t.is(rec.trace, '');
    t.deepEqual(rec.notes, ['the kernel hop could not be observed in pathlab-r1-default/app-7d9c-xk2: the cluster refused a privileged node debug pod on node-a in pathlab-r1-nodes: 403 pods "pathlab-node-node-a" is forbidden: violates PodSecurity "baseline:latest": host namespaces (hostPID=true), privileged (container "debug" must not set securityContext.privileged=true); its iptables hops are missing from the observed path, so a path that names them fails']);
    // The positive control goes out as the proxy uid from the capture container.
    t.true(p.seen.includes(`EXEC ${CAPTURE_CONTAINER} setpriv --reuid=1337 --regid=1337 --clear-groups timeout 1 bash -c exec 3<>"/dev/tcp/$0/$1" 10.8.1.9 9`));
  } finally {
    await p.close();
  }
});
