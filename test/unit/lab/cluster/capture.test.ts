// pathlab capture and explain --context against a local Kubernetes API and exec peer that answers
// with recorded real outputs: a real pod's iptables-save (seed 002's Istio 1.14 pod) and a real
// sidecar config_dump (Istio's own productpage dump), to which the peer adds a secret with a
// private key (made here, for the test) that must never reach the capture folder. Also: a pod
// without a sidecar and a pod the user may not exec into (exit 3, saying so), a pod that does not
// exist (exit 2), and the checks a capture folder passes on load.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { pathlabWithKubeconfig } from '../../../helpers/kube.ts';
import { kubePeer, type ExecAnswer, type ExecCall, type PeerRequest } from '../../../helpers/kube-peer.ts';
import { readFixture } from '../../../helpers/shared-fixtures.ts';
import { CAPTURE_CONTAINER } from '../../../../src/lab/kind/evidence.ts';
import { CaptureLoadError, loadCapture } from '../../../../src/scenario/capture.ts';
import { privateKeyIn } from '../../../../src/mesh/envoy/redact.ts';
import { loadScenarioFile } from '../../../../src/scenario/loader.ts';

const RULES = readFixture('iptables', 'seed002-istio-1.14.3.save');
const DUMP = JSON.parse(readFixture('envoy', 'productpage_config_dump.json')) as { configs: unknown[] };
const KEY = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
// The dump as a sidecar with a static secret would give it: its key inline, twice (PEM text, and base64 bytes).
const SECRET = { '@type': 'type.googleapis.com/envoy.admin.v3.SecretsConfigDump', static_secrets: [{ name: 'default', secret: { name: 'default', tls_certificate: { certificate_chain: { inline_string: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n' }, private_key: { inline_string: KEY } } } }], dynamic_active_secrets: [{ name: 'ROOTCA', secret: { name: 'ROOTCA', generic_secret: { secret: { inline_bytes: Buffer.from(KEY).toString('base64') } } } }] };
const DUMP_WITH_KEY = JSON.stringify({ configs: [...DUMP.configs, SECRET] });

const pod = (name: string, containers: string[]) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'default', labels: { app: 'productpage', version: 'v1' }, annotations: { 'sidecar.istio.io/status': '{"initContainers":["istio-init"]}' } },
  spec: { nodeName: 'node-a', initContainers: containers.includes('istio-proxy') ? [{ name: 'istio-init', image: 'proxyv2', args: ['istio-iptables', '-p', '15001', '-z', '15006', '-u', '1337', '-m', 'REDIRECT', '-i', '*', '-x', '', '-b', '*', '-d', '15090,15021,15020'] }] : [], containers: containers.map((c) => ({ name: c, image: 'x' })) },
  status: { phase: 'Running', podIP: '10.52.2.21' },
});

function cluster(o: { exec?: (c: ExecCall) => ExecAnswer } = {}) {
  const ephemeral: unknown[] = [];
  // The sidecar logs the connection once it was made.
  let connected = false;
  const route = ({ method, path, body }: PeerRequest) => {
    const withEphemeral = (p: ReturnType<typeof pod>) => ({ ...p, spec: { ...p.spec, ephemeralContainers: ephemeral }, status: { ...p.status, ephemeralContainerStatuses: ephemeral.map((c) => ({ name: (c as { name: string }).name, ready: false, restartCount: 0, image: 'x', imageID: 'x', state: { running: {} } })) } });
    if (method === 'GET' && path === '/api/v1/namespaces/default/pods/productpage-v1-6b746f74dc-9stvs') return { code: 200, body: withEphemeral(pod('productpage-v1-6b746f74dc-9stvs', ['productpage', 'istio-proxy'])) };
    if (method === 'GET' && path === '/api/v1/namespaces/default/pods/plain-5d8f') return { code: 200, body: pod('plain-5d8f', ['app']) };
    if (method === 'PUT' && path === '/api/v1/namespaces/default/pods/productpage-v1-6b746f74dc-9stvs/ephemeralcontainers') {
      ephemeral.splice(0, ephemeral.length, ...((body!.spec as { ephemeralContainers: unknown[] }).ephemeralContainers ?? []));
      return { code: 200, body: withEphemeral(pod('productpage-v1-6b746f74dc-9stvs', ['productpage', 'istio-proxy'])) };
    }
    // The line upstream Envoy 1.38 logged for this connection when the same dump was replayed in the netns lab (Istio's default format, the lab's chain field dropped).
    if (method === 'GET' && path === '/api/v1/namespaces/default/pods/productpage-v1-6b746f74dc-9stvs/log') return { code: 200, body: connected ? '[2026-12-02T03:37:22.565Z] "- - HTTP/1.1" 400 DPE http1.codec_error - "-" 0 11 0 - "-" "-" "-" "-" "-" - - 10.0.0.6:9080 10.52.2.21:36952 - -\n' : '' };
    if (method === 'GET' && path === '/api/v1/namespaces/istio-system/configmaps/istio') return { code: 200, body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'istio', namespace: 'istio-system' }, data: { mesh: 'outboundTrafficPolicy:\n  mode: ALLOW_ANY\n' } } };
    if (method === 'GET' && path === '/apis/apps/v1/namespaces/istio-system/deployments/istiod') return { code: 200, body: { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'istiod' }, spec: { selector: {}, template: { spec: { containers: [{ name: 'discovery', image: 'docker.io/istio/pilot:1.30.3' }] } } } } };
    return undefined;
  };
  const exec =
    o.exec ??
    ((c: ExecCall): ExecAnswer => {
      if (c.container === 'istio-proxy' && c.command.join(' ') === 'pilot-agent request GET config_dump?include_eds') return { stdout: DUMP_WITH_KEY, exit: 0 };
      if (c.container === 'istio-proxy' && c.command.join(' ') === 'pilot-agent request GET server_info') return { stdout: '{"version":"2b5c1e6b/1.30.3/Clean/RELEASE/BoringSSL"}', exit: 0 };
      if (c.container === CAPTURE_CONTAINER && c.command[0] === 'iptables-nft-save') return { stdout: RULES, exit: 0 };
      if (c.container === CAPTURE_CONTAINER && c.command[0] === 'sh' && / nc -w 3 /.test(c.command[2] ?? '') && c.command[4] === '10.0.0.6' && c.command[5] === '9080') {
        connected = true;
        // What the replayed 1.1.1 sidecar answers the bytes on 9080 (its HTTP listener's one match-all chain).
        return { stdout: 'HTTP/1.1 400 Bad Request\r\ncontent-length: 11\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\nBad Request', exit: 0 };
      }
      if (c.container === CAPTURE_CONTAINER && c.command[0] === 'conntrack') return { stdout: 'tcp      6 119 TIME_WAIT src=10.52.2.21 dst=10.0.0.6 sport=36952 dport=9080 src=127.0.0.1 dst=10.52.2.21 sport=15001 dport=36952 [ASSURED] mark=0 use=1\n', exit: 0 };
      return { stderr: `${c.command[0]}: not found\n`, exit: 127 };
    });
  return kubePeer({ route, exec });
}

const cli = (url: string, args: string[]) => pathlabWithKubeconfig(url, 'prod', args);

test.serial('capture: the pod\'s real rules and config dump into a folder, every private key redacted, one connection recorded; the folder loads', async (t) => {
  const p = await cluster();
  const out = join(mkdtempSync(join(tmpdir(), 'pathlab-capture-')), 'incident');
  try {
    const r = await cli(p.url, ['capture', '--context', 'prod', '--pod', 'default/productpage-v1-6b746f74dc-9stvs', '--to', '10.0.0.6:9080', '--out', out]);
    t.is(r.code, 0, r.out + r.err);
    t.regex(r.out, /^captured default\/productpage-v1-6b746f74dc-9stvs \(Istio 1\.30\.3, Envoy 2b5c1e6b\/1\.30\.3\/Clean\/RELEASE\/BoringSSL\) into .*: capture\.yaml, config_dump\.json, iptables\.save, mesh\.yaml$/m);
    t.regex(r.out, /^note: 2 private key\(s\) in the config dump replaced by a placeholder$/m);
    t.deepEqual(readdirSync(out).sort(), ['capture.yaml', 'config_dump.json', 'iptables.save', 'mesh.yaml', 'scenario.yaml']);
    t.is(readFileSync(join(out, 'iptables.save'), 'utf8'), RULES);
    // The drafted replay: its lab is the capture, its probe expected as observed (the reply, the access log line's hop).
    t.regex(r.out, /^drafted .*scenario\.yaml: edit its expectations/m);
    const drafted = loadScenarioFile(join(out, 'scenario.yaml'));
    if (!drafted.ok) return t.fail(drafted.problems.map((x) => x.message).join('\n'));
    t.is(drafted.scenario.lab.capture, out);
    t.is(drafted.scenario.lab.pods[0]!.ip, '10.52.2.21');
    t.deepEqual(drafted.scenario.probes[0]!.expect, { reply: { pattern: '^HTTP/1\\.1 400 Bad Request' }, path: ['envoy listener=virtual -> listener=0.0.0.0_9080 flags=DPE'] });
    t.regex(readFileSync(join(out, 'scenario.yaml'), 'utf8'), /expected as it was observed at capture time/);
    const dump = readFileSync(join(out, 'config_dump.json'), 'utf8');
    t.is(privateKeyIn(dump), undefined);
    t.false(dump.includes(KEY.split('\n')[1]!), 'no line of the key');
    // Everything else of the dump is as the sidecar gave it.
    t.deepEqual((JSON.parse(dump) as { configs: unknown[] }).configs.slice(0, DUMP.configs.length), DUMP.configs);
    const c = loadCapture(out);
    t.is(c.manifest.pod.ip, '10.52.2.21');
    t.deepEqual(c.manifest.pod.istioInitArgs?.slice(0, 3), ['istio-iptables', '-p', '15001']);
    t.is(c.manifest.probe?.to, '10.0.0.6:9080');
    t.is(c.manifest.probe?.exitCode, 0);
    t.regex(c.manifest.probe?.conntrack ?? '', /dport=9080 .* sport=15001/);
    t.is(c.manifest.probe?.accessLog.length, 1);
    // The one change: the ephemeral container that read the rules.
    t.deepEqual(p.seen.filter((s) => !s.startsWith('GET') && !s.startsWith('EXEC')), ['PUT /api/v1/namespaces/default/pods/productpage-v1-6b746f74dc-9stvs/ephemeralcontainers']);
  } finally {
    await p.close();
    rmSync(join(out, '..'), { recursive: true, force: true });
  }
});

test.serial('explain --context: the live pod\'s rules and config, explained as from files', async (t) => {
  const p = await cluster();
  try {
    const live = await cli(p.url, ['explain', '--context', 'prod', '--pod', 'default/productpage-v1-6b746f74dc-9stvs', '--to', '10.0.0.6:7000', '-o', 'json']);
    t.is(live.code, 0, live.out + live.err);
    const dir = mkdtempSync(join(tmpdir(), 'pathlab-explain-files-'));
    try {
      writeFileSync(join(dir, 'dump.json'), DUMP_WITH_KEY);
      writeFileSync(join(dir, 'rules.save'), RULES);
      const files = await cli(p.url, ['explain', '--config-dump', join(dir, 'dump.json'), '--iptables', join(dir, 'rules.save'), '--src', '10.52.2.21', '--dst', '10.0.0.6:7000', '-o', 'json']);
      t.is(files.code, 0, files.err);
      t.deepEqual(JSON.parse(live.out), JSON.parse(files.out));
      t.regex(live.out, /"listener"/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  } finally {
    await p.close();
  }
});

test.serial('capture: a pod without a sidecar, a pod the user may not exec into (exit 3), a pod that does not exist (exit 2), a folder not empty (exit 2)', async (t) => {
  const p = await cluster({ exec: (c) => ({ forbidden: `pods "${c.pod}" is forbidden: User "sre@example.com" cannot create resource "pods/exec" in API group "" in the namespace "${c.namespace}"` }) });
  const root = mkdtempSync(join(tmpdir(), 'pathlab-capture-'));
  try {
    const plain = await cli(p.url, ['capture', '--context', 'prod', '--pod', 'default/plain-5d8f', '--out', join(root, 'a')]);
    t.is(plain.code, 3);
    t.regex(plain.err, /default\/plain-5d8f has no istio-proxy container: it has no sidecar, so there is no Envoy configuration to capture/);
    const noExec = await cli(p.url, ['capture', '--context', 'prod', '--pod', 'default/productpage-v1-6b746f74dc-9stvs', '--out', join(root, 'b')]);
    t.is(noExec.code, 3);
    t.regex(noExec.err, /you may not exec into default\/productpage-v1-6b746f74dc-9stvs \(container istio-proxy\): .*403.* \(RBAC: create pods\/exec\)/);
    const none = await cli(p.url, ['capture', '--context', 'prod', '--pod', 'default/nosuch', '--out', join(root, 'c')]);
    t.is(none.code, 2);
    t.regex(none.err, /the pod default\/nosuch: 404 not served here/);
    writeFileSync(join(root, 'x'), 'something');
    const full = await cli(p.url, ['capture', '--context', 'prod', '--pod', 'default/plain-5d8f', '--out', root]);
    t.is(full.code, 2);
    t.regex(full.err, /not empty/);
    // Nothing was written for the refused captures.
    t.deepEqual(readdirSync(root), ['x']);
  } finally {
    await p.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test('a capture folder is checked on load: a private key, a file over its limit, a file that is not what it says, a manifest out of shape', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pathlab-capture-load-'));
  try {
    const manifest = (files: string[]) => `apiVersion: pathlab/v1\nkind: Capture\nmetadata: {name: x, capturedAt: now, context: prod}\npod: {namespace: default, name: x, labels: {}, annotations: {}}\nversions: {istio: 1.30.3, envoy: x}\nfiles: [${files.join(', ')}]\nnotes: []\n`;
    writeFileSync(join(dir, 'capture.yaml'), manifest(['config_dump.json', 'iptables.save']));
    writeFileSync(join(dir, 'config_dump.json'), DUMP_WITH_KEY);
    writeFileSync(join(dir, 'iptables.save'), 'not rules\n');
    const e = t.throws(() => loadCapture(dir), { instanceOf: CaptureLoadError });
    t.regex(e.message, /config_dump\.json: holds a PEM private key at character \d+; a capture never should/);
    t.regex(e.message, /iptables\.save: not iptables-save output/);
    writeFileSync(join(dir, 'iptables.save'), Buffer.alloc(4 * 1024 * 1024 + 1, 0x61));
    t.regex(t.throws(() => loadCapture(dir))!.message, /iptables\.save: is 4194305 bytes; at most 4194304/);
    writeFileSync(join(dir, 'capture.yaml'), manifest(['config_dump.json', '../etc/passwd']));
    t.regex(t.throws(() => loadCapture(dir))!.message, /capture\.yaml: files\.1: /);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
