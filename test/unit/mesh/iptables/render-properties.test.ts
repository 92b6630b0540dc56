// Configurations outside Istio's case list: whatever the renderer emits for any era must read back
// through the parser, print back to the same rules, and be traceable (no match the tracer does not know).
import test from 'ava';
import fc from 'fast-check';
import { configFromFields, configFromFlags, ISTIO_ERAS, loadRuleSet, parseIptablesSave, printRule, renderIstioIptables, traceConnection } from '../../../../src/mesh/iptables/index.ts';
import type { Connection } from '../../../../src/mesh/iptables/index.ts';
import { istioConfigArbitrary } from '../../../helpers/config-arbitrary.ts';

test('property: rendered payloads parse, print back line for line, and trace without errors', (t) => {
  fc.assert(
    fc.property(istioConfigArbitrary, fc.constantFrom(...ISTIO_ERAS), fc.integer({ min: 1, max: 65535 }), fc.integer({ min: 0, max: 3000 }), (cfg, era, dport, uid) => {
      const config = configFromFields({ ...configFromFlags(cfg.flags), ...cfg.fields });
      const out = renderIstioIptables(config, era);
      for (const fam of [out.ipv4, out.ipv6]) {
        if (!fam) continue;
        const rs = parseIptablesSave(fam.payload);
        const lines = fam.payload.split('\n').filter((l) => l.startsWith('-A ') || l.startsWith('-I '));
        if (JSON.stringify(rs.tables.flatMap((s) => s.rules.map(printRule))) !== JSON.stringify(lines)) throw new Error(`${era}: payload does not print back`);
        const loaded = loadRuleSet(rs);
        const v6 = fam.family === 'ipv6';
        const conns: Connection[] = [
          { direction: 'out', proto: 'tcp', src: v6 ? 'fd00::2' : '10.0.0.2', dst: v6 ? '2001:db8::9' : '10.1.2.3', dport, uid, gid: uid },
          { direction: 'out', proto: 'udp', src: v6 ? 'fd00::2' : '10.0.0.2', dst: v6 ? 'fd00::10' : '10.96.0.10', dport: 53, uid, gid: uid },
          { direction: 'out', proto: 'tcp', src: v6 ? '::1' : '127.0.0.1', dst: v6 ? '::1' : '127.0.0.1', dport, uid, gid: uid },
          { direction: 'in', proto: 'tcp', src: v6 ? 'fd00::9' : '10.0.0.9', dst: v6 ? 'fd00::2' : '10.0.0.2', dport },
        ];
        for (const c of conns) traceConnection(loaded, c);
      }
    }),
    { numRuns: 400 },
  );
  t.pass();
});
