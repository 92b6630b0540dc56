import { loadScenarioFile } from './src/scenario/loader.ts';
import { netnsLab, listLabNamespaces } from './src/lab/netns/netns-lab.ts';
const r = loadScenarioFile('scenarios/incident-7000/outage-legacy.yaml');
if (!r.ok) throw new Error('bad');
const t0 = performance.now();
{
  await using lab = await netnsLab({ ...r.scenario.lab, services: [{ name: 'web', namespace: 'frontend', clusterIP: '10.96.0.115', ports: [{ port: 7000, name: 'http-web' }], selector: { app: 'web' } }] }).start();
  console.log('up', (performance.now() - t0).toFixed(0), 'ms', lab.id);
  const srv = lab.run('redis', ['nc', '-l', '-p', '7003', '-q', '1'], { input: 'hello from redis\n', timeoutMs: 3000 });
  const srv2 = lab.run('web', ['nc', '-l', '-p', '7000', '-q', '1'], { input: 'hello from web\n', timeoutMs: 3000 });
  await new Promise((r) => setTimeout(r, 200));
  console.log(await lab.run('app', ['nc', '-w', '2', '10.0.0.6', '7003'], { input: 'hi\n', user: { uid: 1000, gid: 1000 }, timeoutMs: 3000 }));
  console.log((await lab.run('app', ['nc', '-w', '2', 'web.frontend', '7000'], { input: 'hi\n', timeoutMs: 3000 })).stdout);
  console.log((await srv).stdout, (await srv2).stdout);
  console.log((await lab.run('app', ['cat', '/etc/hosts'])).stdout);
  console.log((await lab.run('app', ['ip', 'route'])).stdout);
  console.log(await lab.run('app', ['nc', '-z', '-w', '1', '192.168.0.1', '22'], { timeoutMs: 3000 }));
  console.log(await listLabNamespaces());
}
console.log('after', await listLabNamespaces());
