// Records the raw evidence of real probe runs for the unit tests of the pure phases
// (test/data/probes): what the tools printed (nc, curl -w, tcpdump, xtables-monitor, nft,
// iptables-save) on a real netns lab, and each tool's exit and message for the named outcomes
// (refused, timeout, reset) in a namespace of its own. Run as root: `tsx scripts/record-probe-data.ts`.
// Nothing here decides a path: the files are what the kernel and the tools said.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadScenarioFile } from '../src/scenario/loader.ts';
import { netnsBackend } from '../src/lab/netns/backend.ts';
import { runScenarios } from '../src/run/runner.ts';
import type { StartedBackend, WatchResult } from '../src/run/backend.ts';
import { exec, execOk } from '../src/lab/exec.ts';

const OUT = 'test/data/probes';
const save = (dir: string, file: string, text: string) => {
  mkdirSync(join(OUT, dir), { recursive: true });
  writeFileSync(join(OUT, dir, file), text);
};

/** A probe's raw record: every answer the runner got from the lab, in the order it asked. */
async function recordScenario(file: string, dir: string): Promise<void> {
  const r = loadScenarioFile(file);
  if (!r.ok) throw new Error(`${file} does not load`);
  let n = 0;
  const wrap = (lab: StartedBackend): StartedBackend =>
    new Proxy(lab, {
      get(target, key) {
        const v = Reflect.get(target, key, target) as unknown;
        if (typeof v !== 'function') return v;
        if (key === 'netns') {
          return async (pod: string, argv: string[]) => {
            const res = await target.netns(pod, argv);
            if (argv[0] === 'iptables-save') save(dir, `${pod}.iptables-save.txt`, res.stdout);
            return res;
          };
        }
        if (key === 'probe') {
          return async (...a: Parameters<StartedBackend['probe']>) => {
            const res = await target.probe(...a);
            n++;
            save(dir, `probe-${n}.json`, `${JSON.stringify({ argv: res.argv, exitCode: res.exitCode, signal: res.signal, stdout: res.stdout, stderr: res.stderr, timedOut: res.timedOut }, null, 2)}\n`);
            return res;
          };
        }
        if (key === 'watch') {
          return async (pod: string, spec: Parameters<StartedBackend['watch']>[1]) => {
            const w = await target.watch(pod, spec);
            return {
              end: async (barrier?: { dst: string; dport: number }) => {
                const rec: WatchResult = await w.end(barrier);
                save(dir, `probe-${n}.${pod}.xtables-monitor.txt`, rec.trace);
                save(dir, `probe-${n}.${pod}.nft-ruleset.txt`, rec.ruleset);
                if (rec.syns) save(dir, `probe-${n}.${pod}.tcpdump-syns.txt`, rec.syns);
                return rec;
              },
            };
          };
        }
        if (key === 'accessLogFrom') {
          return async (pod: string, config: Parameters<StartedBackend['accessLogFrom']>[1]) => {
            const read = await target.accessLogFrom(pod, config);
            return async () => {
              const lines = await read();
              save(dir, `probe-${n}.${pod}.access-log.json`, `${JSON.stringify(lines, null, 2)}\n`);
              return lines;
            };
          };
        }
        return (v as (...a: unknown[]) => unknown).bind(target);
      },
    });
  const backend = { ...netnsBackend, open: async (o: Parameters<typeof netnsBackend.open>[0]) => {
    const s = await netnsBackend.open(o);
    return { ...s, start: async (g: Parameters<typeof s.start>[0]) => wrap(await s.start(g)) };
  } };
  const { results } = await runScenarios(backend, [r], { checkFault: false, keepLab: false });
  // Only what the tools said is kept; the run's own verdict is not data for its tests.
  console.log(`${file}: ${results[0]!.status}`);
}

/** Each tool's answer for refused, timeout and reset, in a namespace of its own (loopback only). */
async function recordOutcomes(): Promise<void> {
  const ns = `pl-rec-${process.pid}`;
  const inNs = (argv: string[]) => ['ip', 'netns', 'exec', ns, ...argv];
  await execOk(['ip', 'netns', 'add', ns]);
  try {
    await execOk(inNs(['ip', 'link', 'set', 'lo', 'up']));
    // 127.0.0.1:9999 drops every packet (timeout); 127.0.0.1:9998 accepts, then resets.
    await execOk(inNs(['iptables', '-A', 'INPUT', '-p', 'tcp', '--dport', '9999', '-j', 'DROP']));
    const server = exec(inNs(['python3', '-c', 'import socket,struct\ns=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);s.bind(("127.0.0.1",9998));s.listen()\nfor _ in range(2):\n  c,_=s.accept();c.recv(100);c.setsockopt(socket.SOL_SOCKET,socket.SO_LINGER,struct.pack("ii",1,0));c.close()']), { timeoutMs: 20_000 });
    await new Promise((r) => setTimeout(r, 300));
    const cases: Array<[string, string[], string?]> = [
      ['nc-refused', ['nc', '-v', '-N', '-w', '1', '127.0.0.1', '1'], 'x'],
      ['nc-timeout', ['nc', '-v', '-N', '-w', '1', '127.0.0.1', '9999'], 'x'],
      ['nc-reset', ['nc', '-v', '-N', '-w', '1', '127.0.0.1', '9998'], 'keys *\r\n'],
      ['curl-refused', ['curl', '-sS', '--max-time', '1', '-w', '\n__pathlab__ %{http_code} %{local_ip}:%{local_port} %{remote_ip}:%{remote_port}\n', 'http://127.0.0.1:1/']],
      ['curl-timeout', ['curl', '-sS', '--max-time', '1', '-w', '\n__pathlab__ %{http_code} %{local_ip}:%{local_port} %{remote_ip}:%{remote_port}\n', 'http://127.0.0.1:9999/']],
      ['curl-reset', ['curl', '-sS', '--max-time', '1', '-w', '\n__pathlab__ %{http_code} %{local_ip}:%{local_port} %{remote_ip}:%{remote_port}\n', 'http://127.0.0.1:9998/']],
    ];
    for (const [name, argv, input] of cases) {
      const res = await exec(inNs(argv), { timeoutMs: 5000, ...(input === undefined ? {} : { input }) });
      save('outcomes', `${name}.json`, `${JSON.stringify({ argv, exitCode: res.exitCode, signal: res.signal, stdout: res.stdout, stderr: res.stderr, timedOut: res.timedOut }, null, 2)}\n`);
    }
    await server;
  } finally {
    await exec(['ip', 'netns', 'pids', ns]).then((p) => p.stdout.split('\n').filter(Boolean).forEach((pid) => process.kill(Number(pid), 'SIGKILL')));
    await exec(['ip', 'netns', 'del', ns]);
  }
}

await recordScenario('scenarios/incident-7000/outage-legacy.yaml', 'outage-legacy');
await recordScenario('scenarios/bookinfo/productpage-details.yaml', 'productpage-details');
await recordOutcomes();
