// Upstream Envoy where the lab will run it: in a pod's network namespace, as the proxy uid, from
// the lab's copy under /run/pathlab (the cache may sit in a home the proxy uid cannot read), with
// --disable-hot-restart (namespaces share /dev/shm: two Envoys at once must not collide). Each
// answers its own admin /server_info as LIVE with the pinned version.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ENVOY_PINS, envoyForLab, installedEnvoy } from '../../src/istio/envoy.ts';
import { exec, inNetns, systemEnv } from '../../src/lab/exec.ts';
import { LAB_STATE_DIR } from '../../src/lab/netns/netns-lab.ts';
import { PROXY_UID } from '../../src/mesh/iptables/constants.ts';
import { NEEDS_ROOT, netnsTest } from '../helpers/caps.ts';

const BOOTSTRAP = 'admin:\n  address: { socket_address: { address: 127.0.0.1, port_value: 15000 } }\nstatic_resources: {}\n';

netnsTest(`${NEEDS_ROOT} the pinned Envoy runs in two pod namespaces at once as the proxy uid, from the lab's copy, each LIVE on its own admin port`, async (t) => {
  const pin = ENVOY_PINS[0]!;
  const installed = await installedEnvoy(pin.version);
  if (!installed) return t.fail(`Envoy ${pin.version} is not installed: npm run system-deps`);
  const binary = envoyForLab(installed, LAB_STATE_DIR);
  const dir = mkdtempSync(join(tmpdir(), 'pathlab-envoy-'));
  chmodSync(dir, 0o755); // the proxy uid reads the bootstrap
  const config = join(dir, 'bootstrap.yaml');
  writeFileSync(config, BOOTSTRAP, { mode: 0o644 });
  const namespaces = [`pl-envoy${process.pid % 1000}-a`, `pl-envoy${process.pid % 1000}-b`];
  const children: ChildProcess[] = [];
  try {
    for (const ns of namespaces) {
      await exec(['ip', 'netns', 'add', ns]);
      await exec(inNetns(ns, ['ip', 'link', 'set', 'lo', 'up']));
      const [cmd, ...args] = inNetns(ns, [binary, '-c', config, '--disable-hot-restart', '--log-level', 'error'], { uid: PROXY_UID, gid: PROXY_UID });
      children.push(spawn(cmd!, args, { stdio: 'ignore', env: systemEnv() }));
    }
    for (const ns of namespaces) {
      let info = '';
      for (let i = 0; i < 100 && !info.includes('"LIVE"'); i++) {
        info = (await exec(inNetns(ns, ['curl', '-s', '--max-time', '1', 'http://127.0.0.1:15000/server_info']))).stdout;
        if (!info.includes('"LIVE"')) await new Promise((r) => setTimeout(r, 50));
      }
      t.regex(info, /"state": "LIVE"/, `${ns}: ${info.slice(0, 200)}`);
      t.regex(info, new RegExp(`/${pin.version.replace(/\./g, '\\.')}/`));
      const owner = (await exec(inNetns(ns, ['ss', '-ltnpeH', 'sport', '= :15000']))).stdout;
      t.regex(owner, new RegExp(`uid:${PROXY_UID}\\b`), owner);
    }
  } finally {
    for (const c of children) c.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 100));
    for (const ns of namespaces) await exec(['ip', 'netns', 'del', ns]);
    rmSync(dir, { recursive: true, force: true });
  }
});
