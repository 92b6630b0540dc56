// A capture's upstreams, answered in the replay: a sidecar configuration istiod itself generated
// (the default netns lab, current Istio: go/istiod-gen and pilot-agent), taken from productpage's
// Envoy with its endpoints (config_dump?include_eds) and its pod's rules (iptables-save), as an SRE
// would take them by hand. Replayed, the dump's endpoints become lab hosts at their addresses; the
// endpoints Istio reaches with mTLS (tlsMode istio) become mtls hosts with the lab CA's certificate
// of the identity the cluster checks. productpage's request to details then goes, through the
// replayed Envoy's own mTLS, to the host standing for the details pod, which answers.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { netnsLab } from '../../src/lab/netns/netns-lab.ts';
import { loadScenarioFile } from '../../src/scenario/loader.ts';
import type { LabFile } from '../../src/scenario/schema.ts';
import { NEEDS_ROOT, netnsTest } from '../helpers/caps.ts';

const pathlab = (args: string[]) => spawnSync(process.execPath, ['bin/pathlab.js', ...args], { encoding: 'utf8', timeout: 180_000 });

netnsTest(`${NEEDS_ROOT} istiod's own configuration of productpage, replayed: details' endpoint is an mtls host of details' identity, and productpage's request reaches it through Envoy's mTLS`, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pathlab-replay-up-'));
  try {
    const spec = (parse(readFileSync('labs/netns/bookinfo.yaml', 'utf8')) as LabFile).lab;
    let vip = '';
    let detailsIp = '';
    let productpageIp = '';
    {
      await using lab = await netnsLab(spec).withLabel('replay-upstreams').start();
      t.is(lab.mesh.controlPlane, 'istiod', 'the configuration is istiod\'s own');
      const dump = await lab.run('productpage', ['curl', '-sS', '--max-time', '5', 'http://127.0.0.1:15000/config_dump?include_eds']);
      t.is(dump.exitCode, 0, dump.stderr);
      writeFileSync(join(dir, 'dump.json'), dump.stdout);
      const rules = await lab.run('productpage', ['iptables-nft-save']);
      t.is(rules.exitCode, 0, rules.stderr);
      writeFileSync(join(dir, 'rules.save'), rules.stdout);
      vip = lab.plan.services.find((s) => s.name === 'details')!.vip;
      detailsIp = lab.host('details').ip;
      productpageIp = lab.host('productpage').ip;
    }

    const cap = join(dir, 'capture');
    const c = pathlab(['capture', '--config-dump', join(dir, 'dump.json'), '--iptables', join(dir, 'rules.save'), '--out', cap]);
    t.is(c.status, 0, c.stderr);
    t.regex(c.stdout, /^captured default\/productpage \(Istio /m);
    const s = join(dir, 'replay.yaml');
    writeFileSync(
      s,
      `apiVersion: pathlab/v1
kind: Scenario
metadata:
  name: replay-productpage-details
  description: productpage's request to details, replayed from istiod's own configuration
  source: { note: "the default netns lab's productpage, captured" }
  backends: [netns]
lab:
  capture: ./capture
  services:
    - { name: details, clusterIP: ${vip}, ports: [{ port: 9080, name: http }] }
probes:
  - name: details
    from: { pod: productpage }
    tool: curl
    target: { host: details, port: 9080, path: /details/0 }
    expect:
      outcome: reached
      reply: { contains: "RemoteAddr=" }
      path:
        - envoy listener=virtualOutbound -> listener=0.0.0.0_9080 cluster=outbound|9080||details.default.svc.cluster.local upstream=${detailsIp}:9080
`,
    );
    const loaded = loadScenarioFile(s);
    if (!loaded.ok) return t.fail(loaded.problems.map((p) => `${p.field}: ${p.message}`).join('\n'));
    // The endpoint details' sidecar had: an mtls host of the identity the cluster checks (its SAN), at its address and port.
    const host = loaded.scenario.lab.externalHosts?.find((h) => h.address === detailsIp);
    t.deepEqual(host, { name: 'details', address: detailsIp, ports: [9080], server: 'mtls', identity: 'spiffe://cluster.local/ns/default/sa/details' });
    const out = join(dir, 'out');
    const r = pathlab(['run', s, '--reporter', 'json', '--out', out]);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as { scenarios: Array<{ reason?: string; probes: Array<{ observed: string[]; reason?: string }> }> };
    const probe = report.scenarios[0]!.probes[0];
    if (!probe) return t.fail(`no probe ran: ${report.scenarios[0]!.reason}\n${r.stdout}${r.stderr}`);
    t.log(probe.observed.join('\n'));
    t.is(r.status, 0, `${r.stdout}${r.stderr}\n${probe.reason ?? ''}`);
    // The host that answered is the one standing for the details pod, reached over the replayed Envoy's mTLS, and saw productpage's address.
    t.true(probe.observed.includes(`app pod=details port=9080 src=${productpageIp}`), probe.observed.join('\n'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
