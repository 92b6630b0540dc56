// Replaying a captured sidecar, first half: Istio's own config dumps (../shared/fixtures/envoy,
// copied from istio/istio) turned into a static bootstrap (src/mesh/envoy/replay.ts) that the
// pinned upstream Envoy loads (`envoy --mode validate`, its own full configuration check), with
// only the documented Istio extensions removed, and nothing that selects a path changed: every
// listener, its address, its listener filters, its filter chains (names, positions, matches, TLS)
// and where each chain sends (the tcp_proxy cluster, the HTTP route configuration), read by the
// same parser explain uses, are the dump's. The v2 dumps (Istio 1.5 era) are refused, saying why.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { ENVOY_PINS, installedEnvoy } from '../../src/istio/envoy.ts';
import { exec } from '../../src/lab/exec.ts';
import { parseConfigDump } from '../../src/mesh/envoy/config-dump-parser.ts';
import type { Listener } from '../../src/mesh/envoy/envoy-config.ts';
import { ISTIO_ONLY_EXTENSIONS, ReplayError, replayBootstrap } from '../../src/mesh/envoy/replay.ts';
import { readFixture } from '../helpers/shared-fixtures.ts';
import { selfSigned } from '../../src/lab/netns/lab-ca.ts';

const V3_DUMPS = ['configdump.yaml', 'config_dump.json'];
const V2_DUMPS = ['productpage_config_dump.json', 'configdump.json'];
const FILES = { certificateChain: '/lab/cert.pem', privateKey: '/lab/key.pem', trustedCa: '/lab/ca.pem' };
/** A throwaway certificate and key in `dir`, as a replaying lab gives its own CA's (Envoy checks that the files exist). */
async function labFiles(dir: string) {
  const { cert, key } = await selfSigned(dir, 'pod', '/CN=replay');
  return { certificateChain: cert, privateKey: key, trustedCa: cert };
}

/** What of a listener selects a path, with the filters replay removed left out. */
function shape(l: Listener, removed: Set<string>) {
  const keep = (name: string) => !removed.has(name);
  return {
    name: l.name,
    address: `${l.address}:${l.port}`,
    useOriginalDst: l.useOriginalDst,
    bindToPort: l.bindToPort,
    listenerFilters: l.listenerFilters.filter((f) => keep(f.name)),
    chains: [...l.filterChains, ...(l.defaultFilterChain ? [l.defaultFilterChain] : [])].map((c) => ({
      name: c.name,
      position: c.position,
      match: c.match,
      tls: c.tls,
      filters: c.filters.filter((f) => keep(f.name)).map((f) => (f.kind === 'tcp_proxy' ? `tcp_proxy → ${f.cluster}` : f.kind === 'http_connection_manager' ? `hcm → ${f.rds ?? f.routeConfig?.name}` : f.name)),
    })),
  };
}

for (const file of V3_DUMPS) {
  test(`${file}: upstream Envoy loads its replay; only documented Istio extensions are removed; every listener selects as in the dump`, async (t) => {
    const dump = JSON.parse(readFixture('envoy', file)) as unknown;
    const r = replayBootstrap(dump, FILES);
    // Each removed filter is one the documented list names.
    const removed = new Set(r.changes.flatMap((c) => [.../removed (?:HTTP|network|listener) filter ([\w.]+)/.exec(c)?.slice(1) ?? []]));
    t.true(removed.size > 0, 'the dump carries Istio extensions');
    for (const name of removed) t.true(ISTIO_ONLY_EXTENSIONS.some((e) => e.name.includes(name)), `${name} is documented`);

    const before = parseConfigDump(dump).listeners ?? [];
    const resources = r.bootstrap.static_resources as { listeners: unknown[]; clusters: unknown[] };
    const after = parseConfigDump([...resources.listeners, ...resources.clusters]).listeners ?? [];
    t.is(after.length, before.length);
    const byPlace = (a: { name: string; address: string }, b: { name: string; address: string }) => `${a.name}|${a.address}`.localeCompare(`${b.name}|${b.address}`);
    t.deepEqual(
      after.map((l) => shape(l, removed)).sort(byPlace),
      before.map((l) => shape(l, removed)).sort(byPlace),
    );
    t.log(`${before.length} listeners; removed: ${[...removed].join(', ')}`);

    const pin = ENVOY_PINS[0]!;
    const envoy = await installedEnvoy(pin.version);
    if (!envoy) return t.fail(`Envoy ${pin.version} is not installed: npm run system-deps`);
    const dir = mkdtempSync(join(tmpdir(), 'pathlab-replay-'));
    try {
      writeFileSync(join(dir, 'bootstrap.json'), JSON.stringify(replayBootstrap(dump, await labFiles(dir)).bootstrap));
      const v = await exec([envoy.binary, '--mode', 'validate', '-c', join(dir, 'bootstrap.json'), '--log-level', 'warn'], { timeoutMs: 60_000 });
      t.is(v.exitCode, 0, `${v.stdout}${v.stderr}`.split('\n').filter((l) => !/Deprecated|work-in-progress/.test(l)).join('\n'));
      t.regex(v.stdout + v.stderr, /configuration '.*bootstrap\.json' OK/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

for (const file of V2_DUMPS) {
  test(`${file}: a v2 API dump is refused for replay, saying why (explain still reads it)`, (t) => {
    const dump = JSON.parse(readFixture('envoy', file)) as unknown;
    const e = t.throws(() => replayBootstrap(dump, FILES), { instanceOf: ReplayError });
    t.regex(e.message, /v2 API dump .*: upstream Envoy 1\.38 reads the v3 API only/);
    t.true((parseConfigDump(dump).listeners ?? []).length > 0);
  });
}
