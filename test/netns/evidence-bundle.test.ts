// The evidence bundle of a failed probe (`pathlab run --out DIR`), on real runs of the netns
// lab, opened with the tools users have: the pcap with `tcpdump -r`, the sidecar's dump with
// `pathlab proxy-config`, the rules, access log, kernel trace and the probe's output as text.
// Seed 003 as its engineers believed it (test/data/report/seed003-expects-redis.yaml): the
// probe to 7000 fails (Envoy's 400), the one to 7003 passes.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import test from 'ava';
import { evidenceFolder } from '../../src/cli/evidence-folder.ts';
import { removeLab } from '../../src/lab/netns/netns-lab.ts';
import { RunReportSchema, type ProbeResult, type RunReport } from '../../src/paths/verdict.ts';
import { runScenarios } from '../../src/run/runner.ts';
import { loadScenarioFile } from '../../src/scenario/loader.ts';
import { NEEDS_ROOT, netnsTest } from '../helpers/caps.ts';
import { netnsBackendWith } from '../helpers/netns-backend.ts';

const CLI = resolve('bin/pathlab.js');
const FIXTURE = resolve('test/data/report/seed003-expects-redis.yaml');
const BUNDLE = 'evidence/seed003-expects-redis/redis-7000-reaches-redis';

const made: string[] = [];
const labs: string[] = [];
test.after.always(async () => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
  for (const id of labs) await removeLab(id);
});
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'pathlab-bundle-'));
  made.push(d);
  return d;
}

const cli = (args: string[], cwd?: string) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 180_000, ...(cwd ? { cwd } : {}) });
const tool = (argv: string[]) => spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 30_000 });

/** Every file under `dir`, relative to it. */
function filesUnder(dir: string, rel = ''): string[] {
  if (!existsSync(join(dir, rel))) return [];
  return readdirSync(join(dir, rel), { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(dir, join(rel, e.name)) : [join(rel, e.name)]));
}

function runReport(args: string[]): { out: string; report: RunReport; status: number | null; stderr: string } {
  const out = tmp();
  const r = cli(['run', ...args, '--reporter', 'json', '--out', out]);
  return { out, report: RunReportSchema.parse(JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'))), status: r.status, stderr: r.stderr };
}

const probeOf = (report: RunReport, name: string, mode = 'with-setup'): ProbeResult => report.scenarios.find((s) => s.mode === mode)!.probes.find((p) => p.probe === name)!;
const fileOf = (p: ProbeResult, suffix: string) => p.bundle?.files.find((f) => f.path.endsWith(suffix));

netnsTest(`${NEEDS_ROOT} a failed probe leaves its evidence bundle under --out, each file readable by its own tool; a passing probe leaves nothing`, (t) => {
  const { out, report, status, stderr } = runReport([FIXTURE]);
  t.is(status, 1, stderr);
  const failed = probeOf(report, 'redis-7000-reaches-redis');
  t.is(failed.status, 'failed');
  t.truthy(failed.bundle, 'the failed probe names its bundle');
  const bundle = failed.bundle!;
  t.is(bundle.dir, BUNDLE);
  // Every file listed exists, is in the bundle's folder, and says what it is; the folder holds nothing else.
  for (const f of bundle.files) {
    t.true(f.path.startsWith(`${BUNDLE}/`), f.path);
    t.true(existsSync(join(out, f.path)), `${f.path} is listed but not there`);
    t.not(f.what, '');
  }
  t.deepEqual(filesUnder(join(out, BUNDLE)).sort(), bundle.files.map((f) => f.path.slice(BUNDLE.length + 1)).sort());
  t.deepEqual(bundle.files.map((f) => f.path.slice(BUNDLE.length + 1)).sort(), ['access-log.txt', 'app.config_dump.json', 'app.iptables-save.txt', 'app.pcap', 'kernel-trace.txt', 'probe.txt']);
  t.is(fileOf(failed, 'app.pcap')!.pod, 'app');
  t.regex(fileOf(failed, 'app.pcap')!.what, /all interfaces .*tcpdump -w.*1 lo/);

  // The pcap, with tcpdump -r. What the app sent to 10.0.0.6:7000 went through nat OUTPUT first:
  // on lo it is the SYN to the sidecar's 15001 (the redirect), answered in 10.0.0.6:7000's name;
  // Envoy's 400 is in the bytes; on eth0 only the control SYN to 10.0.0.6:9 left, never one to 7000.
  const pcap = join(out, fileOf(failed, 'app.pcap')!.path);
  const read = tool(['tcpdump', '-r', pcap, '-nn']);
  t.is(read.status, 0, read.stderr);
  t.regex(read.stdout, /lo\s+In\s+IP 10\.64\.192\.14\.(\d+) > 127\.0\.0\.1\.15001: Flags \[S\]/);
  t.regex(read.stdout, /lo\s+In\s+IP 10\.0\.0\.6\.7000 > 10\.64\.192\.14\.\d+: Flags \[S\.\]/);
  t.regex(read.stdout, /IP 10\.64\.192\.14\.\d+ > 10\.0\.0\.6\.9: Flags \[S\]/);
  t.notRegex(read.stdout, /> 10\.0\.0\.6\.7000:/);
  const bytes = tool(['tcpdump', '-r', pcap, '-nn', '-A', 'tcp port 15001 or tcp port 7000']);
  t.is(bytes.status, 0, bytes.stderr);
  t.regex(bytes.stdout, /keys \*/);
  t.regex(bytes.stdout, /HTTP\/1\.1 400 Bad Request/);

  // The sidecar's dump, with pathlab proxy-config: the HTTP listener on 7000 that caused the 400.
  const dump = join(out, fileOf(failed, 'app.config_dump.json')!.path);
  const listeners = cli(['proxy-config', 'listeners', dump]);
  t.is(listeners.status, 0, listeners.stderr);
  t.regex(listeners.stdout, /^0\.0\.0\.0\s+7000\s/m);
  const json = cli(['proxy-config', 'listeners', dump, '-o', 'json']);
  t.is(json.status, 0, json.stderr);
  t.true((JSON.parse(json.stdout) as Array<{ name?: string }>).some((l) => l.name === '0.0.0.0_7000'), 'the dump has the 0.0.0.0_7000 listener');

  // The rules, the access log, the kernel trace, the probe's own output.
  t.regex(readFileSync(join(out, fileOf(failed, 'app.iptables-save.txt')!.path), 'utf8'), /^-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001$/m);
  const log = readFileSync(join(out, fileOf(failed, 'access-log.txt')!.path), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  t.true(log.some((l) => l.pod === 'app' && l.listener === '0.0.0.0_7000' && l.response_code === 400 && typeof l.text === 'string' && (l.text as string).includes('10.0.0.6:7000')), JSON.stringify(log));
  const trace = readFileSync(join(out, fileOf(failed, 'kernel-trace.txt')!.path), 'utf8');
  t.regex(trace, /^### app: xtables-monitor --trace$/m);
  t.regex(trace, /nat:ISTIO_REDIRECT:rule:0x[0-9a-f]+:ACCEPT .*REDIRECT --to-ports 15001/);
  t.regex(trace, /^### app: the ruleset it was read against/m);
  t.regex(trace, /table ip nat/);
  const probe = readFileSync(join(out, fileOf(failed, 'probe.txt')!.path), 'utf8');
  t.regex(probe, /^argv: \[.*"nc".*"10\.0\.0\.6","7000"\]$/m);
  t.regex(probe, /^exit: exit code 0$/m);
  t.regex(probe, /HTTP\/1\.1 400 Bad Request/);
  t.regex(probe, /Connection to 10\.0\.0\.6 7000 port .* succeeded/);
  // The report's own evidence is as without --out.
  t.true(failed.evidence.some((e) => e.source === 'sidecar access log'));

  // The passing probe: no bundle, no folder, no pcap left anywhere.
  const passed = probeOf(report, 'redis-7003-reaches-redis');
  t.is(passed.status, 'passed');
  t.is(passed.bundle, undefined);
  t.false(existsSync(join(out, 'evidence/seed003-expects-redis/redis-7003-reaches-redis')));
  t.deepEqual(filesUnder(out).filter((f) => f.endsWith('.pcap')), [`${BUNDLE}/app.pcap`]);
});

netnsTest(`${NEEDS_ROOT} a run without --out writes no file (no pcap, no bundle)`, (t) => {
  const cwd = tmp();
  const r = cli(['run', FIXTURE, '--reporter', 'json'], cwd);
  t.is(r.status, 1, r.stderr);
  const report = RunReportSchema.parse(JSON.parse(r.stdout));
  t.is(probeOf(report, 'redis-7000-reaches-redis').status, 'failed');
  t.true(report.scenarios.flatMap((s) => s.probes).every((p) => p.bundle === undefined));
  t.deepEqual(readdirSync(cwd), []);
});

netnsTest(`${NEEDS_ROOT} a failed probe to a meshed pod: the bundle has the peer's pcap, rules and dump, and both sidecars' access log lines`, (t) => {
  const dir = tmp();
  mkdirSync(join(dir, 'scenarios'));
  const file = join(dir, 'scenarios', 'peer.yaml');
  writeFileSync(
    file,
    `apiVersion: pathlab/v1
kind: Scenario
metadata:
  name: bundle-peer
  description: a call to a meshed pod whose expectation does not hold
  source: { incident: the evidence bundle test }
  backends: [netns]
lab:
  istio: { version: '1.5' }
  pods:
    - { name: app, ip: 10.64.0.14, workload: toolbox }
    - { name: web, ip: 10.64.0.20, workload: echo, ports: [ { port: 8080, name: http } ] }
probes:
  - name: app-to-web
    from: { pod: app }
    tool: curl
    target: { address: 10.64.0.20, port: 8080 }
    expect:
      reply: { contains: not what web answers }
`,
  );
  const { out, report, status, stderr } = runReport([file]);
  t.is(status, 1, stderr);
  const p = probeOf(report, 'app-to-web');
  t.is(p.status, 'failed');
  t.deepEqual(p.bundle!.files.map((f) => f.path.split('/').at(-1)).sort(), ['access-log.txt', 'app.config_dump.json', 'app.iptables-save.txt', 'app.pcap', 'kernel-trace.txt', 'probe.txt', 'web.config_dump.json', 'web.iptables-save.txt', 'web.pcap'].sort());
  for (const f of p.bundle!.files) t.true(existsSync(join(out, f.path)), f.path);
  // The peer's pcap: the connection arriving for 8080 (redirected to 15006 after the capture saw
  // it), and its sidecar talking to the app from 127.0.0.6 on lo (on a connection it may have
  // opened before the probe: no SYN is required).
  const read = tool(['tcpdump', '-r', join(out, fileOf(p, 'web.pcap')!.path), '-nn']);
  t.is(read.status, 0, read.stderr);
  t.regex(read.stdout, /IP 10\.64\.0\.14\.\d+ > 10\.64\.0\.20\.8080: Flags \[S\]/);
  t.regex(read.stdout, /lo\s+In\s+IP 127\.0\.0\.6\.\d+ > 10\.64\.0\.20\.8080: /);
  t.regex(read.stdout, /lo\s+In\s+IP 10\.64\.0\.20\.8080 > 127\.0\.0\.6\.\d+: .*HTTP\/1\.1 200 OK/);
  const listeners = cli(['proxy-config', 'listeners', join(out, fileOf(p, 'web.config_dump.json')!.path)]);
  t.is(listeners.status, 0, listeners.stderr);
  t.regex(listeners.stdout, /15006/);
  t.regex(readFileSync(join(out, fileOf(p, 'web.iptables-save.txt')!.path), 'utf8'), /^-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006$/m);
  const log = readFileSync(join(out, fileOf(p, 'access-log.txt')!.path), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  t.deepEqual([...new Set(log.map((l) => l.pod))].sort(), ['app', 'web']);
  t.true(log.some((l) => l.pod === 'web' && l.listener === 'virtualInbound' && l.response_code === 200));
  const trace = readFileSync(join(out, fileOf(p, 'kernel-trace.txt')!.path), 'utf8');
  t.regex(trace, /^### app: xtables-monitor --trace$/m);
  t.regex(trace, /^### web: xtables-monitor --trace$/m);
  t.regex(trace, /nat:ISTIO_IN_REDIRECT:rule:0x[0-9a-f]+:ACCEPT/);
});

netnsTest(`${NEEDS_ROOT} --check-fault: the run without the change keeps its failed probes' bundles apart (.without-change); the run with it passed and keeps none`, (t) => {
  const { out, report, status, stderr } = runReport([resolve('scenarios/incident-7000/outage-legacy.yaml'), '--check-fault']);
  t.is(status, 0, stderr);
  const withFault = probeOf(report, 'redis-7000-answers-400');
  t.is(withFault.status, 'passed');
  t.is(withFault.bundle, undefined);
  const without = probeOf(report, 'redis-7000-answers-400', 'without-change');
  t.is(without.status, 'failed');
  t.is(without.bundle?.dir, 'evidence/incident-7000-outage-legacy/redis-7000-answers-400.without-change');
  t.deepEqual(readdirSync(join(out, 'evidence/incident-7000-outage-legacy')), ['redis-7000-answers-400.without-change']);
  // Without the HTTP Service there is no 0.0.0.0_7000 listener: the dump says so.
  const listeners = cli(['proxy-config', 'listeners', join(out, fileOf(without, 'app.config_dump.json')!.path)]);
  t.is(listeners.status, 0, listeners.stderr);
  t.notRegex(listeners.stdout, /^0\.0\.0\.0\s+7000\s/m);
  const read = tool(['tcpdump', '-r', join(out, fileOf(without, 'app.pcap')!.path), '-nn']);
  t.is(read.status, 0, read.stderr);
  // Through the PassthroughCluster: Envoy's own connection leaves on eth0 for 10.0.0.6:7000.
  t.regex(read.stdout, /IP 10\.64\.192\.14\.\d+ > 10\.0\.0\.6\.7000: Flags \[S\]/);
});

netnsTest(`${NEEDS_ROOT} a probe the lab could not run keeps what there is: the pcap up to where it broke off, the rules, the dump, and why`, async (t) => {
  const loaded = loadScenarioFile(FIXTURE);
  if (!loaded.ok) throw new Error('the fixture must load');
  // The netns backend, whose positive control fails after the probe ran: its watches are cancelled, the probe is broken.
  const breaking = netnsBackendWith(labs, (lab) => {
    lab.controlSyn = async () => {
      throw new Error('the control SYN could not be sent (this test)');
    };
  });
  const out = tmp();
  const s = { file: FIXTURE, scenario: loaded.scenario, expected: loaded.expected, files: loaded.files };
  const [r] = (await runScenarios(breaking, [s], { checkFault: false, keepLab: false, evidence: evidenceFolder(out) })).results;
  for (const p of r!.probes) {
    t.is(p.status, 'failed');
    t.regex(p.reason ?? '', /the probe could not run: the control SYN could not be sent/);
    const names = p.bundle!.files.map((f) => f.path.split('/').at(-1)).sort();
    t.deepEqual(names, ['app.config_dump.json', 'app.iptables-save.txt', 'app.pcap', 'probe.txt']);
    t.regex(fileOf(p, 'app.pcap')!.what, /up to where the probe broke off/);
    for (const f of p.bundle!.files) t.true(existsSync(join(out, f.path)), f.path);
    const read = tool(['tcpdump', '-r', join(out, fileOf(p, 'app.pcap')!.path), '-nn']);
    t.is(read.status, 0, read.stderr);
    t.regex(read.stdout, /IP 10\.64\.192\.14\.\d+ > 127\.0\.0\.1\.15001: Flags \[S\]/);
    t.regex(readFileSync(join(out, fileOf(p, 'probe.txt')!.path), 'utf8'), /the control SYN could not be sent/);
  }
  t.deepEqual(readdirSync(join(out, 'evidence/seed003-expects-redis')).sort(), ['redis-7000-reaches-redis', 'redis-7003-reaches-redis']);
});
