// A pod's instruments in the netns lab, started once and kept for the lab's life: the kernel's
// trace of every connection attempt (the trace table TRACE_TABLE_RULES, read by one
// `xtables-monitor --trace`) and a tcpdump of the SYNs that leave on eth0. A probe marks where
// its record begins and reads its slice at the end, once a barrier packet it sent last has
// been printed: no per-probe start-up, no fixed waits. The rule handles' positions are read
// once per rule set (the lab forgets them when a setup step reloads the pod's rules). A probe
// may also ask for a full pcap of the pod (every interface) for its evidence bundle: started
// with the probe's record, complete when the record ends.
import { spawn, type ChildProcess } from 'node:child_process';
import { exec, execOk, inNetns, systemEnv } from '../exec.ts';
import { TRACE_TABLE, TRACE_TABLE_RULES, traceHasSyn } from '../../probes/kernel-trace.ts';
import { CONTROL_PORT, SYN_FILTER, captureHasSyn, pcapArgv, pcapLoss, tcpdumpArgv } from '../../probes/tcpdump.ts';
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
    // A program that cannot start (ENOENT) ends the stream with its reason, never the process.
    this.child.on('error', (e) => (this.err += `${e.message}\n`));
    this.closed = new Promise((resolve) => this.child.on('close', () => resolve()));
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null && this.child.pid !== undefined;
  }

  /** Resolves true when `ok()` holds (polled every 5 ms), false after `ms` or when the program ended without it. */
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

/** How long a barrier may take to show before the record is read anyway (and says so). */
const BARRIER_MS = 3000;

export class PodInstruments {
  private monitor: Stream | undefined;
  private syns: Stream | undefined;
  private ruleset: string | undefined;
  private starting: Promise<void> | undefined;
  /** The probes' own tcpdumps running now (stopped with the instruments, also after a failed probe). */
  private readonly captures = new Set<Stream>();
  /** The full pcaps running now (tcpdump -w), stopped likewise. */
  private readonly pcaps = new Set<Stream>();

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
    this.starting ??= this.startOnce().catch(async (e: unknown) => {
      // A failed start is not kept: stop what began, and let the next probe try again.
      await Promise.all([this.monitor?.stop(), this.syns?.stop('SIGINT')]);
      this.monitor = this.syns = this.starting = undefined;
      throw e;
    });
    return this.starting;
  }

  private async startOnce(): Promise<void> {
    await execOk(inNetns(this.ns, ['nft', '-f', '-']), { input: TRACE_TABLE_RULES, where: this.where });
    this.monitor = new Stream(inNetns(this.ns, ['xtables-monitor', '--trace']));
    this.syns = new Stream(inNetns(this.ns, tcpdumpArgv('eth0', SYN_FILTER)));
    const syns = this.syns;
    if (!(await syns.until(() => syns.err.includes('listening on'), 5000))) throw new Error(`${this.where}: tcpdump did not start: ${syns.err.trim()}`);
    // xtables-monitor prints nothing until an event: it listens once a marker SYN shows.
    const monitor = this.monitor;
    const at = monitor.text.length;
    for (let i = 0; i < 50; i++) {
      await this.marker();
      if (await monitor.until(() => traceHasSyn(monitor.text.slice(at), '127.0.0.1', CONTROL_PORT), 100)) return;
    }
    throw new Error(`${this.where}: xtables-monitor --trace did not start: ${monitor.err.trim()}`);
  }

  /** A SYN to 127.0.0.1 on the discard port, from root: refused at once, traced like every SYN. */
  private async marker(): Promise<void> {
    await exec(inNetns(this.ns, ['nc', '-z', '-w', '1', '127.0.0.1', String(CONTROL_PORT)]), { where: this.where, timeoutMs: 3000 });
  }

  async watch(spec: WatchSpec): Promise<Watch> {
    await this.start();
    const monitor = this.monitor!;
    const syns = this.syns!;
    const traceAt = monitor.text.length;
    const synsAt = syns.text.length;
    const started = await Promise.allSettled(spec.captures.map((c) => this.capture(c.iface, c.filter)));
    const captures = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    // The full pcap: one that does not start is said in the evidence bundle, it fails no probe.
    let pcapNote: string | undefined;
    const pcap = failed || !spec.pcap ? undefined : await this.startPcap(spec.pcap).catch((e: unknown) => void (pcapNote = (e as Error).message));
    const cancel = async () => {
      await Promise.all([...captures.map((c) => this.stopCapture(c)), pcap && this.stopPcap(pcap)]);
    };
    if (failed) {
      await cancel();
      throw failed.reason;
    }
    return {
      cancel,
      end: async (barrier) => {
        const notes: string[] = [];
        const late = (what: string) => notes.push(`${this.where}: ${what} not seen within ${BARRIER_MS / 1000} s: the record may be cut short`);
        // The pcap is complete once it has printed the barrier (or the marker) it wrote just before.
        let pcapAt = 0;
        const pcapBarrier = barrier ?? { dst: '127.0.0.1', dport: CONTROL_PORT };
        if (barrier) {
          if (!(await monitor.until(() => traceHasSyn(monitor.text.slice(traceAt), barrier.dst, barrier.dport), BARRIER_MS))) late(`the trace of the control SYN to ${barrier.dst}:${barrier.dport}`);
          // The control leaves on eth0 unless it is for this pod or loopback.
          if (spec.syns && barrier.dst !== this.podIp && !barrier.dst.startsWith('127.')) {
            if (!(await syns.until(() => captureHasSyn(syns.text.slice(synsAt), barrier.dst, barrier.dport), BARRIER_MS))) late(`the control SYN to ${barrier.dst}:${barrier.dport} on eth0`);
          }
        } else {
          const at = monitor.text.length;
          pcapAt = pcap?.text.length ?? 0;
          await this.marker();
          if (!(await monitor.until(() => traceHasSyn(monitor.text.slice(at), '127.0.0.1', CONTROL_PORT), BARRIER_MS))) late('the trace of the marker SYN');
        }
        if (pcap && !(await pcap.until(() => captureHasSyn(pcap.text.slice(pcapAt), pcapBarrier.dst, pcapBarrier.dport), BARRIER_MS))) {
          pcapNote = `the SYN to ${pcapBarrier.dst}:${pcapBarrier.dport} sent last was not in the pcap within ${BARRIER_MS / 1000} s: it may be cut short`;
        }
        const traceText = monitor.text.slice(traceAt);
        const [texts, loss] = await Promise.all([Promise.all(captures.map((c) => this.stopCapture(c))), pcap && this.stopPcap(pcap)]);
        if (loss) pcapNote = pcapNote ? `${pcapNote}; ${loss}` : loss;
        this.ruleset ??= (await execOk(inNetns(this.ns, ['nft', '-a', 'list', 'ruleset']), { where: this.where })).stdout;
        const result: WatchResult = {
          trace: traceText,
          ruleset: this.ruleset,
          syns: spec.syns ? syns.text.slice(synsAt) : '',
          captures: texts,
          notes,
          ...(pcap && spec.pcap ? { pcap: spec.pcap } : {}),
          ...(pcapNote ? { pcapNote } : {}),
        };
        return result;
      },
    };
  }

  /** A tcpdump of the pod (kept in `running` until stopped), listening when this resolves; one that does not start is stopped and said. */
  private async tcpdump(argv: string[], running: Set<Stream>, stop: (s: Stream) => Promise<unknown>, what: string): Promise<Stream> {
    const s = new Stream(inNetns(this.ns, argv));
    running.add(s);
    if (!(await s.until(() => s.err.includes('listening on'), 5000))) {
      await stop(s);
      throw new Error(`${this.where}: ${what} did not start: ${s.err.trim()}`);
    }
    return s;
  }

  /** The full pcap of the pod into `file`, listening when this resolves. */
  private startPcap(file: string): Promise<Stream> {
    return this.tcpdump(pcapArgv(file), this.pcaps, (s) => this.stopPcap(s), `tcpdump -w ${file}`);
  }

  /** Stops a full pcap: on SIGINT tcpdump writes what it holds and closes the file. Gives what tcpdump says it lost, if anything. */
  private async stopPcap(s: Stream): Promise<string | undefined> {
    this.pcaps.delete(s);
    await s.stop('SIGINT');
    return pcapLoss(s.err);
  }

  /** One of the probe's own captures, listening when this resolves. */
  private capture(iface: string, filter: string): Promise<Stream> {
    return this.tcpdump(tcpdumpArgv(iface, filter), this.captures, (s) => this.stopCapture(s), `tcpdump -i ${iface} ${filter}`);
  }

  /**
   * Stops a probe's capture and gives its text. Its filter may not see the control SYN, so
   * there is no barrier: it stops once its output has been quiet for 150 ms (1.5 s at most);
   * SIGINT makes tcpdump print what it read before it exits.
   */
  private async stopCapture(s: Stream): Promise<string> {
    if (!this.captures.delete(s)) return s.text;
    let seen = -1;
    let quietSince = performance.now();
    await s.until(() => {
      if (s.text.length !== seen) {
        seen = s.text.length;
        quietSince = performance.now();
      }
      return performance.now() - quietSince >= 150;
    }, 1500);
    await s.stop('SIGINT');
    return s.text;
  }

  async stop(): Promise<void> {
    await Promise.all([...[...this.captures].map((c) => this.stopCapture(c)), ...[...this.pcaps].map((p) => this.stopPcap(p))]);
    await Promise.all([this.monitor?.stop(), this.syns?.stop('SIGINT')]);
    await exec(inNetns(this.ns, ['nft', 'delete', 'table', 'ip', TRACE_TABLE]), { where: this.where });
  }
}
