// The catalogue's external redis through docker-compose.yml and testcontainers'
// DockerComposeEnvironment: 10.0.0.6 answers -NOAUTH on 7000-7003 (seed 003). Needs a Docker
// engine with the compose plugin; without one the tests are skipped, saying so.
import { connect } from 'node:net';
import test from 'ava';
import { startExternals } from '../../src/lab/kind/externals.ts';
import { NEEDS_DOCKER, docker, dockerTest } from '../helpers/docker.ts';

function ask(host: string, port: number, payload: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port, timeout: 3000 });
    let data = '';
    s.on('connect', () => s.write(payload));
    s.on('data', (b) => {
      data += b.toString('utf8');
      if (data.includes('\r\n')) s.end();
    });
    s.on('end', () => resolve(data));
    s.on('timeout', () => s.destroy(new Error(`no answer from ${host}:${port}`)));
    s.on('error', reject);
  });
}

dockerTest(`${NEEDS_DOCKER} the external redis answers NOAUTH on 10.0.0.6:7000-7003, and is gone after stop`, async (t) => {
  {
    await using _ext = await startExternals();
    for (const port of [7000, 7001, 7002, 7003]) t.regex(await ask('10.0.0.6', port, 'keys *\r\n'), /^-NOAUTH Authentication required/, `port ${port}`);
  }
  await t.throwsAsync(ask('10.0.0.6', 7003, 'keys *\r\n'));
});

test('Docker detection gives a reason when it says no', (t) => {
  if (docker.available) t.is(docker.reason, undefined);
  else t.regex(docker.reason ?? '', /no Docker engine on this machine|Docker unusable/);
});
