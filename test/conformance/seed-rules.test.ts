// The real pods' rules of the seeds, reproduced from the settings fixtures/README.md gives for them.
import test from 'ava';
import { configFromFlags, flagsFromAnnotations, parseIptablesSave, renderIstioIptables, saveFormLines } from '../../src/mesh/iptables/index.ts';
import { goldens, readFixture } from '../helpers/shared-fixtures.ts';

// fixtures/README.md, seed002 row: PROXY_PORT=15001 INBOUND_CAPTURE_PORT=15006 PROXY_TUNNEL_PORT=15008 PROXY_UID=1337
// PROXY_GID=1337 INBOUND_INTERCEPTION_MODE=REDIRECT INBOUND_PORTS_INCLUDE=* INBOUND_PORTS_EXCLUDE=15090,15021,15020 OUTBOUND_IP_RANGES_INCLUDE=*
const SEED002_FLAGS = ['-p', '15001', '-z', '15006', '-e', '15008', '-u', '1337', '-g', '1337', '-m', 'REDIRECT', '-b', '*', '-d', '15090,15021,15020', '-i', '*'];
// fixtures/README.md, seed004 row: -p 15001 -u 1337 -m REDIRECT -i '*' -x "" -b 9080 -d 15020
const SEED004_FLAGS = ['-p', '15001', '-u', '1337', '-m', 'REDIRECT', '-i', "'*'", '-x', '""', '-b', '9080', '-d', '15020'];

test('seed002: Istio 1.14.3 restore file, byte for byte', (t) => {
  const out = renderIstioIptables(configFromFlags(SEED002_FLAGS), '1.14.3');
  t.is(out.ipv4.payload, readFixture('iptables', 'seed002-istio-1.14.3.restore'));
  t.is(out.ipv6, undefined);
});

test('seed002: the injector’s default annotations give the same file', (t) => {
  const out = renderIstioIptables(configFromFlags(flagsFromAnnotations({})), '1.14.3');
  t.is(out.ipv4.payload, readFixture('iptables', 'seed002-istio-1.14.3.restore'));
});

test('seed002: the kernel’s iptables-save of it', (t) => {
  const out = renderIstioIptables(configFromFlags(SEED002_FLAGS), '1.14');
  const save = readFixture('iptables', 'seed002-istio-1.14.3.save').split('\n').filter((l) => l.startsWith('-A '));
  t.deepEqual(saveFormLines(parseIptablesSave(out.ipv4.payload)).get('nat'), save);
});

test('seed004: Istio 1.2.5 rules (as iptables-save lists them)', (t) => {
  const out = renderIstioIptables(configFromFlags(SEED004_FLAGS), '1.2.5');
  const seed = readFixture('iptables', 'seed004-istio-1.2.5.rules').split('\n').filter((l) => l.startsWith('-A '));
  t.deepEqual(saveFormLines(parseIptablesSave(out.ipv4.payload)).get('nat'), seed);
});

test('seed004: the 1.2.5 script run, both families (IPv6 locked down for an IPv4 pod)', (t) => {
  const run = goldens().istio_1_2_5_script_run;
  const out = renderIstioIptables(configFromFlags(run.args), '1.2');
  const rules = (dump: string): string[] => dump.split('\n').filter((l) => l.startsWith('-A '));
  t.deepEqual(saveFormLines(parseIptablesSave(out.ipv4.payload)).get('nat'), rules(run.v4_nft));
  t.deepEqual(saveFormLines(parseIptablesSave(out.ipv6?.payload ?? ''), { family: 'ipv6' }).get('filter'), rules(run.v6_nft));
});

test('seed000: the 2022 pod with proxy uid 201507 (1.14-era rules)', (t) => {
  // fixtures/README.md lists the pod's ISTIO_INBOUND RETURNs as 15008,15090,15021,15020: 15008 is the
  // tunnel-port rule every 1.7+ release writes, the other three are the injector's `-d`.
  const out = renderIstioIptables(configFromFlags(['-u', '201507', '-b', '*', '-d', '15090,15021,15020', '-i', '*']), '1.14');
  const save = readFixture('iptables', 'seed000-pod-uid201507.save').split('\n').filter((l) => l.startsWith('-A '));
  t.deepEqual(saveFormLines(parseIptablesSave(out.ipv4.payload)).get('nat'), save);
});
