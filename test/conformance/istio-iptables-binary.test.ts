// The renderer against Istio's own istio-iptables: for random injector configurations (flags),
// the rules `pilot-agent istio-iptables --dry-run` would restore, from the pilot-agent built by
// `npm run system-deps` (src/istio/istio-build.ts), must be the rules the renderer writes for
// the lab's `current`. Where they differ, the binary is right: fix the renderer or list the
// difference in the README.
import { spawnSync } from 'node:child_process';
import test from 'ava';
import fc from 'fast-check';
import { ISTIO_BUILD_PINS, builtIstio, goFor } from '../../src/istio/istio-build.ts';
import { configFromFields, configFromFlags, renderIstioIptables } from '../../src/mesh/iptables/index.ts';
import { istioConfigArbitrary } from '../helpers/config-arbitrary.ts';
import { dryRunPayload } from '../helpers/istio-iptables-dry-run.ts';

const pin = ISTIO_BUILD_PINS[0]!;

// Without a Go that builds pilot-agent there is nothing to compare with: skipped, and the title says so.
const GO = await goFor(pin.goMin);
const goTest = GO.ok ? test : test.skip;
const NEEDS_GO = GO.ok ? '' : ` [skipped: needs Go ≥ ${pin.goMin} on PATH to build pilot-agent, found ${GO.version ?? 'none'}]`;

goTest(`the renderer writes what pilot-agent istio-iptables --dry-run restores, for 80 random injector configurations${NEEDS_GO}`, async (t) => {
  const built = await builtIstio(pin);
  if (!built) return t.fail(`pilot-agent (${pin.label}) is not built: npm run system-deps builds it with Go ${GO.version ?? ''}`);
  let compared = 0;
  const differ: string[] = [];
  fc.assert(
    fc.property(istioConfigArbitrary, (cfg) => {
      // IPv4 only, and no DNS capture: the binary takes the DNS servers from the host's resolv.conf.
      const flags = cfg.flags.filter((f) => !['--redirect-dns', '--capture-all-dns'].includes(f));
      const r = spawnSync(built.pilotAgent, ['istio-iptables', '--dry-run', ...flags], { encoding: 'utf8', timeout: 30_000 });
      const log = `${r.stdout}${r.stderr}`;
      if (r.status !== 0) {
        // A configuration Istio refuses: the renderer must refuse it too.
        let rendered = true;
        try {
          renderIstioIptables(configFromFields({ ...configFromFlags(flags), EnableIPv6: false }), 'current');
        } catch {
          rendered = false;
        }
        if (rendered) differ.push(`${flags.join(' ')}: istio-iptables refused it (${log.trim().split('\n').at(-1)}), the renderer did not`);
        return;
      }
      const ours = renderIstioIptables(configFromFields({ ...configFromFlags(flags), EnableIPv6: false }), 'current').ipv4.payload.trim();
      const theirs = dryRunPayload(log);
      compared++;
      if (ours !== theirs) differ.push(`${flags.join(' ')}:\n--- renderer\n${ours}\n--- istio-iptables\n${theirs}`);
    }),
    { numRuns: 80, seed: 20261201 },
  );
  t.log(`${compared} configurations compared with ${built.versionLine} (${pin.label})`);
  t.true(compared > 40, `only ${compared} of 80 configurations were accepted by istio-iptables`);
  t.deepEqual(differ, []);
});
