// The argument vectors behind the kind backend's evidence: what runs on the host, in the
// kind node, in the pod's network namespace, and as the proxy uid.
import test from 'ava';
import { backgroundFileArgv, backgroundFilePath, backgroundStartArgv, containerIdOf, controlSynArgv, envoyAdminArgv, inPodNetnsArgv, iptablesSaveArgv, kernelTraceArgvs, nodeContainerPidArgv } from '../../../../src/lab/kind/evidence.ts';

const ID = 'f1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90';

test('container ids as kubelet reports them lose their runtime scheme; anything else is refused', (t) => {
  t.is(containerIdOf(`containerd://${ID}`), ID);
  t.throws(() => containerIdOf('containerd://; rm -rf /'), { message: /not a container id/ });
  t.throws(() => containerIdOf(ID), { message: /not a container id/ });
});

test('the pod netns is entered from the node by pid; iptables-save and traces go through it', (t) => {
  t.deepEqual(nodeContainerPidArgv('pathlab-a1b2c3-control-plane', ID), ['docker', 'exec', 'pathlab-a1b2c3-control-plane', 'crictl', 'inspect', '--output', 'go-template', '--template', '{{.info.pid}}', ID]);
  t.deepEqual(iptablesSaveArgv('n', 4242), ['docker', 'exec', 'n', 'nsenter', '-t', '4242', '-n', '--', 'iptables-nft-save']);
  t.deepEqual(iptablesSaveArgv('n', 4242, 'legacy').slice(-1), ['iptables-legacy-save']);
  const tr = kernelTraceArgvs('n', 4242, 'trace-1', [{ chain: 'OUTPUT', proto: 'tcp', dst: '10.0.0.6', dport: 7000 }]);
  t.deepEqual(tr.add[0]!.slice(8), ['iptables-nft', '-t', 'raw', '-I', 'OUTPUT', '1', '-p', 'tcp', '-d', '10.0.0.6', '--dport', '7000', '-j', 'TRACE']);
  t.deepEqual(tr.remove[0]!.slice(8), ['iptables-nft', '-t', 'raw', '-D', 'OUTPUT', '-p', 'tcp', '-d', '10.0.0.6', '--dport', '7000', '-j', 'TRACE']);
  t.deepEqual(tr.start.slice(-8), ['trace-1', 'nsenter', '-t', '4242', '-n', '--', 'xtables-monitor', '--trace']);
  t.deepEqual(tr.listings.map((l) => l.table), ['raw', 'mangle', 'nat', 'filter']);
  t.throws(() => iptablesSaveArgv('n', 0), { message: /not a pid/ });
  t.throws(() => inPodNetnsArgv('n', '<pid; rm -rf />' as `<${string}>`, ['true']), { message: /not a pid placeholder/ });
});

test('the positive control is sent from the node as uid/gid 1337, which ISTIO_OUTPUT does not redirect', (t) => {
  t.deepEqual(controlSynArgv('n', 4242, '10.0.0.6', 9), ['docker', 'exec', 'n', 'nsenter', '-t', '4242', '-n', '-S', '1337', '-G', '1337', '--', 'timeout', '1', 'bash', '-c', 'exec 3<>"/dev/tcp/$0/$1"', '10.0.0.6', '9']);
});

test('background keys are names, never shell text', (t) => {
  t.throws(() => backgroundStartArgv('a;b', ['true']), { message: /not a background key/ });
  t.throws(() => backgroundStartArgv('$(x)', ['true']), { message: /not a background key/ });
  // The command goes in as arguments after the script, not into the script text.
  const argv = backgroundStartArgv('cap-1', ['tcpdump', '-i', 'eth0', 'tcp and port 7000']);
  t.deepEqual(argv.slice(3), ['sh', 'cap-1', 'tcpdump', '-i', 'eth0', 'tcp and port 7000']);
  // The full pcap's file is named by the key too, and read back by it (base64: the exec API's answer is text).
  t.is(backgroundFilePath('pcap-1', 'pcap'), '/tmp/pathlab/pcap-1.pcap');
  t.deepEqual(backgroundFileArgv('pcap-1', 'pcap').slice(3), ['sh', 'pcap-1', 'pcap']);
  t.throws(() => backgroundFileArgv('../x', 'pcap'), { message: /not a background key/ });
});

test('sidecar evidence: admin through pilot-agent, the access log of the istio-proxy container', (t) => {
  t.deepEqual(envoyAdminArgv('config_dump'), ['pilot-agent', 'request', 'GET', 'config_dump']);
});

