import { loadScenarioFile } from './src/scenario/loader.ts';
import { netnsLab } from './src/lab/netns/netns-lab.ts';
const r = loadScenarioFile('scenarios/incident-7000/outage-legacy.yaml');
if (!r.ok) throw new Error('bad');
const t0 = performance.now();
const APP = { uid: 1000, gid: 1000 };
{
  await using lab = await netnsLab(r.scenario.lab).start();
  console.log('up', (performance.now() - t0).toFixed(0), 'ms', lab.id);
  for (const step of r.scenario.setup ?? []) await lab.mesh.apply(step);
  console.log('setup', (performance.now() - t0).toFixed(0), 'ms');
  for (const port of [7000, 7003]) {
    const res = await lab.run('app', ['nc', '-w', '2', '10.0.0.6', String(port)], { input: 'keys *\r\n', user: APP, timeoutMs: 4000 });
    console.log(port, JSON.stringify(res.stdout), res.exitCode);
  }
  console.log((await lab.run('app', ['ss', '-ltnpe'])).stdout);
  const { readFileSync } = await import('node:fs');
  console.log(readFileSync(lab.mesh.accessLogPath('app'), 'utf8'));
  await lab.mesh.reset();
  const res = await lab.run('app', ['nc', '-w', '2', '10.0.0.6', '7000'], { input: 'keys *\r\n', user: APP, timeoutMs: 4000 });
  console.log('after reset', JSON.stringify(res.stdout));
  console.log((await lab.run('app', ['cat', '/proc/net/nf_conntrack'])).stdout.split('\n').filter(l => l.includes('700')).join('\n'));
}
