// pathlab proxy-config against istioctl's own goldens (fixtures/envoy/README.md) and a reviewed golden.
import test from 'ava';
import { parseConfigDump } from '../../../src/mesh/envoy/config-dump-parser.ts';
import { formatAll, formatListeners, listenerType } from '../../../src/mesh/envoy/proxy-config-tables.ts';
import { main } from '../../../src/cli/main.ts';
import { bufferIo } from '../../../src/cli/io.ts';
import { fixtureJson, fixturePath, readFixture } from '../../helpers/fixtures.ts';
import { assertGolden, collapseSpaces, unifiedDiff } from '../../helpers/golden.ts';

// The golden's certificates were checked in 2023: istioctl computes VALID CERT from the clock.
// Any instant between the ROOTCA's NotBefore and NotAfter, after `default` expired, gives its rows.
const NOW = new Date('2026-01-01T00:00:00Z');

test('proxy-config all on the waypoint dump prints istioctl\'s golden (istioctl/pkg/proxyconfig/testdata/config_dump_summary.txt)', (t) => {
  const cfg = parseConfigDump(fixtureJson('envoy/config_dump.json'));
  const want = collapseSpaces(readFixture('envoy/config_dump_summary.txt'));
  const got = collapseSpaces(formatAll(cfg, { now: NOW }));
  if (got === want) t.pass();
  else t.fail(unifiedDiff(want, got));
});

test('pathlab proxy-config all DUMP (the CLI) prints the same rows', async (t) => {
  const io = bufferIo();
  t.is(await main(['proxy-config', 'all', fixturePath('envoy/config_dump.json')], io), 0);
  const got = collapseSpaces(io.stdout()).split('\n').filter((l) => !l.startsWith('secret/'));
  const want = collapseSpaces(readFixture('envoy/config_dump_summary.txt')).split('\n').filter((l) => !l.startsWith('secret/'));
  t.deepEqual(got, want);
});

test('proxy-config listeners on the ~1.19 sidecar dump matches the reviewed golden', (t) => {
  const cfg = parseConfigDump(fixtureJson('envoy/configdump.yaml'));
  assertGolden(t, 'proxy-config-listeners-sidecar-1.19.txt', formatListeners(cfg));
});

test('listener TYPE of the 2020 camelCase v2 dump matches istioctl\'s 2020 golden (listenersummary.txt)', (t) => {
  const cfg = parseConfigDump(fixtureJson('envoy/configdump.json'));
  const rows = readFixture('envoy/listenersummary.txt').trim().split('\n').slice(1).map((l) => l.trim().split(/\s+/));
  const got = (cfg.listeners ?? []).map((l) => [l.address, String(l.port), listenerType(l)]);
  t.deepEqual(
    got.sort((a, b) => Number(a[1]) - Number(b[1])),
    rows.sort((a, b) => Number(a[1]) - Number(b[1])),
  );
});
