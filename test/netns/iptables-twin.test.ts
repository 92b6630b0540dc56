// Twin test: the same connections through `traceConnection` and through the real kernel.
// For each rule set: a fresh pod namespace (lo + one veth to a client namespace, nothing else),
// the rules loaded with iptables-restore inside it, a raw-table TRACE rule, `xtables-monitor --trace`
// running inside it (`nft -a monitor trace` for IPv6, whose rules xtables-monitor 1.8.9 cannot decode), then every connection made for real (as its uid/gid, from its source address).
// The kernel's trace events are mapped from nft rule handles to positions with `nft -a list table`
// and compared hop by hop with the simulator's. Every hop list must agree.
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import {
  configFromFields, configFromFlags, flagsFromAnnotations, formatEffect, parseIptablesSave, renderIstioIptables, traceConnection,
} from '../../src/mesh/iptables/index.ts';
import type { Connection } from '../../src/mesh/iptables/index.ts';
import { formatHop } from '../../src/paths/hop.ts';
import { traceHop } from '../../src/paths/kernel-trace.ts';
import { readFixture } from '../helpers/shared-fixtures.ts';
import { handlePositions, kernelHops, parseNftMonitor, parseXtablesMonitor } from '../../src/probes/kernel-trace.ts';

/** A system tool by absolute path: npm puts node_modules/.bin first on PATH, and @vercel/nft installs a `nft` there. */
function sysbin(name: string): string {
  for (const dir of [...(process.env.PATH ?? '').split(':').filter((d) => !d.includes('node_modules')), '/usr/sbin', '/sbin', '/usr/bin']) {
    const path = `${dir}/${name}`;
    if (existsSync(path)) return path;
  }
  return name;
}
const IP = sysbin('ip');
const NFT = sysbin('nft');
const SETPRIV = sysbin('setpriv');
const isRoot = process.getuid?.() === 0 && existsSync(sysbin('xtables-monitor')) && existsSync(NFT);
const netns = isRoot ? test.serial : test.skip;

const PID = process.pid;
const POD_IP = '10.99.0.2';
const CLIENT_IP = '10.99.0.1';
const POD_IP6 = 'fd99::2';
const CLIENT_IP6 = 'fd99::1';
const created: string[] = [];

function run(argv: string[], input?: string): string {
  const r = spawnSync(argv[0] as string, argv.slice(1), { input, encoding: 'utf8', timeout: 20000 });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}
const inNs = (ns: string, argv: string[], input?: string): string => run([IP, 'netns', 'exec', ns, sysbin(argv[0] as string), ...argv.slice(1)], input);

function deleteNs(ns: string): void {
  spawnSync(IP, ['netns', 'del', ns]);
}

function makeNamespaces(tag: string): { pod: string; client: string } {
  const pod = `pl-tw${tag}-${PID}`;
  const client = `pl-tc${tag}-${PID}`;
  for (const ns of [pod, client]) {
    run([IP, 'netns', 'add', ns]);
    created.push(ns);
    inNs(ns, ['ip', 'link', 'set', 'lo', 'up']);
  }
  // the veth is created inside the pod namespace with its peer in the client namespace: it never exists on the host
  run([IP, '-n', pod, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', client]);
  inNs(pod, ['ip', 'addr', 'add', `${POD_IP}/24`, 'dev', 'eth0']);
  inNs(client, ['ip', 'addr', 'add', `${CLIENT_IP}/24`, 'dev', 'eth0']);
  inNs(pod, ['ip', 'link', 'set', 'eth0', 'up']);
  inNs(client, ['ip', 'link', 'set', 'eth0', 'up']);
  inNs(pod, ['ip', '-6', 'addr', 'add', `${POD_IP6}/64`, 'dev', 'eth0', 'nodad']);
  inNs(client, ['ip', '-6', 'addr', 'add', `${CLIENT_IP6}/64`, 'dev', 'eth0', 'nodad']);
  // Envoy's inbound passthrough source in IPv6 (istio-iptables adds it to lo in IPv6 mode)
  inNs(pod, ['ip', '-6', 'addr', 'add', '::6/128', 'dev', 'lo']);
  // "remote" destinations of the pod are reached through the client namespace, which forwards nothing
  inNs(pod, ['ip', 'route', 'add', 'default', 'via', CLIENT_IP, 'dev', 'eth0']);
  inNs(pod, ['ip', '-6', 'route', 'add', 'default', 'via', CLIENT_IP6, 'dev', 'eth0']);
  return { pod, client };
}

// A connection maker run as the connection's uid/gid: one line of JSON per connection on argv.
const CONNECTOR = `
const net = require('node:net'); const dgram = require('node:dgram');
const conns = JSON.parse(process.argv[1]);
Promise.all(conns.map((c, i) => new Promise((r) => setTimeout(r, i * 8)).then(() => new Promise((done) => {
  if (c.proto === 'udp') {
    const s = dgram.createSocket(c.dst.includes(':') ? 'udp6' : 'udp4');
    s.bind(c.sport, c.src, () => s.send('x', c.dport, c.dst, () => { setTimeout(() => { s.close(); done(); }, 50); }));
    s.on('error', () => done());
    return;
  }
  const s = net.connect({ host: c.dst, port: c.dport, localAddress: c.src, localPort: c.sport });
  const end = () => { s.destroy(); done(); };
  s.setTimeout(300, end); s.on('connect', end); s.on('error', end);
})))).then(() => process.exit(0));
`;

interface TwinConn extends Connection {
  sport: number;
}

function makeConnections(ns: string, conns: TwinConn[], uid: number, gid: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const argv = ['netns', 'exec', ns, SETPRIV, `--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', process.execPath, '-e', CONNECTOR, JSON.stringify(conns)];
    const p = spawn(IP, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`connector as ${uid}:${gid} exited ${code}: ${err}`))));
  });
}

// ---- the rule sets ----
function wrapBareRules(text: string, table: string): string {
  const rs = parseIptablesSave(text, { defaultTable: table });
  const chains = new Set<string>();
  for (const r of rs.tables.flatMap((s) => s.rules)) {
    chains.add(r.chain);
    if (r.target?.name.startsWith('ISTIO_')) chains.add(r.target.name);
  }
  const decl = [...chains].filter((c) => !['PREROUTING', 'INPUT', 'OUTPUT', 'FORWARD', 'POSTROUTING'].includes(c)).map((c) => `:${c} - [0:0]`);
  return [`*${table}`, ...decl, ...text.split('\n').filter((l) => l.startsWith('-A ')), 'COMMIT', ''].join('\n');
}
const render = (version: string, flags: string[], extra: Record<string, unknown> = {}, family: 'ipv4' | 'ipv6' = 'ipv4'): string => {
  const cfg = { ...configFromFlags(flags), ...extra };
  const out = renderIstioIptables(configFromFields(cfg as unknown as Record<string, unknown>), version)[family];
  if (!out) throw new Error(`no ${family} payload`);
  return out.payload;
};
const V6 = { EnableIPv6: true };

const INJECTOR = flagsFromAnnotations({});
const RULE_SETS: { name: string; rules: string; family?: 'ipv6' }[] = [
  { name: 'seed000 pod (uid 201507)', rules: readFixture('iptables', 'seed000-pod-uid201507.save') },
  { name: 'seed002 1.14.3 iptables-save', rules: readFixture('iptables', 'seed002-istio-1.14.3.save') },
  { name: 'seed002 1.14.3 restore payload', rules: readFixture('iptables', 'seed002-istio-1.14.3.restore') },
  { name: 'seed003 2021 (lower-case chains)', rules: readFixture('iptables', 'seed003-2021.save') },
  { name: 'seed004 1.2.5 rules', rules: wrapBareRules(readFixture('iptables', 'seed004-istio-1.2.5.rules'), 'nat') },
  { name: 'render current, injector defaults', rules: render('current', INJECTOR) },
  { name: 'render 1.2, seed004 flags', rules: render('1.2', ['-p', '15001', '-u', '1337', '-m', 'REDIRECT', '-i', '*', '-x', '', '-b', '9080', '-d', '15020']) },
  { name: 'render 1.5, injector flags', rules: render('1.5', INJECTOR) },
  { name: 'render 1.18, -o 7000 -q 9000 -x 10.0.5.0/24', rules: render('1.18', [...INJECTOR, '-o', '7000', '-q', '9000', '-x', '10.0.5.0/24']) },
  { name: 'render 1.23, DNS with a server, owner group exclude 888', rules: render('1.23', [...INJECTOR, '--redirect-dns'], { DNSServersV4: ['10.96.0.10'], OwnerGroupsExclude: '888' }) },
  { name: 'render current, DNS capture-all, CIDR include/exclude, exclude NIC', rules: render('current', ['-u', '1337', '-b', '*', '-d', '15020', '-i', '10.0.0.0/8', '-x', '10.0.5.0/24', '-c', 'eth9', '--redirect-dns', '--capture-all-dns']) },
  { name: 'render 1.22, uids 3,4 gids 2,888, -b 8080,9080', rules: render('1.22', ['-u', '3,4', '-g', '2,888', '-b', '8080,9080', '-i', '*']) },
  { name: 'render current, drop-invalid, loopback 127.0.0.1/8, owner groups include 888', rules: render('current', [...INJECTOR, '--drop-invalid'], { HostIPv4LoopbackCidr: '127.0.0.1/8', OwnerGroupsInclude: '888' }) },
  { name: 'render 1.14, DNS with a server', rules: render('1.14', [...INJECTOR, '--redirect-dns'], { DNSServersV4: ['10.96.0.10'] }) },
  { name: 'render current, TPROXY inbound', rules: render('current', ['-u', '1337', '-m', 'TPROXY', '-b', '*', '-d', '15020', '-i', '*']) },
  { name: 'render 1.24, -q 9000, -i 10.0.0.0/8 with virt NIC eth9', rules: render('1.24', ['-u', '1337', '-b', '*', '-q', '9000', '-i', '10.0.0.0/8', '-k', 'eth9']) },
  { name: 'IPv6: render current, injector defaults', family: 'ipv6', rules: render('current', INJECTOR, V6, 'ipv6') },
  { name: 'IPv6: render 1.18, uids 3,4 gids 2,888, -o 7000, include/exclude 2001:db8::/32', family: 'ipv6', rules: render('1.18', ['-u', '3,4', '-g', '2,888', '-b', '9080,8080', '-o', '7000', '-i', '2001:db8::/32', '-x', '2001:db8:5::/48'], V6, 'ipv6') },
  { name: 'IPv6: render current, DNS with a v6 server, -q 9000', family: 'ipv6', rules: render('current', [...INJECTOR, '--redirect-dns', '-q', '9000'], { ...V6, DNSServersV6: ['fd00:96::10'] }, 'ipv6') },
];

const IDS: [number, number][] = [[1000, 1000], [1337, 1337], [201507, 201507], [4, 2], [1000, 888]];
const OUT_DST: Record<'ipv4' | 'ipv6', [string, number, 'tcp' | 'udp'][]> = {
  ipv4: [
    ['10.0.0.6', 7000, 'tcp'], ['10.0.5.9', 80, 'tcp'], [POD_IP, 9080, 'tcp'], ['127.0.0.1', 15000, 'tcp'], ['10.0.0.6', 15008, 'tcp'],
    ['10.0.0.6', 9000, 'tcp'], ['10.96.0.10', 53, 'udp'], ['10.96.0.10', 53, 'tcp'],
  ],
  ipv6: [
    ['2001:db8::6', 7000, 'tcp'], ['2001:db8:5::9', 80, 'tcp'], [POD_IP6, 9080, 'tcp'], ['::1', 15000, 'tcp'], ['fd00::6', 15008, 'tcp'],
    ['fd00::6', 9000, 'tcp'], ['fd00:96::10', 53, 'udp'], ['fd00:96::10', 53, 'tcp'],
  ],
};
const IN_PORTS = [9080, 8080, 15020, 15090, 15021, 15008, 22];

function connections(family: 'ipv4' | 'ipv6'): TwinConn[] {
  const v6 = family === 'ipv6';
  const pod = v6 ? POD_IP6 : POD_IP;
  const loopback = v6 ? '::1' : '127.0.0.1';
  const conns: TwinConn[] = [];
  let sport = 21000;
  for (const [uid, gid] of IDS) {
    for (const [dst, dport, proto] of OUT_DST[family]) {
      const toLoopback = dst === loopback;
      const lo = dst === pod || toLoopback;
      conns.push({ direction: 'out', proto, src: toLoopback ? loopback : pod, dst, dport, sport: sport++, uid, gid, oif: lo ? 'lo' : 'eth0' });
    }
  }
  // Envoy's inbound side to the app, from 127.0.0.6 / ::6
  for (const [uid, gid] of IDS.slice(1, 3)) conns.push({ direction: 'out', proto: 'tcp', src: v6 ? '::6' : '127.0.0.6', dst: pod, dport: 9080, sport: sport++, uid, gid, oif: 'lo' });
  for (const dport of IN_PORTS) conns.push({ direction: 'in', proto: 'tcp', src: v6 ? CLIENT_IP6 : CLIENT_IP, dst: pod, dport, sport: sport++, iif: 'eth0' });
  return conns;
}

let compared = 0;
let agreed = 0;
const disagreements: string[] = [];

RULE_SETS.forEach((set, i) => {
  netns(`[needs root] twin: ${set.name}`, async (t) => {
    const { pod, client } = makeNamespaces(String(i));
    const running: { monitor?: ChildProcess } = {};
    t.teardown(() => {
      running.monitor?.kill('SIGKILL');
      deleteNs(pod);
      deleteNs(client);
    });
    const v6 = set.family === 'ipv6';
    const iptables = v6 ? 'ip6tables' : 'iptables';
    inNs(pod, [`${iptables}-restore`, '--noflush'], set.rules);
    inNs(pod, [iptables, '-t', 'raw', '-I', 'OUTPUT', '1', '-j', 'TRACE']);
    inNs(pod, [iptables, '-t', 'raw', '-I', 'PREROUTING', '1', '-j', 'TRACE']);
    const tables = [...new Set(['raw', ...parseIptablesSave(set.rules).tables.map((s) => s.name)])];
    const handles = handlePositions(Object.fromEntries(tables.map((table) => [table, inNs(pod, ['nft', '-a', 'list', 'table', v6 ? 'ip6' : 'ip', table])])));
    let monitorOut = '';
    const monitorArgv = v6 ? [NFT, '-a', 'monitor', 'trace'] : [sysbin('xtables-monitor'), '--trace'];
    const monitor = spawn(IP, ['netns', 'exec', pod, ...monitorArgv], { stdio: ['ignore', 'pipe', 'ignore'] });
    running.monitor = monitor;
    monitor.stdout?.on('data', (d: Buffer) => (monitorOut += d.toString()));
    // ready when a probe datagram shows up in the monitor's output
    for (let k = 0; ; k++) {
      if (k === 30) throw new Error('xtables-monitor --trace showed no events');
      await makeConnections(pod, [{ direction: 'out', proto: 'udp', src: v6 ? POD_IP6 : POD_IP, dst: v6 ? CLIENT_IP6 : CLIENT_IP, dport: 9, sport: 20000 + k }], 0, 0);
      await new Promise((r) => setTimeout(r, 50));
      if (monitorOut.includes(`SPORT=${20000 + k} `) || monitorOut.includes(`udp sport ${20000 + k} `)) break;
    }

    const conns = connections(v6 ? 'ipv6' : 'ipv4');
    const groups = new Map<string, TwinConn[]>();
    for (const c of conns) {
      const key = c.direction === 'in' ? `${client}:0:0` : `${pod}:${c.uid}:${c.gid}`;
      groups.set(key, [...(groups.get(key) ?? []), c]);
    }
    // one connector process per uid/gid, one after the other: bursts make the trace netlink socket drop events
    for (const [key, cs] of groups) {
      const [ns, uid, gid] = key.split(':') as [string, string, string];
      await makeConnections(ns, cs, Number(uid), Number(gid));
    }
    await new Promise((r) => setTimeout(r, 300));
    monitor.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 100));

    const packets = v6 ? parseNftMonitor(monitorOut) : parseXtablesMonitor(monitorOut);
    const rules = parseIptablesSave(set.rules);
    let here = 0;
    for (const c of conns) {
      const kernel = kernelHops(packets, { direction: c.direction, proto: c.proto, sport: c.sport }, handles);
      const sim = traceConnection(rules, c);
      const label = `${c.direction} ${c.proto} ${c.src}:${c.sport} → ${c.dst}:${c.dport} uid=${c.uid ?? '-'} gid=${c.gid ?? '-'}`;
      t.truthy(kernel, `${set.name}: no kernel trace for ${label}`);
      if (!kernel) continue;
      compared++;
      here++;
      const simHops = sim.hops.filter((h) => !(h.table === 'raw' && h.target === 'TRACE'));
      // TPROXY's own verdict depends on the socket table (no transparent listener on the port → the
      // kernel drops the packet); the simulator models rules, not sockets, so after a TPROXY hop only
      // the hops are compared.
      const socketDecides = simHops.at(-1)?.target === 'TPROXY';
      const same = JSON.stringify(simHops) === JSON.stringify(kernel.hops) && (socketDecides || (sim.effect.verdict === 'DROP') === (kernel.verdict === 'DROP'));
      if (same) agreed++;
      else disagreements.push(`${set.name}: ${label}\n  sim:    ${traceHop(sim) ? formatHop(traceHop(sim)!) : formatEffect(sim.effect)}\n  kernel: ${kernel.hops.map((h) => `${h.table}/${h.chain}#${h.rule}(${h.target})`).join(' -> ')} ${kernel.verdict}`);
      t.deepEqual(simHops, kernel.hops, `${set.name}: ${label}`);
      if (!socketDecides) t.is(sim.effect.verdict === 'DROP', kernel.verdict === 'DROP', `${set.name}: ${label}: verdict`);
    }
    t.log(`${set.name}: ${here} connections compared`);
  });
});

test.after.always('twin summary and cleanup', (t) => {
  for (const ns of created) deleteNs(ns);
  if (!isRoot) return;
  const line = `twin: ${compared} connections compared over ${RULE_SETS.length} rule sets, ${agreed} agreed`;
  t.log(line);
  console.log(line);
  for (const d of disagreements.slice(0, 20)) console.log(d);
});

netns('[needs root] twin: enough connections and rule sets were compared', (t) => {
  t.true(RULE_SETS.length >= 12);
  t.true(compared >= 300, `compared ${compared}`);
  t.is(agreed, compared);
});
