// A pod's instruments in the netns lab, started once and kept for the lab's life: the kernel's
// trace of every connection attempt (the trace table TRACE_TABLE_RULES, read by one
// `xtables-monitor --trace`) and a tcpdump of the SYNs that leave on eth0. A probe marks where
// its record begins and reads its slice at the end, once a barrier packet it sent last has
// been printed: no per-probe start-up, no fixed waits. The rule handles' positions are read
// once per rule set (the lab forgets them when a setup step reloads the pod's rules).
import { spawn, type ChildProcess } from 'node:child_process';
import { execOk, inNetns, systemEnv, exec } from '../exec.ts';
import { TRACE_TABLE, TRACE_TABLE_RULES, traceHasSyn } from '../../probes/kernel-trace.ts';
import { SYN_FILTER, captureHasSyn, tcpdumpArgv } from '../../probes/tcpdump.ts';
import type { Watch, WatchResult, WatchSpec } from '../../run/backend.ts';

/** A long-running program whose standard output is kept as text. */
class Stream {
  text = '';
  err = '';
  private readonly child: ChildProcess;
  private readonly closed: Promise<void>;

  constructor(argv: readonly string[]) {
    this.child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: systemEnv() });
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => (this.text += d));
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.err += d));
    this.closed = new Promise((resolve) => this.child.on('close', () => resolve()));
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Resolves when `ok()` holds (checked on every chunk and every 5 ms), false after `ms`. */
  async until(ok: () => boolean, ms: number): Promise<boolean> {
    const end = performance.now() + ms;
    while (!ok()) {
      if (performance.now() > end || !this.running) return ok();
      await new Promise((r) => setTimeout(r, 5));
    }
    return true;
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (this.running) this.child.kill(signal);
    await this.closed;
  }
}

/** How long a barrier may take to show before the record is read anyway. */
const BARRIER_MS = 3000;

export class PodInstruments {
  private monitor: Stream | undefined;
  private syns: Stream | undefined;
  private ruleset: string | undefined;
  private starting: Promise<void> | undefined;

  constructor(
    private readonly ns: string,
    private readonly where: string,
    private readonly podIp: string,
  ) {}

  /** The pod's rules changed: read the handles' positions again at the next record. */
  forgetRules(): void {
    this.ruleset = undefined;
  }

  private start(): Promise<void> {
    this.starting ??= (async () => {
      await execOk(inNetns(this.ns, ['nft', '-f', '-']), { input: TRACE_TABLE_RULES, where: this.where });
      this.monitor = new Stream(inNetns(this.ns, ['xtables-monitor', '--trace']));
      this.syns = new Stream(inNetns(this.ns, tcpdumpArgv('eth0', SYN_FILTER)));
      const listening = await this.syns.until(() => this.syns!.err.includes('listening on'), 5000);
      if (!listening) throw new Error(`${this.where}: tcpdump did not start: ${this.syns.err.trim()}`);
      // xtables-monitor prints nothing until an event: it listens once a marker SYN shows.
      const at = this.monitor.text.length;
      for (let i = 0; i < 50; i++) {
        await this.marker();
        if (await this.monitor.until(() => traceHasSyn(this.monitor!.text.slice(at), '127.0.0.1', MARKER_PORT), 100)) return;
      }
      throw new Error(`${this.where}: xtables-monitor --trace did not start: ${this.monitor.err.trim()}`);
    })();
    return this.starting;
  }

  /** A SYN to 127.0.0.1 on the discard port, from root: refused at once, traced like every SYN. */
  private async marker(): Promise<void> {
    await exec(inNetns(this.ns, ['nc', '-z', '-w', '1', '127.0.0.1', String(MARKER_PORT)]), { where: this.where, timeoutMs: 3000 });
  }

  async watch(spec: WatchSpec): Promise<Watch> {
    await this.start();
    const monitor = this.monitor!;
    const syns = this.syns!;
    const traceAt = monitor.text.length;
    const synsAt = syns.text.length;
    const captures = await Promise.all(spec.captures.map((c) => this.capture(c.iface, c.filter)));
    return {
      end: async (barrier) => {
        let traceText: string;
        if (barrier) {
          await monitor.until(() => traceHasSyn(monitor.text.slice(traceAt), barrier.dst, barrier.dport), BARRIER_MS);
          // The control leaves on eth0 unless it is for this pod or loopback.
          if (spec.syns && barrier.dst !== this.podIp && !barrier.dst.startsWith('127.')) {
            await syns.until(() => captureHasSyn(syns.text.slice(synsAt), barrier.dst, barrier.dport), BARRIER_MS);
          }
          traceText = monitor.text.slice(traceAt);
        } else {
          const at = monitor.text.length;
          await this.marker();
          await monitor.until(() => traceHasSyn(monitor.text.slice(at), '127.0.0.1', MARKER_PORT), BARRIER_MS);
          traceText = monitor.text.slice(traceAt);
        }
        const texts = await Promise.all(captures.map((c) => c()));
        this.ruleset ??= (await execOk(inNetns(this.ns, ['nft', '-a', 'list', 'ruleset']), { where: this.where })).stdout;
        const result: WatchResult = { trace: traceText, ruleset: this.ruleset, syns: spec.syns ? syns.text.slice(synsAt) : '', captures: texts };
        return result;
      },
    };
  }

  /** One of the probe's own captures: listening when this resolves; the function returned stops it and gives its text. */
  private async capture(iface: string, filter: string): Promise<() => Promise<string>> {
    const s = new Stream(inNetns(this.ns, tcpdumpArgv(iface, filter)));
    if (!(await s.until(() => s.err.includes('listening on'), 5000))) throw new Error(`${this.where}: tcpdump -i ${iface} ${filter} did not start: ${s.err.trim()}`);
    return async () => {
      // The barrier was seen by the other instruments: give this tcpdump a moment to read the
      // last packets, then SIGINT (it prints what it read, and exits).
      await new Promise((r) => setTimeout(r, 50));
      await s.stop('SIGINT');
      return s.text;
    };
  }

  async stop(): Promise<void> {
    await Promise.all([this.monitor?.stop(), this.syns?.stop('SIGINT')]);
    await exec(inNetns(this.ns, ['nft', 'delete', 'table', 'ip', TRACE_TABLE]), { where: this.where });
  }
}

/** The discard port: barrier and marker SYNs go to it (nothing listens there). */
export const MARKER_PORT = 9;
