// Probe targets on a cluster are checked against the networks the cluster itself reports (the
// Node and ServiceCIDR objects, in the shape the Kubernetes API returns them; a kind cluster from
// labs/kind-istio/kind.yaml has pods in 10.64.0.0/16 and Services in 10.96.0.0/16) and the lab's
// external network, whatever networks the scenario declares (podCidr: 0.0.0.0/0 passed).
import test from 'ava';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { clusterNetworksOf, targetProblem } from '../../../../src/lab/kind/cluster-networks.ts';

const nodes = [{ spec: { podCIDR: '10.64.0.0/24', podCIDRs: ['10.64.0.0/24', 'fd00:10:244::/64'] } }];
const services = [{ spec: { cidrs: ['10.96.0.0/16', 'fd00:10:96::/112'] } }];
// The external hosts' own addresses, as the kind backend hands them over: the lab group's externalHosts (not their network: 10.0.0.1 is the host).
const outage = parse(readFileSync('scenarios/incident-7000/outage-current.yaml', 'utf8')) as { lab: { externalHosts: Array<{ address: string }> } };
const nets = clusterNetworksOf(nodes, services, outage.lab.externalHosts.map((h) => `${h.address}/32`));

test('the networks come from the cluster: IPv4 pod and Service networks, and the external one', (t) => {
  t.deepEqual(nets, { pods: ['10.64.0.0/24'], services: ['10.96.0.0/16'], external: ['10.0.0.6/32'] });
});

for (const [ip, ok] of [['10.64.0.17', true], ['10.96.0.115', true], ['10.0.0.6', true], ['10.0.0.1', false], ['8.8.8.8', false], ['10.64.1.5', false], ['192.168.1.1', false], ['127.0.0.1', true]] as const) {
  test(`target ${ip}: ${ok ? 'allowed' : 'refused'}`, (t) => {
    const why = targetProblem(ip, nets);
    if (ok) t.is(why, undefined);
    else t.regex(why ?? '', new RegExp(`^${ip.replace(/\./g, '\\.')} is in none of the cluster's networks`));
  });
}
