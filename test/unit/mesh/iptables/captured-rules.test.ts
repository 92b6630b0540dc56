// excludeOutboundPorts on captured rules, as istio-iptables -o writes it: checked against the
// rules Istio's own pilot-agent istio-iptables --dry-run writes with and without -o (where it is
// built), and on the seed 003 pod's real 2021 rules, traced: the excluded port returns at the
// first rule of istio_OUTPUT, every other port is redirected as before.
import { spawnSync } from 'node:child_process';
import test from 'ava';
import { ISTIO_BUILD_PINS, builtIstio, goFor } from '../../../../src/istio/istio-build.ts';
import { capturedOutputChain, excludeOutboundPorts } from '../../../../src/mesh/iptables/captured-rules.ts';
import { loadRuleSet, parseIptablesSave } from '../../../../src/mesh/iptables/index.ts';
import { kernelTrace } from '../../../../src/paths/kernel-trace.ts';
import { formatHop } from '../../../../src/paths/hop.ts';
import { kernelHopsOf } from '../../../../src/paths/predict.ts';
import { readFixture } from '../../../helpers/shared-fixtures.ts';
import { dryRunPayload } from '../../../helpers/istio-iptables-dry-run.ts';

const pin = ISTIO_BUILD_PINS[0]!;
// Without a Go that builds pilot-agent there is nothing to compare with: skipped, and the title says so.
const GO = await goFor(pin.goMin);
const goTest = GO.ok ? test : test.skip;
const NEEDS_GO = GO.ok ? '' : ` [skipped: needs Go ≥ ${pin.goMin} on PATH to build pilot-agent, found ${GO.version ?? 'none'}]`;
const SEED003 = readFixture('iptables', 'seed003-2021.save');
const path = (rules: string, port: number) =>
  kernelHopsOf(kernelTrace(loadRuleSet(parseIptablesSave(rules)), { src: '10.52.2.21', dst: { ip: '10.0.0.6', port }, podIp: '10.52.2.21' })).map(formatHop);

test('the seed 003 pod\'s rules: 9080 leaves capture at istio_OUTPUT#1, 9081 is redirected as before; nothing else changes', (t) => {
  t.deepEqual(capturedOutputChain(SEED003), { chain: 'istio_OUTPUT', allProtocols: false });
  const fixed = excludeOutboundPorts(SEED003, [9080]);
  t.deepEqual(path(fixed, 9080), ['iptables nat/OUTPUT#1 -> nat/istio_OUTPUT#1 ACCEPT']);
  t.deepEqual(path(fixed, 9081), path(SEED003, 9081).map((h) => h.replace('istio_OUTPUT#6', 'istio_OUTPUT#7')));
  t.deepEqual(path(SEED003, 9081), ['iptables nat/OUTPUT#1 -> nat/istio_OUTPUT#6 -> nat/istio_REDIRECT#1 REDIRECT:15001']);
  // One line added, before the chain's first rule; every other line as captured.
  const added = fixed.split('\n').filter((l) => !SEED003.split('\n').includes(l));
  t.deepEqual(added, ['-A istio_OUTPUT -p tcp -m tcp --dport 9080 -j RETURN']);
  t.is(fixed.replace(`${added[0]}\n`, ''), SEED003);
  t.is(excludeOutboundPorts(SEED003, []), SEED003);
});

test('rules without an Istio output chain are refused, saying why', (t) => {
  t.throws(() => excludeOutboundPorts('*nat\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n', [9080]), { message: /no chain OUTPUT hands TCP to \(ISTIO_OUTPUT\)/ });
});

goTest(`as Istio's own istio-iptables -o writes it (${pin.label})${NEEDS_GO}`, async (t) => {
  const built = await builtIstio(pin);
  if (!built) return t.fail(`pilot-agent (${pin.label}) is not built: npm run system-deps builds it with Go ${GO.version ?? ''}`);
  const flags = ['-p', '15001', '-z', '15006', '-u', '1337', '-m', 'REDIRECT', '-i', '*', '-x', '', '-b', '*', '-d', '15090,15021,15020'];
  const run = (extra: string[]) => {
    const r = spawnSync(built.pilotAgent, ['istio-iptables', '--dry-run', ...flags, ...extra], { encoding: 'utf8' });
    return dryRunPayload(`${r.stdout}${r.stderr}`);
  };
  const without = run([]);
  const withPorts = run(['-o', '9080,7000']);
  t.deepEqual(capturedOutputChain(without), { chain: 'ISTIO_OUTPUT', allProtocols: true });
  // The dry run spells a port match without iptables-save's `-m tcp`: compared in its spelling.
  t.is(excludeOutboundPorts(without, [9080, 7000]).replace(/ -m (tcp|udp) --dport/g, ' --dport'), withPorts);
});
