// The hosts file a lab pod resolves names with: a Service name means the Service's VIP, as
// cluster DNS answers, even when a pod of the lab has the same name (Bookinfo's pods do). The
// runner dials the VIP it resolved, so the pod's resolver must agree with it.
import test from 'ava';
import { hostsFile, planLab } from '../../../../src/lab/netns/plan.ts';

test('a Service and a pod with the same name: the name resolves to the Service VIP (first line wins)', (t) => {
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
    const first = lines.find((l) => l.split(/\s+/).slice(1).includes('productpage'));
    t.is(first?.split(/\s+/)[0], svc.vip, `${self.name}: productpage → ${first}`);
    t.true(lines.some((l) => l === `${self.ip} ${self.name}`), `${self.name} still names itself`);
  }
});
