// The guard's decision, case by case: only a kind cluster this tool created (context
// kind-pathlab-<id>, local API server, kube-system labelled with that id and annotated as
// created by istio-pathlab) is accepted, unless the user names the context and says
// --i-know-this-is-not-a-lab.
import { createServer, type AddressInfo } from 'node:net';
import test from 'ava';
import { KubeConfig } from '@kubernetes/client-node';
import { checkContext } from '../../../../src/lab/kind/kind-lab.ts';
import { decideContext, type ContextFacts, type GuardOverride } from '../../../../src/lab/kind/guard.ts';

const ours = { labels: { 'pathlab.dev/lab': 'a1b2c3', 'kubernetes.io/metadata.name': 'kube-system' }, annotations: { 'pathlab.dev/created-by': 'istio-pathlab' } };
const local = 'https://127.0.0.1:41234';

const cases: Array<{ name: string; facts: ContextFacts; override?: GuardOverride; allow: boolean; reason?: RegExp }> = [
  { name: 'a lab context with its label and annotation', facts: { context: 'kind-pathlab-a1b2c3', server: local, kubeSystem: ours }, allow: true },
  { name: 'a kind cluster not made by pathlab', facts: { context: 'kind-kind', server: local, kubeSystem: ours }, allow: false, reason: /not named kind-pathlab-<id>/ },
  { name: 'a production context', facts: { context: 'prod-eu-west', server: 'https://k8s.example.com', kubeSystem: ours }, allow: false, reason: /not named kind-pathlab-<id>/ },
  { name: 'a renamed remote cluster', facts: { context: 'kind-pathlab-a1b2c3', server: 'https://10.1.2.3:6443', kubeSystem: ours }, allow: false, reason: /not a local kind API server/ },
  { name: 'kube-system without the lab label', facts: { context: 'kind-pathlab-a1b2c3', server: local, kubeSystem: { labels: {}, annotations: {} } }, allow: false, reason: /no pathlab\.dev\/lab label/ },
  { name: 'kube-system labelled for another lab', facts: { context: 'kind-pathlab-a1b2c3', server: local, kubeSystem: { ...ours, labels: { 'pathlab.dev/lab': 'ffffff' } } }, allow: false, reason: /pathlab\.dev\/lab=ffffff, but the context names lab a1b2c3/ },
  { name: 'label without the created-by annotation', facts: { context: 'kind-pathlab-a1b2c3', server: local, kubeSystem: { ...ours, annotations: {} } }, allow: false, reason: /lacks pathlab\.dev\/created-by=istio-pathlab/ },
  { name: 'kube-system unreadable (cluster down)', facts: { context: 'kind-pathlab-a1b2c3', server: local }, allow: false, reason: /could not be read/ },
  { name: 'override naming the context', facts: { context: 'staging' }, override: { context: 'staging', iKnowThisIsNotALab: true }, allow: true },
  { name: 'override for a different context', facts: { context: 'prod' }, override: { context: 'staging', iKnowThisIsNotALab: true }, allow: false, reason: /given for context "staging", not for "prod"/ },
  { name: 'override without --context', facts: { context: 'prod' }, override: { iKnowThisIsNotALab: true }, allow: false, reason: /needs the context/ },
  { name: '--context alone does not override', facts: { context: 'prod', kubeSystem: ours }, override: { context: 'prod' }, allow: false, reason: /not named kind-pathlab-<id>/ },
];

for (const c of cases) {
  test(`guard: ${c.name} -> ${c.allow ? 'allowed' : 'refused'}`, (t) => {
    const d = decideContext(c.facts, c.override);
    t.is(d.allow, c.allow, JSON.stringify(d));
    if (!d.allow) {
      if (c.reason) t.regex(d.reason, c.reason);
      t.regex(d.fix, /--i-know-this-is-not-a-lab|--context|kubectl/);
    }
  });
}

test('guard: an accepted lab context reports its id', (t) => {
  const d = decideContext({ context: 'kind-pathlab-a1b2c3', server: local, kubeSystem: ours });
  t.true(d.allow && d.labId === 'a1b2c3');
});

// Before: the guard read kube-system (sending the context's bearer token) and only then
// refused the server for not being local. A recording server on another loopback address
// (127.0.0.2 is not one the guard takes for kind's) must receive nothing.
test('guard: a context whose server is not local receives no request, and so never the token', async (t) => {
  let connections = 0;
  const server = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.2', resolve));
  const port = (server.address() as AddressInfo).port;
  try {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'elsewhere', server: `https://127.0.0.2:${port}`, skipTLSVerify: true }],
      users: [{ name: 'u', token: 'secret-token' }],
      contexts: [{ name: 'kind-pathlab-a1b2c3', cluster: 'elsewhere', user: 'u' }],
      currentContext: 'kind-pathlab-a1b2c3',
    });
    const d = await checkContext(kc, 'kind-pathlab-a1b2c3');
    t.false(d.allow);
    t.regex(d.reason, /is not a local kind API server/);
    t.is(connections, 0);
  } finally {
    server.close();
  }
});
