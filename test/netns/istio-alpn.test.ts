// What Istio's istio.alpn filter decides, measured with real istiod, pilot-agent and Envoy: on a
// port whose protocol is sniffed, the server's sidecar picks its inbound chain by the ALPN the
// client's mTLS offers. Upstream Envoy has no istio.alpn (istiod runs with
// PILOT_ENABLE_ALPN_FILTER=false); the lab restores it with an EnvoyFilter of its own (Istio's
// mechanism, upstream Envoy's set_filter_state: src/istio/istiod-gen.ts). Here the same request
// is sent with it, then with a scenario's EnvoyFilter that removes it: the server's access log
// says which chain took the request, HTTP (an HTTP line) or TCP (a "- - -" line).
import test from 'ava';
import { readFileSync } from 'node:fs';
import { netnsLab, removeLab, type StartedNetnsLab } from '../../src/lab/netns/netns-lab.ts';
import { istiodBuildRecorded } from '../../src/istio/istio-build.ts';
import type { LabSpec, SetupStep } from '../../src/scenario/schema.ts';
import { NEEDS_ROOT, netnsTest } from '../helpers/caps.ts';

const APP = { uid: 1000, gid: 1000 };
// Port 8080 has no name and no appProtocol: istiod sniffs it (auto protocol).
const spec: LabSpec = {
  istio: { version: 'current', controlPlane: 'istiod' },
  pods: [
    { name: 'client', ip: '10.64.0.40', workload: 'toolbox' },
    { name: 'server', ip: '10.64.0.41', workload: 'echo', ports: [{ port: 8080 }] },
  ],
  services: [{ name: 'server', ports: [{ port: 8080 }] }],
};

const removeLabAlpn = {
  apiVersion: 'networking.istio.io/v1alpha3',
  kind: 'EnvoyFilter',
  metadata: { name: 'no-istio-alpn', namespace: 'default' },
  spec: { configPatches: [{ applyTo: 'HTTP_FILTER', match: { context: 'SIDECAR_OUTBOUND', listener: { filterChain: { filter: { name: 'envoy.filters.network.http_connection_manager', subFilter: { name: 'pathlab.istio_alpn' } } } } }, patch: { operation: 'REMOVE' } }] },
};

const created: string[] = [];
test.after.always(async () => {
  for (const id of created) await removeLab(id);
});

/** curl from the client to the server, and the server sidecar's access log line of it. */
async function serverLine(lab: StartedNetnsLab): Promise<string> {
  const where = lab.mesh.accessLogPaths('server');
  if (!('stdout' in where)) throw new Error('istiod\'s lab logs to Envoy\'s stdout');
  const lines = () => readFileSync(where.stdout, 'utf8').split('\n').filter((l) => l.startsWith('['));
  const before = lines().length;
  const r = await lab.run('client', ['curl', '-sS', '--max-time', '3', 'http://server:8080/hello'], { user: APP });
  if (r.exitCode !== 0) throw new Error(r.stderr);
  for (let i = 0; i < 200; i++) {
    const now = lines();
    if (now.length > before) return now.at(-1)!;
    await new Promise((res) => setTimeout(res, 10));
  }
  throw new Error('the server sidecar logged nothing');
}

const built = istiodBuildRecorded('current');
(built ? netnsTest : test.skip)(`${NEEDS_ROOT} sniffed port, HTTP over mTLS: the server's HTTP chain with the lab's istio.alpn stand-in, its TCP chain without`, async (t) => {
  const lab = await netnsLab(spec).start();
  created.push(lab.id);
  const withAlpn = await serverLine(lab);
  t.regex(withAlpn, /^\[\S+\] "GET \/hello HTTP\/1\.1" 200 /, withAlpn);
  t.regex(withAlpn, / inbound\|8080\|\| /);
  // The scenario format has no EnvoyFilter (the model cannot play one); the lab's istiod takes any Istio object.
  await lab.mesh.apply({ role: 'fault', apply: removeLabAlpn as unknown as SetupStep['apply'] });
  const without = await serverLine(lab);
  t.regex(without, /^\[\S+\] "- - -" 0 /, `a TCP line: ${without}`);
  t.regex(without, / inbound\|8080\|\| /);
  await lab.stop();
});
