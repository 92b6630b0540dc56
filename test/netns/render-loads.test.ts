// Configurations outside Istio's case list, checked by the kernel: for random configurations and
// every era, the rendered payloads are accepted by `iptables-restore --test` / `ip6tables-restore --test`
// in a fresh network namespace.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import fc from 'fast-check';
import { configFromFields, configFromFlags, ISTIO_ERAS, renderIstioIptables } from '../../src/mesh/iptables/index.ts';
import { istioConfigArbitrary } from '../helpers/config-arbitrary.ts';

const IP = ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip'].find((p) => existsSync(p)) ?? 'ip';
const isRoot = process.getuid?.() === 0;
const netns = isRoot ? test.serial : test.skip;
const NS = `pl-rl-${process.pid}`;

test.after.always(() => {
  if (isRoot) spawnSync(IP, ['netns', 'del', NS]);
});

netns('[needs root] the kernel accepts every rendered payload (random configurations × every era)', (t) => {
  const add = spawnSync(IP, ['netns', 'add', NS]);
  t.is(add.status, 0, String(add.stderr));
  let loaded = 0;
  fc.assert(
    fc.property(istioConfigArbitrary, fc.constantFrom(...ISTIO_ERAS), (cfg, era) => {
      const out = renderIstioIptables(configFromFields({ ...configFromFlags(cfg.flags), ...cfg.fields }), era);
      for (const fam of [out.ipv4, out.ipv6]) {
        if (!fam) continue;
        const tool = fam.family === 'ipv6' ? 'ip6tables-restore' : 'iptables-restore';
        // group names are resolved at load time: the generator uses numbers only
        const r = spawnSync(IP, ['netns', 'exec', NS, tool, '--test', '--noflush'], { input: fam.payload, encoding: 'utf8' });
        if (r.status !== 0) throw new Error(`${era} ${fam.family}: ${tool} refused: ${r.stderr}\n${fam.payload}`);
        loaded++;
      }
    }),
    { numRuns: 150 },
  );
  t.log(`${loaded} payloads accepted by the kernel`);
  t.true(loaded >= 150);
});
