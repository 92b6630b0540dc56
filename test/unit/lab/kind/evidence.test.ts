// The argument vectors behind the kind backend's evidence: what runs on the host, in the
// kind node, in the pod's network namespace, and as the proxy uid.
import test from 'ava';
import { accessLogArgv, asProxyUid, containerIdOf, envoyAdminArgv, iptablesSaveArgv, kernelTracePlan, nodeContainerPidArgv, tcpdumpArgv } from '../../../../src/lab/kind/evidence.ts';

const ID = 'f1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90';

test('container ids as kubelet reports them lose their runtime scheme; anything else is refused', (t) => {
  t.is(containerIdOf(`containerd://${ID}`), ID);
  t.throws(() => containerIdOf('containerd://; rm -rf /'), { message: /not a container id/ });
  t.throws(() => containerIdOf(ID), { message: /not a container id/ });
});

test('the pod netns is entered from the node by pid; iptables-save and traces go through it', (t) => {
  t.deepEqual(nodeContainerPidArgv('pathlab-a1b2c3-control-plane', ID), ['docker', 'exec', 'pathlab-a1b2c3-control-plane', 'crictl', 'inspect', '--output', 'go-template', '--template', '{{.info.pid}}', ID]);
  t.deepEqual(iptablesSaveArgv('n', 4242), ['docker', 'exec', 'n', 'nsenter', '-t', '4242', '-n', '--', 'iptables-save']);
  const tr = kernelTracePlan('n', 4242, { dst: '10.0.0.6', dport: 7000 });
  t.deepEqual(tr.add.slice(8), ['iptables', '-t', 'raw', '-I', 'OUTPUT', '1', '-p', 'tcp', '-d', '10.0.0.6', '--dport', '7000', '-j', 'TRACE']);
  t.deepEqual(tr.remove.slice(8), ['iptables', '-t', 'raw', '-D', 'OUTPUT', '-p', 'tcp', '-d', '10.0.0.6', '--dport', '7000', '-j', 'TRACE']);
  t.deepEqual(tr.monitor.slice(8), ['xtables-monitor', '--trace']);
  t.throws(() => iptablesSaveArgv('n', 0), { message: /not a pid/ });
});

test('sidecar evidence: admin through pilot-agent, the access log of the istio-proxy container', (t) => {
  t.deepEqual(envoyAdminArgv('config_dump'), ['pilot-agent', 'request', 'GET', 'config_dump']);
  t.deepEqual(accessLogArgv('kind-pathlab-a1b2c3', 'default', 'app-1', '2026-11-21T20:00:00Z'), [
    'kubectl', '--context', 'kind-pathlab-a1b2c3', '-n', 'default', 'logs', 'app-1', '-c', 'istio-proxy', '--since-time=2026-11-21T20:00:00Z',
  ]);
});

test('traffic that must bypass the sidecar runs as uid/gid 1337; tcpdump resolves nothing', (t) => {
  t.deepEqual(asProxyUid(['nc', '10.0.0.6', '7000']), ['setpriv', '--reuid=1337', '--regid=1337', '--clear-groups', '--', 'nc', '10.0.0.6', '7000']);
  t.deepEqual(tcpdumpArgv('eth0', 'tcp and host 10.0.0.6', { count: 20 }), ['tcpdump', '-nn', '-tt', '-l', '-i', 'eth0', '-c', '20', 'tcp and host 10.0.0.6']);
});
