// The files the netns lab renders for a pod's Envoy (src/lab/netns/envoy-xds.ts), loaded by the
// pinned upstream Envoy itself: in a network namespace of its own, as the lab starts it (the
// proxy uid with REDIRECT; uid 0 and the proxy gid with TPROXY), from a bootstrap and a watched
// directory of files, with a throwaway CA and workload certificate. Envoy must come up LIVE with
// every rendered listener active and every cluster, at the version pushed, and say nothing of a
// rejected update. The mesh is test/helpers/sidecar-xds.ts's (its unit test checks the shapes).
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { ENVOY_PINS, envoyForLab, installedEnvoy } from '../../src/istio/envoy.ts';
import { exec, inNetns, systemEnv } from '../../src/lab/exec.ts';
import { LAB_STATE_DIR } from '../../src/lab/netns/netns-lab.ts';
import { createLabCa, createPodCert } from '../../src/lab/netns/lab-ca.ts';
import { XDS_FILES, renderBootstrap, renderResources, type SidecarFacts } from '../../src/lab/netns/envoy-xds.ts';
import { PROXY_UID } from '../../src/mesh/iptables/constants.ts';
import { NEEDS_ROOT, netnsTest } from '../helpers/caps.ts';
import { INOTIFY_PER_ENVOY } from '../../src/lab/netns/doctor.ts';
import { FACTS, WEB, sidecarPathsIn, synthesizedDump, type Json } from '../helpers/sidecar-xds.ts';

const NS = `pl-xdsv${process.pid % 1000}`;
const VERSION = '7';
const ADMIN = 'http://127.0.0.1:15000';

const at = (o: unknown, ...keys: Array<string | number>): unknown => keys.reduce<unknown>((x, k) => (x as Record<string | number, unknown> | undefined)?.[k], o);

async function loadsIntoEnvoy(t: ExecutionContext, interception: SidecarFacts['interception']): Promise<void> {
  const pin = ENVOY_PINS[0]!;
  const installed = await installedEnvoy(pin.version);
  if (!installed) return t.fail(`Envoy ${pin.version} is not installed: npm run system-deps`);
  const binary = envoyForLab(installed, LAB_STATE_DIR);
  const dir = mkdtempSync(join(tmpdir(), 'pathlab-xdsv-'));
  chmodSync(dir, 0o755); // the proxy uid reads the bootstrap and the files
  const proxy = { uid: PROXY_UID, gid: PROXY_UID };
  let envoy: ChildProcess | undefined;
  let nsMade = false;
  const logFile = join(dir, 'envoy.log');
  const envoyLog = () => readFileSync(logFile, 'utf8');
  try {
    // The lab's certificates: a CA, the pod's SPIFFE certificate readable by the proxy gid.
    const ca = await createLabCa(join(dir, 'ca'), 'xdsv');
    chmodSync(join(dir, 'ca'), 0o755);
    const cert = await createPodCert(join(dir, 'ca'), ca, { name: 'client', namespace: 'default' }, proxy);
    const paths = sidecarPathsIn(dir);
    const pem = { cert: readFileSync(cert.cert, 'utf8'), key: readFileSync(cert.key, 'utf8'), ca: readFileSync(cert.ca, 'utf8') };
    mkdirSync(paths.xdsDir, { mode: 0o755 });
    chmodSync(paths.xdsDir, 0o755);
    for (const log of Object.values(paths.accessLog)) {
      writeFileSync(log, '', { mode: 0o644 });
      chownSync(log, proxy.uid, proxy.gid);
    }
    const dump = synthesizedDump();
    const files = renderResources(dump, { ...FACTS, interception, pem }, paths, VERSION);
    for (const [name, body] of files) writeFileSync(join(paths.xdsDir, name), `${JSON.stringify(body)}\n`, { mode: 0o644 });
    const node = at(dump.configs[0], 'bootstrap', 'node') as Json;
    const bootstrap = join(dir, 'envoy.json');
    writeFileSync(bootstrap, `${JSON.stringify(renderBootstrap({ ...node, cluster: 'client.default' }, paths), null, 2)}\n`, { mode: 0o644 });

    await exec(['ip', 'netns', 'add', NS]);
    nsMade = true;
    await exec(inNetns(NS, ['ip', 'link', 'set', 'lo', 'up']));
    const user = interception === 'TPROXY' ? { uid: 0, gid: proxy.gid } : proxy;
    const [cmd, ...args] = inNetns(NS, [binary, '-c', bootstrap, '--disable-hot-restart', '--concurrency', '1', '--log-level', 'warning'], user);
    const fd = openSync(logFile, 'w', 0o644);
    envoy = spawn(cmd!, args, { stdio: ['ignore', fd, fd], env: systemEnv() });
    closeSync(fd);
    let exited: string | undefined;
    envoy.on('exit', (code, signal) => (exited = `exit ${code ?? signal}`));

    const curl = async (url: string) => (await exec(inNetns(NS, ['curl', '-s', '--max-time', '2', url]))).stdout;
    let ready = '';
    for (let i = 0; i < 200 && exited === undefined && ready.trim() !== 'LIVE'; i++) {
      ready = await curl(`${ADMIN}/ready`);
      if (ready.trim() !== 'LIVE') await new Promise((r) => setTimeout(r, 50));
    }
    t.is(ready.trim(), 'LIVE', `Envoy (${exited ?? 'running'}) is not LIVE: ${ready}\n${envoyLog().slice(-3000)}`);
    if (ready.trim() !== 'LIVE') return;

    const configDump = JSON.parse(await curl(`${ADMIN}/config_dump?include_eds`)) as { configs: Json[] };
    const section = (type: string) => configDump.configs.find((c) => String(c['@type']).endsWith(type)) ?? {};
    const rendered = { listeners: files.get(XDS_FILES.lds)!.resources as Json[], clusters: files.get(XDS_FILES.cds)!.resources as Json[] };

    // Every rendered listener is active at the version pushed; none warms, none is in error.
    const dynamic = section('.ListenersConfigDump').dynamic_listeners as Json[];
    t.deepEqual(dynamic.map((l) => l.name).sort(), rendered.listeners.map((l) => String(l.name)).sort());
    for (const l of dynamic) {
      t.truthy(l.active_state, `${String(l.name)} is not active: ${JSON.stringify(l).slice(0, 500)}`);
      t.false('warming_state' in l, `${String(l.name)} warms`);
      t.false('error_state' in l, `${String(l.name)}: ${JSON.stringify(l.error_state)}`);
      t.is(at(l, 'active_state', 'version_info'), VERSION, String(l.name));
    }
    const active = (section('.ClustersConfigDump').dynamic_active_clusters as Json[]).map((c) => String(at(c, 'cluster', 'name')));
    t.deepEqual(active.sort(), rendered.clusters.map((c) => String(c.name)).sort());
    t.is(section('.ClustersConfigDump').dynamic_warming_clusters, undefined);
    // The TPROXY shape took: both catch-all listeners transparent, original_src on virtualInbound.
    const vi = at(dynamic.find((l) => l.name === 'virtualInbound'), 'active_state', 'listener') as Json;
    t.is(vi.transparent, interception === 'TPROXY' ? true : undefined);
    t.is((vi.listener_filters as Json[]).some((f) => f.name === 'envoy.filters.listener.original_src'), interception === 'TPROXY');
    // web's two endpoints, the meshed one labelled for mTLS.
    const eds = section('.EndpointsConfigDump');
    const webEndpoints = [...((eds.dynamic_endpoint_configs as Json[] | undefined) ?? []), ...((eds.static_endpoint_configs as Json[] | undefined) ?? [])].find((e) => at(e, 'endpoint_config', 'cluster_name') === WEB);
    const lb = at(webEndpoints, 'endpoint_config', 'endpoints', 0, 'lb_endpoints') as Json[];
    t.deepEqual(lb.map((e) => at(e, 'endpoint', 'address', 'socket_address', 'address')), ['10.64.0.30', '10.64.0.31']);
    t.deepEqual(lb.map((e) => at(e, 'metadata', 'filter_metadata', 'envoy.transport_socket_match', 'tlsMode')), ['istio', undefined]);

    // The subscriptions accepted this version and rejected nothing.
    const stats = await curl(`${ADMIN}/stats?filter=${encodeURIComponent('\\.(lds|cds)\\.(version_text|update_rejected)$')}`);
    t.regex(stats, new RegExp(`^listener_manager\\.lds\\.version_text: "${VERSION}"$`, 'm'), stats);
    t.regex(stats, new RegExp(`^cluster_manager\\.cds\\.version_text: "${VERSION}"$`, 'm'), stats);
    t.regex(stats, /^listener_manager\.lds\.update_rejected: 0$/m, stats);
    t.regex(stats, /^cluster_manager\.cds\.update_rejected: 0$/m, stats);
    t.notRegex(envoyLog(), /rejected/i);
    t.is(exited, undefined, envoyLog().slice(-2000));
    // Its file watches: the kernel allows 128 inotify instances per user, and every lab Envoy of the proxy uid shares them.
    const fds = readdirSync(`/proc/${envoy.pid}/fd`).map((f) => { try { return readlinkSync(`/proc/${envoy!.pid}/fd/${f}`); } catch { return ''; } });
    t.is(fds.filter((l) => l === 'anon_inode:inotify').length, INOTIFY_PER_ENVOY);
  } finally {
    envoy?.kill('SIGKILL');
    if (envoy && envoy.exitCode === null && envoy.signalCode === null) await new Promise((r) => envoy!.once('exit', r));
    if (nsMade) await exec(['ip', 'netns', 'del', NS]);
    rmSync(dir, { recursive: true, force: true });
  }
}

netnsTest(`${NEEDS_ROOT} REDIRECT: the pinned Envoy, as the proxy uid, loads the rendered files: LIVE, every listener active, LDS and CDS at the version pushed, nothing rejected`, async (t) => {
  await loadsIntoEnvoy(t, 'REDIRECT');
});

netnsTest(`${NEEDS_ROOT} TPROXY: the pinned Envoy, as uid 0 and the proxy gid, loads the transparent listeners and original_src: LIVE, every listener active, nothing rejected`, async (t) => {
  await loadsIntoEnvoy(t, 'TPROXY');
});
