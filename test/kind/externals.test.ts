// The kind lab's external hosts through Docker: the compose file a run writes for a lab group
// (src/lab/kind/externals.ts), started with testcontainers' DockerComposeEnvironment. Seed 003's
// redis at 10.0.0.6 answers -NOAUTH on 7000-7003, seed 002's echo host at 10.0.0.20 names itself,
// and both are gone after stop. Needs a Docker engine with the compose plugin; without one the
// tests are skipped, saying so (test/netns/kind-externals.test.ts runs the same commands here).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { externalsCompose, externalsProject, startExternals } from '../../src/lab/kind/externals.ts';
import { bundledAgents } from '../../src/lab/netns/agents/bundle.ts';
import { IMAGES } from '../../src/lab/kind/versions.ts';
import { loadScenarioFile } from '../../src/scenario/loader.ts';
import { NEEDS_DOCKER, docker, dockerTest } from '../helpers/docker.ts';

function ask(host: string, port: number, payload: string, until: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port, timeout: 3000 });
    let data = '';
    s.on('connect', () => s.write(payload));
    s.on('data', (b) => {
      data += b.toString('utf8');
      if (until.test(data)) s.end();
    });
    s.on('end', () => resolve(data));
    s.on('timeout', () => s.destroy(new Error(`no answer from ${host}:${port}`)));
    s.on('error', reject);
  });
}

function hostsOf(file: string) {
  const r = loadScenarioFile(file);
  if (!r.ok) throw new Error(`${file} must load`);
  return r.scenario.lab.externalHosts ?? [];
}

dockerTest(`${NEEDS_DOCKER} the lab group's external hosts answer at their addresses, and are gone after stop`, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pathlab-ext-'));
  try {
    const hosts = [...hostsOf('scenarios/incident-7000/outage-current.yaml'), ...hostsOf('scenarios/injection/annotation-exclude-outbound-ports.yaml')];
    const file = join(dir, 'compose.yaml');
    writeFileSync(file, externalsCompose(hosts, { labId: 'dockertest', echoApp: bundledAgents(join(dir, 'agents'))['echo-app'], images: { node: IMAGES.node, redis: IMAGES.redis } }));
    {
      await using _ext = await startExternals({ file, project: externalsProject('dockertest'), hosts });
      for (const port of [7000, 7001, 7002, 7003]) t.regex(await ask('10.0.0.6', port, 'keys *\r\n', /\r\n/), /^-NOAUTH Authentication required/, `redis port ${port}`);
      t.regex(await ask('10.0.0.20', 7000, 'hi\n', /hello hi\n/), /^hello from ext port 7000 \(peer [\d.]+:\d+\)\n/);
    }
    await t.throwsAsync(ask('10.0.0.6', 7003, 'keys *\r\n', /\r\n/));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('Docker detection gives a reason when it says no', (t) => {
  if (docker.available) t.is(docker.reason, undefined);
  else t.regex(docker.reason ?? '', /no Docker engine on this machine|Docker unusable/);
});
