// Envoy model on a mesh of 5,000 services: synthesize, render the config_dump, and measure
// explain latency and matcher throughput as a ratio to the floor — JSON.parse of that dump,
// which any real use pays before matching. Matching must add less than the parse time.
import { performance } from 'node:perf_hooks';
import { parseMesh, type MeshInput } from '../src/mesh/envoy/mesh.ts';
import { synthesizeSidecar } from '../src/mesh/envoy/synthesize-sidecar.ts';
import { parseConfigDump } from '../src/mesh/envoy/config-dump-parser.ts';
import { matchConnection, type Connection } from '../src/mesh/envoy/match-connection.ts';
import { explain, type ExplainConnection } from '../src/mesh/envoy/explain.ts';
import { istioInitRules } from '../src/mesh/iptables/index.ts';
import { kernelTrace } from '../src/paths/kernel-trace.ts';

const SERVICES = 5000;
const POD = '10.64.0.9';

function mesh(): MeshInput {
  const resources: NonNullable<MeshInput['resources']> = [];
  for (let i = 0; i < SERVICES; i++) {
    const vip = `10.96.${Math.floor(i / 250)}.${(i % 250) + 1}`;
    const kind = i % 3;
    const ports =
      kind === 0
        ? [{ name: 'http-web', port: 8000 + (i % 50) }]
        : kind === 1
          ? [{ name: 'tcp-db', port: 5000 + (i % 20) }]
          : [{ name: 'metrics', port: 9000 + (i % 10) }, { name: 'grpc', port: 7000 + (i % 30) }];
    resources.push({ apiVersion: 'v1', kind: 'Service', metadata: { name: `svc-${i}`, namespace: `ns-${i % 40}` }, spec: { clusterIP: vip, ports } });
  }
  return { apiVersion: 'pathlab/v1', kind: 'Mesh', proxy: { ip: POD, ports: [{ port: 8080, name: 'http' }] }, resources };
}

function time<T>(fn: () => T, rounds: number): { ms: number; value: T } {
  let value = fn();
  const t0 = performance.now();
  for (let i = 0; i < rounds; i++) value = fn();
  return { ms: (performance.now() - t0) / rounds, value };
}

const t0 = performance.now();
const syn = synthesizeSidecar(parseMesh(mesh()));
const synthMs = performance.now() - t0;
const text = JSON.stringify(syn.configDump);
const floor = time(() => JSON.parse(text) as unknown, 5);
const parsed = time(() => parseConfigDump(floor.value), 5);
const cfg = parsed.value;

// Connections: external IPs on HTTP/TCP/unknown ports, service VIPs, HTTP requests by Host.
const conns: Connection[] = [];
for (let i = 0; i < 2000; i++) {
  const svc = (i * 7) % SERVICES;
  const vip = `10.96.${Math.floor(svc / 250)}.${(svc % 250) + 1}`;
  const port = [8000 + (svc % 50), 5000 + (svc % 20), 9000 + (svc % 10), 7000 + (svc % 30), 6379][i % 5]!;
  const ip = i % 2 ? vip : `203.0.113.${i % 250}`;
  const payload = i % 4 === 0 ? { kind: 'http' as const, host: `svc-${svc}.ns-${svc % 40}:${port}`, path: '/' } : { kind: 'bytes' as const, text: 'PING\r\n' };
  conns.push({ src: POD, dst: { ip, port }, capturePort: 15001, payload });
}
const match = time(() => {
  for (const c of conns) matchConnection(cfg, c);
}, 5);
const perMatchMs = match.ms / conns.length;
const one: ExplainConnection = { src: POD, dst: { ip: '10.0.0.6', port: 8000 }, payload: { kind: 'bytes', text: 'keys *\n' } };
const podRules = istioInitRules('current').tables;
const explainOne = time(() => explain(kernelTrace(podRules, { src: one.src, dst: one.dst, podIp: POD }), cfg, one), 200);

const mb = (text.length / 1e6).toFixed(1);
console.log(`mesh: ${SERVICES} services → ${cfg.listeners!.length} listeners, ${cfg.clusters!.length} clusters, ${cfg.routes!.length} route configurations; dump ${mb} MB (synthesis ${synthMs.toFixed(0)} ms)`);
console.log(`floor: JSON.parse of the dump                 ${floor.ms.toFixed(1)} ms = 1.00`);
console.log(`parseConfigDump (normalise, after JSON.parse) ${parsed.ms.toFixed(1)} ms = ${(parsed.ms / floor.ms).toFixed(2)} × floor`);
console.log(`explain, one connection                       ${(explainOne.ms * 1000).toFixed(1)} µs = ${(explainOne.ms / floor.ms).toFixed(4)} × floor`);
console.log(`matcher: ${(1000 / perMatchMs).toFixed(0)} connections/s; ${(floor.ms / perMatchMs).toFixed(0)} matches fit in one JSON.parse of the dump (one match = ${(perMatchMs / floor.ms).toFixed(4)} × floor)`);
const ok = explainOne.ms < floor.ms && perMatchMs < floor.ms;
console.log(ok ? 'ok: matching adds less than the parse time' : 'FAIL: matching costs more than parsing the dump');
if (!ok) process.exitCode = 1;
