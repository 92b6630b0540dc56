// Trace throughput over a 1,000-rule chain and render time, each as a ratio against a floor measured
// in the same run; and the time of one trace on the default rules (must stay under 50 µs).
import { configFromFlags, flagsFromAnnotations, loadRuleSet, parseIptablesSave, renderIstioIptables, traceConnection } from '../src/mesh/iptables/index.ts';
import type { Connection } from '../src/mesh/iptables/index.ts';

function measure(fn: () => void, minMs = 300): number {
  for (let i = 0; i < 200; i++) fn(); // warm-up
  let n = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  while (elapsed < minMs) {
    for (let i = 0; i < 100; i++) fn();
    n += 100;
    elapsed = Number(process.hrtime.bigint() - start) / 1e6;
  }
  return (elapsed * 1000) / n; // µs per call
}

// --- trace throughput over 1,000 rules ---
const lines = ['*nat', ':OUTPUT ACCEPT [0:0]', '-N BIG'];
lines.push('-A OUTPUT -j BIG');
for (let i = 0; i < 998; i++) lines.push(`-A BIG -d 10.${(i >> 8) & 255}.${i & 255}.0/24 -p tcp -m tcp --dport ${1000 + i} -m owner ! --uid-owner 1337 -j RETURN`);
lines.push('-A BIG -p tcp -j REDIRECT --to-ports 15001', 'COMMIT');
const bigText = lines.join('\n');
const big = loadRuleSet(parseIptablesSave(bigText));
const conn: Connection = { direction: 'out', proto: 'tcp', src: '10.99.0.2', dst: '192.168.1.1', dport: 80, uid: 1000, gid: 1000 };
const traceUs = measure(() => {
  traceConnection(big, conn);
});
// floor: a plain loop over the same 1,000 rules comparing each rule's destination and port strings
const ruleStrings = bigText.split('\n').filter((l) => l.startsWith('-A')).map((l) => ({ d: /-d (\S+)/.exec(l)?.[1] ?? '', p: /--dport (\d+)/.exec(l)?.[1] ?? '' }));
let sink = 0;
const floorUs = measure(() => {
  for (const r of ruleStrings) if (r.d === conn.dst || r.p === '80') sink++;
});
console.log(`trace, 1,000-rule chain: ${(1e6 / traceUs).toFixed(0)} connections/s (${traceUs.toFixed(1)} µs each) = ${(traceUs / floorUs).toFixed(1)}× a string-compare loop over the same rules (${floorUs.toFixed(2)} µs)`);

// --- render time ---
const cfg = configFromFlags(flagsFromAnnotations({}));
const renderUs = measure(() => {
  renderIstioIptables(cfg, 'current');
});
const payloadJson = JSON.stringify(renderIstioIptables(cfg, 'current').ipv4.payload.split('\n'));
const parseFloorUs = measure(() => {
  sink += (JSON.parse(payloadJson) as string[]).length;
});
console.log(`render (injector defaults, current): ${renderUs.toFixed(1)} µs = ${(renderUs / parseFloorUs).toFixed(1)}× JSON.parse of the same rules (${parseFloorUs.toFixed(2)} µs)`);

// --- one trace on the default rules ---
const defaults = loadRuleSet(parseIptablesSave(renderIstioIptables(cfg, 'current').ipv4.payload));
const app: Connection = { direction: 'out', proto: 'tcp', src: '10.64.0.14', dst: '10.0.0.6', dport: 7000, uid: 1000, gid: 1000 };
const oneUs = measure(() => {
  traceConnection(defaults, app);
});
const budget = 50;
console.log(`one trace on the default rules: ${oneUs.toFixed(2)} µs (budget ${budget} µs) ${oneUs < budget ? 'OK' : 'OVER BUDGET'}`);
if (sink < 0) console.log(sink);
if (oneUs >= budget) process.exitCode = 1;
