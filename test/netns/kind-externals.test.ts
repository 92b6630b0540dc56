// The kind lab's external hosts (src/lab/kind/externals.ts), as the compose file the run writes
// for each lab group: every host of the catalogue that kind runs, its service's command run for
// real on this machine, in a network namespace standing in for its container (the host's
// address on the namespace's loopback, the same user, the bundled echo app at the path the
// compose volume names). There is no Docker here: what Docker adds (the image, the network)
// is the part not run. Checked: each service logs the line its start waits for, and answers
// as the scenarios expect it (redis -NOAUTH with the password; the echo app naming the host,
// the port and the peer it saw, on TCP and HTTP).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { parse } from 'yaml';
import { caps } from '../helpers/caps.ts';
import { loadScenarioFile } from '../../src/scenario/loader.ts';
import { collectScenarioFiles } from '../../src/scenario/collect.ts';
import { externalProblem, externalsCompose, readyLine } from '../../src/lab/kind/externals.ts';
import { bundledAgents } from '../../src/lab/netns/agents/bundle.ts';
import { IMAGES } from '../../src/lab/kind/versions.ts';
import { kindBackend } from '../../src/lab/kind/backend.ts';
import type { LabSpec } from '../../src/scenario/schema.ts';

const have = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const skipWhy = !caps.netns ? 'needs root and ip netns' : !have('redis-server') ? 'needs redis-server' : !have('setpriv') ? 'needs setpriv' : '';
const netnsTest = skipWhy ? test.skip : test.serial;
const title = (s: string) => (skipWhy ? `[skipped: ${skipWhy}] ${s}` : `[needs root] ${s}`);

interface ComposeService {
  image: string;
  command: string[];
  user: string;
  volumes?: string[];
  networks: { ext: { ipv4_address: string } };
}

/** The external hosts of the scenarios kind runs, one per address (the same host in several scenarios is one). */
function hostsOfCatalogue() {
  const byAddress = new Map<string, NonNullable<LabSpec['externalHosts']>[number]>();
  for (const f of collectScenarioFiles(['scenarios']).files) {
    const r = loadScenarioFile(f);
    if (!r.ok) throw new Error(`${f} must load`);
    if (kindBackend.unsupported(r.scenario) !== undefined) continue;
    for (const h of r.scenario.lab.externalHosts ?? []) byAddress.set(`${h.address} ${h.server} ${h.ports.join(',')}`, h);
  }
  return [...byAddress.values()];
}

const hosts = hostsOfCatalogue();
const PID = process.pid;
const children: ChildProcess[] = [];
const namespaces: string[] = [];
const dir = mkdtempSync(join(tmpdir(), 'pathlab-kind-ext-'));
// The servers run as nobody and read the echo app from here, as a container reads its volume.
chmodSync(dir, 0o755);

test.after.always(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  // A redis service's shell starts servers in the background: every process in the namespace goes.
  for (const ns of namespaces) {
    const pids = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
    if (pids.length) spawnSync('kill', ['-KILL', ...pids]);
    spawnSync('ip', ['netns', 'del', ns]);
  }
  rmSync(dir, { recursive: true, force: true });
});

function nsExec(ns: string, argv: string[], input?: string): string {
  const r = spawnSync('ip', ['netns', 'exec', ns, ...argv], { encoding: 'utf8', timeout: 10_000, ...(input === undefined ? {} : { input }) });
  return r.stdout ?? '';
}

/** Starts a service's command in a namespace of its own, as its user; resolves when its log shows the ready line as often as the start waits for it. */
function startService(ns: string, svc: ComposeService, agentPath: string, ready: { line: RegExp; times: number }): Promise<string> {
  // The volume's path inside the container is the bundled echo app on this machine.
  const inside = svc.volumes?.[0]?.split(':')[1];
  const argv = svc.command.map((a) => (inside !== undefined && a === inside ? agentPath : a));
  const [uid, gid] = svc.user.split(':');
  // The compose command names `node` as the image has it; here it is this Node.
  const program = argv[0] === 'node' ? process.execPath : argv[0]!;
  const child = spawn('ip', ['netns', 'exec', ns, 'setpriv', `--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', program, ...argv.slice(1)], { cwd: '/tmp', stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let log = '';
    const timer = setTimeout(() => reject(new Error(`not ${ready.times} ready line(s) ${ready.line} within 10 s; log:\n${log}`)), 10_000);
    const on = (b: Buffer) => {
      log += b.toString('utf8');
      if (log.split('\n').filter((l) => ready.line.test(l)).length >= ready.times) {
        clearTimeout(timer);
        resolve(log);
      }
    };
    child.stdout!.on('data', on);
    child.stderr!.on('data', on);
    child.on('exit', (code) => reject(new Error(`exited ${code}; log:\n${log}`)));
  });
}

test('the catalogue has external hosts kind runs: redis, echo and http, at their addresses', (t) => {
  t.deepEqual([...new Set(hosts.map((h) => h.server))].sort(), ['echo', 'http', 'redis']);
  t.true(hosts.some((h) => h.address === '10.0.0.6' && h.server === 'redis'));
  t.true(hosts.some((h) => h.address === '10.0.0.20' && h.server === 'echo'));
  t.true(hosts.some((h) => h.address === '10.0.0.10' && h.server === 'http'));
  t.regex(externalProblem({ name: 'api', address: '10.0.0.21', server: 'https', ports: [443] }) ?? '', /HTTPS server/);
});

test('the compose file pins each image by digest, fixes each address and runs every server as nobody', (t) => {
  const doc = parse(externalsCompose(hosts, { labId: 'a1b2c3', echoApp: '/c/labs/a1b2c3/echo-app.mjs', images: { node: IMAGES.node, redis: IMAGES.redis } })) as { services: Record<string, ComposeService & { labels: Record<string, string> }>; networks: unknown };
  t.deepEqual(doc.networks, { ext: { name: 'pathlab-ext', external: true } });
  for (const h of hosts) {
    const svc = doc.services[`ext-${h.name}`]!;
    t.is(svc.networks.ext.ipv4_address, h.address);
    t.is(svc.user, '65534:65534');
    t.is(svc.labels['pathlab.dev/lab'], 'a1b2c3');
    t.regex(svc.image, h.server === 'redis' ? /^docker\.io\/library\/redis:7\.4\.7-alpine@sha256:[0-9a-f]{64}$/ : /^docker\.io\/library\/node:20-alpine@sha256:[0-9a-f]{64}$/);
    if (h.server !== 'redis') t.deepEqual(svc.volumes, ['/c/labs/a1b2c3/echo-app.mjs:/pathlab/echo-app.mjs:ro']);
  }
});

netnsTest(title('each external host\'s compose command serves its ports and answers as the scenarios expect'), async (t) => {
  const agent = bundledAgents(join(dir, 'agents'))['echo-app'];
  const doc = parse(externalsCompose(hosts, { labId: 'a1b2c3', echoApp: agent, images: { node: IMAGES.node, redis: IMAGES.redis } })) as { services: Record<string, ComposeService> };
  for (const [i, h] of hosts.entries()) {
    const ns = `pl-kext-${PID}-${i}`;
    t.is(spawnSync('ip', ['netns', 'add', ns]).status, 0);
    namespaces.push(ns);
    spawnSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    spawnSync('ip', ['-n', ns, 'addr', 'add', `${h.address}/32`, 'dev', 'lo']);
    await startService(ns, doc.services[`ext-${h.name}`]!, agent, readyLine(h));
    for (const port of h.ports) {
      if (h.server === 'redis') {
        const answer = nsExec(ns, ['timeout', '5', 'redis-cli', '-h', h.address, '-p', String(port), 'keys', '*']);
        if (h.password !== undefined) t.regex(answer, /NOAUTH Authentication required/, `${h.name}:${port}`);
        continue;
      }
      if (h.server === 'echo') {
        const answer = nsExec(ns, ['timeout', '5', 'nc', '-N', h.address, String(port)], 'hi\n');
        t.regex(answer, new RegExp(`^hello from ${h.name} port ${port} \\(peer ${h.address.replace(/\./g, '\\.')}:\\d+\\)\\nhello hi\\n`), `${h.name}:${port}`);
        continue;
      }
      const answer = nsExec(ns, ['curl', '-sS', '--max-time', '5', `http://${h.address}:${port}/x`]);
      t.regex(answer, new RegExp(`^Hostname=${h.name}$`, 'm'), `${h.name}:${port}`);
      t.regex(answer, new RegExp(`^ServicePort=${port}$`, 'm'));
    }
  }
});
