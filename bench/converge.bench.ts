// A setup step's cost on the default lab: from applying it (a Service that declares port 7000
// as HTTP, as in seed 003) to every sidecar converged (istiod: its push acked by every sidecar,
// through pilot-agent, over real xDS; the model: each changed Envoy has accepted the new file
// version; either way nothing warms), against a floor measured in the same run: one /config_dump
// round trip to one Envoy of the lab (what any wait for a pushed configuration has to pay at
// least). Measured with each control plane the lab has here: istiod where it is built, and the
// Envoy model.
import { netnsLab, removeLab } from '../src/lab/netns/netns-lab.ts';
import { netnsUnavailable } from '../src/lab/netns/requirements.ts';
import { labFromFile, DEFAULT_NETNS_LAB } from '../src/lab/netns/lab-commands.ts';
import { istiodBuildRecorded } from '../src/istio/istio-build.ts';
import type { SetupStep } from '../src/scenario/schema.ts';

const why = netnsUnavailable();
if (why) {
  console.log(`converge bench skipped: ${why}`);
} else {
  const { spec } = labFromFile(DEFAULT_NETNS_LAB);
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const step: SetupStep = {
    role: 'fault',
    apply: { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'frontend' }, spec: { selector: { app: 'web' }, ports: [{ name: 'http-web', port: 7000, targetPort: 7000 }] } },
  };
  const planes = istiodBuildRecorded(spec.istio.version) ? (['istiod', 'model'] as const) : (['model'] as const);
  for (const plane of planes) {
    const lab = await netnsLab(spec).withControlPlane(plane).start();
    try {
      const floor: number[] = [];
      for (let i = 0; i < 7; i++) {
        const t0 = performance.now();
        await lab.run('productpage', ['curl', '-s', '-o', '/dev/null', 'http://127.0.0.1:15000/config_dump?include_eds']);
        floor.push(performance.now() - t0);
      }
      const apply: number[] = [];
      const revert: number[] = [];
      for (let i = 0; i < 5; i++) {
        const t0 = performance.now();
        await lab.mesh.apply(step);
        apply.push(performance.now() - t0);
        const t1 = performance.now();
        await lab.mesh.reset();
        revert.push(performance.now() - t1);
      }
      const f = median(floor);
      const a = median(apply);
      const r = median(revert);
      const meshed = lab.plan.hosts.filter((h) => h.meshed).length;
      console.log(`control plane: ${lab.mesh.controlPlane} (${meshed} sidecars), median of 5:`);
      console.log(`floor: one /config_dump round trip to one Envoy              ${f.toFixed(0)} ms = 1.00`);
      console.log(`setup step applied → every sidecar converged                 ${a.toFixed(0)} ms = ${(a / f).toFixed(1)} × floor`);
      console.log(`setup reverted → every sidecar converged                     ${r.toFixed(0)} ms = ${(r / f).toFixed(1)} × floor`);
    } finally {
      await removeLab(lab.id);
    }
  }
}
