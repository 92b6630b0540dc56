// Replaying a captured sidecar, first half: Istio's own config dumps (../shared/fixtures/envoy,
// copied from istio/istio) turned into a static bootstrap (src/mesh/envoy/replay.ts) that the
// pinned upstream Envoy loads (`envoy --mode validate`, its own full configuration check), with
// only the documented Istio extensions removed, and nothing that selects a path changed: every
// listener, its address, its listener filters, its filter chains (names, positions, matches, TLS)
// and where each chain sends (the tcp_proxy cluster, the HTTP route configuration), read by the
// same parser explain uses, are the dump's. The v2 dump of Istio 1.1.1's productpage is first
// restated in v3 (replay-v2.ts) and loads too; istioctl's hand-trimmed v2 dump does not, and
// Envoy itself says why (two terminal filters in one chain: no Envoy ever ran it).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { ENVOY_PINS, installedEnvoy } from '../../src/istio/envoy.ts';
import { exec } from '../../src/lab/exec.ts';
import { parseConfigDump } from '../../src/mesh/envoy/config-dump-parser.ts';
import type { Listener } from '../../src/mesh/envoy/envoy-config.ts';
import { ISTIO_ONLY_EXTENSIONS, replayBootstrap } from '../../src/mesh/envoy/replay.ts';
import { readFixture } from '../helpers/shared-fixtures.ts';
import { selfSigned } from '../../src/lab/netns/lab-ca.ts';

const LOADED_DUMPS = ['configdump.yaml', 'config_dump.json', 'productpage_config_dump.json'];
const FILES = { certificateChain: '/lab/cert.pem', privateKey: '/lab/key.pem', trustedCa: '/lab/ca.pem' };
/** A throwaway certificate and key in `dir`, as a replaying lab gives its own CA's (Envoy checks that the files exist). */
async function labFiles(dir: string) {
  const { cert, key } = await selfSigned(dir, 'pod', '/CN=replay');
  return { certificateChain: cert, privateKey: key, trustedCa: cert };
}

/**
 * `envoy --mode validate` of a bootstrap, its output read from a file: a dump's access logs write
 * to /dev/stdout, which Envoy cannot open when its stdout is a socket (as Node's pipes are).
 */
async function validate(binary: string, dir: string): Promise<{ exitCode: number | null; output: string }> {
  const out = join(dir, 'validate.out');
  const v = await exec(['sh', '-c', 'exec "$0" --mode validate -c "$1" --log-level warn >"$2" 2>&1', binary, join(dir, 'bootstrap.json'), out], { timeoutMs: 60_000 });
  return { exitCode: v.exitCode, output: readFileSync(out, 'utf8') };
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

for (const file of LOADED_DUMPS) {
  test(`${file}: upstream Envoy loads its replay; only documented Istio extensions are removed; every listener selects as in the dump`, async (t) => {
    const dump = JSON.parse(readFixture('envoy', file)) as unknown;
    const r = replayBootstrap(dump, FILES);
    // Each removed filter is one the documented list names.
    const removed = new Set(r.changes.flatMap((c) => [.../removed (?:HTTP|network|listener) filter ([\w.-]+)/.exec(c)?.slice(1) ?? []]));
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
      const v = await validate(envoy.binary, dir);
      t.is(v.exitCode, 0, v.output.split('\n').filter((l) => !/Deprecated|work-in-progress/.test(l)).join('\n'));
      t.regex(v.output, /configuration '.*bootstrap\.json' OK/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('productpage_config_dump.json (v2, Istio 1.1.1): restated in v3, each upgrade said; the HTTP port listeners keep their one match-all chain (the legacy 400)', (t) => {
  const dump = JSON.parse(readFixture('envoy', 'productpage_config_dump.json')) as unknown;
  const r = replayBootstrap(dump, FILES);
  for (const said of [/v2 type URLs → v3/, /tls_context → transport_socket/, /cluster hosts → load_assignment/, /certificate file \/etc\/certs\/key\.pem: the replaying lab's own private key/])
    t.true(r.changes.some((c) => said.test(c)), `${said}: ${r.changes.join('\n')}`);
  const after = parseConfigDump((r.bootstrap.static_resources as { listeners: unknown[] }).listeners).listeners ?? [];
  const l9080 = after.find((l) => l.name === '0.0.0.0_9080')!;
  t.is(l9080.filterChains.length, 1);
  t.deepEqual(Object.entries(l9080.filterChains[0]!.match).filter(([, v]) => v !== undefined && !(Array.isArray(v) && v.length === 0)), [], 'matches every connection');
  t.is(l9080.defaultFilterChain, undefined);
  t.deepEqual(l9080.filterChains[0]!.filters.map((f) => f.kind), ['http_connection_manager']);
});

test('configdump.json (istioctl\'s hand-trimmed v2 dump): restated, but Envoy refuses it for a reason of its own: two terminal filters in one chain', async (t) => {
  const dump = JSON.parse(readFixture('envoy', 'configdump.json')) as unknown;
  t.true((parseConfigDump(dump).listeners ?? []).length > 0, 'explain reads it');
  const pin = ENVOY_PINS[0]!;
  const envoy = await installedEnvoy(pin.version);
  if (!envoy) return t.fail(`Envoy ${pin.version} is not installed: npm run system-deps`);
  const dir = mkdtempSync(join(tmpdir(), 'pathlab-replay-'));
  try {
    const r = replayBootstrap(dump, await labFiles(dir));
    t.true(r.changes.some((c) => /camelCase field names/.test(c)));
    writeFileSync(join(dir, 'bootstrap.json'), JSON.stringify(r.bootstrap));
    const v = await validate(envoy.binary, dir);
    t.not(v.exitCode, 0);
    t.regex(v.output, /terminal filter named envoy\.tcp_proxy .* must be the last filter in a network filter chain/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
