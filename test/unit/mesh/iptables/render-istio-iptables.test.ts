import test from 'ava';
import {
  configFromFields, configFromFlags, flagsFromAnnotations, IstioConfigError, ISTIO_BEHAVIOURS, renderIstioIptables, resolveIstioVersion,
} from '../../../../src/mesh/iptables/index.ts';
import { goldens } from '../../../helpers/shared-fixtures.ts';

// Istio's own record of each case gives the same configuration twice: as flags and as field names.
for (const c of goldens().cases) {
  test(`flags and field names agree: ${c.name}`, (t) => {
    const fromFields = configFromFields(c.effective_config);
    const fromFlags = configFromFlags((c as unknown as { full_command_flags: string[] }).full_command_flags);
    // fields that have no flag (env-only or detected) come from the case's non-flag inputs
    const nonFlag = (c as unknown as { non_flag_inputs: Record<string, { value: unknown }> }).non_flag_inputs;
    const merged = configFromFields({ ...fromFlagsAsFields(fromFlags), ...Object.fromEntries(Object.entries(nonFlag).map(([k, v]) => [k, v.value])) });
    t.deepEqual(merged, fromFields);
  });
}
function fromFlagsAsFields(cfg: ReturnType<typeof configFromFlags>): Record<string, unknown> {
  return { ...cfg };
}

test('the injector’s flags for a pod without annotations (notes §1)', (t) => {
  t.deepEqual(flagsFromAnnotations({}), ['-p', '15001', '-z', '15006', '-u', '1337', '-m', 'REDIRECT', '-i', '*', '-x', '', '-b', '*', '-d', '15090,15021,15020']);
});

test('annotations: excludes are merged with the status port, optional flags only when set', (t) => {
  const argv = flagsFromAnnotations({
    'traffic.sidecar.istio.io/excludeInboundPorts': '22',
    'traffic.sidecar.istio.io/excludeOutboundPorts': '7000',
    'sidecar.istio.io/interceptionMode': 'TPROXY',
  });
  t.deepEqual(argv.slice(argv.indexOf('-d'), argv.indexOf('-d') + 2), ['-d', '15090,15021,22,15020']);
  t.deepEqual(argv.slice(-2), ['-o', '7000']);
  const out = renderIstioIptables(configFromFlags(argv), 'current').ipv4.payload;
  t.regex(out, /-A ISTIO_OUTPUT -p tcp --dport 7000 -j RETURN\n-A ISTIO_OUTPUT -p udp --dport 7000 -j RETURN/);
  t.regex(out, /\* mangle[\s\S]*TPROXY/);
});

test('flags: short and long forms, = and separate values, quotes as a shell user writes them', (t) => {
  const a = configFromFlags(['-p', '15001', '-b', "'*'", '-x', '""', '--istio-local-outbound-ports-exclude=7000', '--redirect-dns']);
  const b = configFromFlags(['--envoy-port=15001', '--istio-inbound-ports', '*', '-x', '', '-o7000', '--redirect-dns=true']);
  t.deepEqual(a, b);
});

const BAD_CONFIG: [string, () => unknown, RegExp][] = [
  ['unknown flag', () => configFromFlags(['--frobnicate']), /unknown istio-iptables flag "--frobnicate"/],
  ['missing value', () => configFromFlags(['-p']), /--envoy-port: missing value/],
  ['unknown field', () => configFromFields({ ProxyPorts: '1' }), /unknown istio-iptables field "ProxyPorts"/],
  ['bad mode', () => renderIstioIptables(configFromFlags(['-m', 'NAT'])), /InboundInterceptionMode/],
  ['bad port', () => renderIstioIptables(configFromFlags(['-b', '80,http'])), /"http" is not a port/],
  ['exclude wildcard', () => renderIstioIptables(configFromFlags(['-x', '*'])), /"\*" is not allowed/],
  ['bad cidr', () => renderIstioIptables(configFromFlags(['-i', '10.0.0/8x'])), /is not a CIDR/],
  ['nftables', () => configFromFlags(['--native-nftables']), /nftables/],
  ['unknown annotation', () => flagsFromAnnotations({ 'traffic.sidecar.istio.io/excludeInboundPort': '1' }), /unknown capture annotation/],
];
for (const [name, f, re] of BAD_CONFIG) {
  test(`bad configuration is an IstioConfigError: ${name}`, (t) => {
    t.throws(f, { instanceOf: IstioConfigError, message: re });
  });
}

test('versions: releases map to their era, unknown ones are refused', (t) => {
  const era = (v: string): string => resolveIstioVersion(v).era;
  t.deepEqual(['1.2.5', '1.5.0', '1.14.3', '1.17.8', '1.18.7', '1.22.8', '1.23.6', '1.24.6', '1.25.0', '1.30.3', 'current'].map(era), ['1.2', '1.5', '1.14', '1.17', '1.18', '1.22', '1.23', '1.24', 'current', 'current', 'current']);
  t.throws(() => resolveIstioVersion('1.3.1'), { instanceOf: RangeError });
  t.throws(() => resolveIstioVersion('2.0'), { instanceOf: RangeError });
  t.throws(() => resolveIstioVersion('latest'), { instanceOf: RangeError });
});

test('the behaviour table is data: one row per era, in release order', (t) => {
  const since = ISTIO_BEHAVIOURS.map((b) => b.since[1]);
  t.deepEqual(since, [...since].sort((a, b) => a - b));
  t.is(new Set(ISTIO_BEHAVIOURS.map((b) => b.era)).size, ISTIO_BEHAVIOURS.length);
});

// Configurations outside Istio's case list, checked against the rules the notes state for each era.
test('1.2: the loopback rule comes first, without owner, to 15001; inbound list to 15001', (t) => {
  const out = renderIstioIptables(configFromFlags(['-u', '1337', '-b', '9080', '-i', '*']), '1.2').ipv4.payload;
  t.regex(out, /-A ISTIO_OUTPUT -o lo ! -d 127\.0\.0\.1\/32 -j ISTIO_REDIRECT\n-A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN/);
  t.regex(out, /-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15001/);
  t.notRegex(out, /127\.0\.0\.6|15008/);
});

test('1.5: 15006 only for -b *, --dport 22 RETURN first, no tunnel port', (t) => {
  const wild = renderIstioIptables(configFromFlags(['-b', '*', '-d', '15020']), '1.5').ipv4.payload;
  t.regex(wild, /-A ISTIO_INBOUND -p tcp --dport 22 -j RETURN\n-A ISTIO_INBOUND -p tcp --dport 15020 -j RETURN/);
  t.regex(wild, /REDIRECT --to-ports 15006/);
  t.notRegex(wild, /15008/);
  const list = renderIstioIptables(configFromFlags(['-b', '9080']), '1.5').ipv4.payload;
  t.regex(list, /-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15001/);
});

test('capture-all DNS in current: ISTIO_OUTPUT_DNS without server matches, raw zones for any server', (t) => {
  const out = renderIstioIptables(configFromFlags(['--redirect-dns', '--capture-all-dns']), 'current').ipv4.payload;
  t.regex(out, /-A ISTIO_OUTPUT_DNS -p tcp --dport 53 -j REDIRECT --to-ports 15053\n-A ISTIO_OUTPUT_DNS -p udp --dport 53 -j REDIRECT --to-port 15053/);
  t.regex(out, /-A ISTIO_INBOUND -p udp --sport 53 -j CT --zone 1/);
});
