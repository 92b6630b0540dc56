// The hosts file a lab pod resolves names with: a Service name means the Service's VIP, as
// cluster DNS answers, even when a pod of the lab has the same name (Bookinfo's pods do). The
// runner dials the VIP it resolved, so the pod's resolver must agree with it.
import test from 'ava';
import { hostsFile, planLab } from '../../../../src/lab/netns/plan.ts';

test('a Service and a pod with the same name: the name resolves to the Service VIP only', (t) => {
  const plan = planLab(
    {
      istio: { version: 'current' },
      pods: [
        { name: 'productpage', workload: 'productpage', labels: { app: 'productpage' }, ports: [{ port: 9080, name: 'http' }] },
        { name: 'toolbox', workload: 'toolbox' },
      ],
      services: [{ name: 'productpage', selector: { app: 'productpage' }, ports: [{ port: 9080, name: 'http' }] }],
    },
    'hoststest',
  );
  const svc = plan.services[0]!;
  for (const self of plan.hosts) {
    const lines = hostsFile(self, plan.hosts, plan.services).split('\n').filter((l) => l && !l.startsWith('#'));
    const named = lines.filter((l) => l.split(/\s+/).slice(1).includes('productpage')).map((l) => l.split(/\s+/)[0]);
    t.deepEqual(named, [svc.vip], `${self.name}: productpage → ${named.join(', ')}`);
  }
  const toolbox = plan.hosts.find((h) => h.name === 'toolbox')!;
  t.true(hostsFile(toolbox, plan.hosts, plan.services).includes(`${toolbox.ip} toolbox`), 'a pod no Service shadows still names itself');
});
