// A failed probe's evidence bundle: the files behind its verdict, each in its tool's own format,
// under the run's --out folder in evidence/<scenario>/<probe> (`.without-change` for
// --check-fault's second run). The watched pods' pcaps are recorded while the probe runs
// (WatchSpec.pcap) and deleted when it passes; when it fails, the rest is read right after it:
// each pod's iptables-save (ip6tables-save when it has IPv6 rules), each sidecar's /config_dump
// (what `pathlab proxy-config` reads), the sidecars' access log lines, the kernel trace with the
// ruleset it was read against, and the probe's own command and output. A file that cannot be
// had is never faked: notes.txt says what is missing and why. Files are written through the
// run's EvidenceFolder: the runner opens none itself.
import type { Bundle } from '../paths/verdict.ts';
import type { ProcessResult } from '../probes/process-result.ts';
import type { RunMode } from '../scenario/setup-roles.ts';
import type { AccessLogReader, EvidenceFolder, StartedBackend, WatchResult } from './backend.ts';

/** A name as one path segment: letters, digits, `.`, `_`, `-` kept, anything else `_`; never `.` or `..`, at most 100 characters. */
export function safeName(name: string): string {
  const s = name.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 100);
  return s === '' || /^\.+$/.test(s) ? `_${s}` : s;
}

/** The bundle's folder of a probe, relative to the --out folder. */
export function bundleDir(scenario: string, probe: string, mode: RunMode): string {
  return `evidence/${safeName(scenario)}/${safeName(probe)}${mode === 'without-change' ? '.without-change' : ''}`;
}

/** What a failed probe leaves for its bundle: the lab is read again for the rest. */
export interface BundleInput {
  /** The pods the probe involved, its own first, then the peer's; a meshed one has a sidecar to dump. */
  pods: ReadonlyArray<{ name: string; meshed: boolean }>;
  /** Each watched pod's record (absent when the probe did not get that far). */
  records?: ReadonlyMap<string, WatchResult>;
  /** The sidecars' access logs since the probe began. */
  logs?: ReadonlyArray<{ pod: string; read: AccessLogReader }>;
  /** The probe's own command and what it gave. */
  result?: ProcessResult;
  /** Why the probe could not run, when it could not. */
  error?: string;
}

/** The probe's own run as text: its command, where and as what it ran, its exit, stdout and stderr. */
export function probeText(r: ProcessResult): string {
  const exit = r.spawnError ? `could not start: ${r.spawnError}` : r.timedOut ? `timed out after ${r.durationMs.toFixed(0)} ms` : r.signal ? `signal ${r.signal}` : `exit code ${r.exitCode}`;
  return [
    `argv: ${JSON.stringify(r.argv)}`,
    `where: ${r.where}`,
    `exit: ${exit}`,
    `duration: ${r.durationMs.toFixed(0)} ms`,
    '',
    `--- stdout (${r.stdout.length} characters) ---`,
    r.stdout,
    `--- stderr (${r.stderr.length} characters) ---`,
    r.stderr,
  ].join('\n');
}

/** Each watched pod's kernel trace (xtables-monitor --trace) and the ruleset it was read against. */
export function kernelTraceText(records: ReadonlyMap<string, WatchResult>): string {
  return [...records]
    .map(([pod, r]) => [`### ${pod}: xtables-monitor --trace`, r.trace.trimEnd(), '', `### ${pod}: the ruleset it was read against (nft -a list ruleset)`, r.ruleset.trimEnd(), ''].join('\n'))
    .join('\n');
}

/** Access log entries as JSON lines: the pod, the fields pathlab read, and Envoy's line as written. */
export function accessLogText(logs: ReadonlyArray<{ pod: string; entries: ReadonlyArray<{ line: object; text: string }> }>): string {
  return logs.flatMap(({ pod, entries }) => entries.map((e) => `${JSON.stringify({ pod, ...e.line, text: e.text })}\n`)).join('');
}

/**
 * The pod's interfaces by index, from `ip -o link`: `1 lo, 2 eth0`. A pcap of `-i any` names
 * an interface by its index only, and `tcpdump -r` names it after the reading machine's.
 */
export function interfaceIndexes(ipLink: string): string {
  return [...ipLink.matchAll(/^(\d+):\s+([^:@\s]+)/gm)].map((m) => `${m[1]} ${m[2]}`).join(', ');
}

/** IPv6 rules worth keeping: a rule, or a chain of Istio's. */
const hasRules = (save: string) => /^(-A |:ISTIO)/m.test(save);

/** One probe's bundle folder: made empty when the probe starts, removed when it passes, filled when it fails. */
export class ProbeBundle {
  readonly dir: string;
  /** The pods whose full pcap was asked for, by pod: the file's name in the folder. */
  private readonly pcaps = new Map<string, string>();

  constructor(
    private readonly folder: EvidenceFolder,
    scenario: string,
    probe: string,
    mode: RunMode,
  ) {
    this.dir = bundleDir(scenario, probe, mode);
    // What an earlier run left here is not this probe's.
    folder.remove(this.dir);
  }

  private rel(name: string): string {
    return `${this.dir}/${name}`;
  }

  /** Where a watched pod's full pcap goes (an absolute path, its folder made). */
  pcapFile(pod: string): string {
    this.pcaps.set(pod, `${safeName(pod)}.pcap`);
    return this.folder.pathOf(this.rel(`${safeName(pod)}.pcap`));
  }

  /** The probe passed (or never ran): nothing of it is kept. */
  discard(): void {
    this.folder.remove(this.dir);
  }

  /** Writes the failed probe's bundle; every lab read that fails is a note, never the probe's failure. */
  async keep(lab: Pick<StartedBackend, 'netns' | 'configDump'>, x: BundleInput): Promise<Bundle> {
    const files: Bundle['files'] = [];
    const notes: string[] = [];
    const write = (name: string, text: string, what: string, pod?: string) => {
      this.folder.write(this.rel(name), text);
      files.push({ path: this.rel(name), what, ...(pod === undefined ? {} : { pod }) });
    };
    const tried = async <T>(what: string, f: () => Promise<T>): Promise<T | undefined> => {
      try {
        return await f();
      } catch (e) {
        notes.push(`${what}: ${(e as Error).message.split('\n')[0]}`);
        return undefined;
      }
    };

    // The pcaps: the ones the records say were written; without records (the probe broke), what is there.
    const present = new Set(this.folder.list(this.dir));
    for (const [pod, name] of this.pcaps) {
      const rec = x.records?.get(pod);
      if (rec?.pcapNote) notes.push(`the pcap of ${pod}: ${rec.pcapNote}`);
      const kept = rec?.pcap !== undefined || (!x.records && present.has(name));
      if (!kept) {
        if (present.has(name)) this.folder.remove(this.rel(name));
        continue;
      }
      const links = await tried(`ip -o link in ${pod}`, () => lab.netns(pod, ['ip', '-o', 'link']));
      const indexes = links?.exitCode === 0 ? interfaceIndexes(links.stdout) : '';
      const how = `tcpdump -w${indexes ? `; its interfaces by index: ${indexes}, which tcpdump -r names after the reading machine's` : ''}`;
      files.push({ path: this.rel(name), what: `pcap of ${pod}, all interfaces (${how})${rec?.pcap ? '' : ', up to where the probe broke off'}`, pod });
    }

    for (const { name: pod, meshed } of x.pods) {
      for (const tool of ['iptables-save', 'ip6tables-save'] as const) {
        const r = await tried(`${tool} in ${pod}`, () => lab.netns(pod, [tool]));
        if (!r) continue;
        if (r.exitCode !== 0) notes.push(`${tool} in ${pod}: ${(r.spawnError ?? r.stderr).trim() || `exit code ${r.exitCode}`}`);
        else if (tool === 'iptables-save' || hasRules(r.stdout)) write(`${safeName(pod)}.${tool}.txt`, r.stdout, `${pod}'s ${tool === 'iptables-save' ? 'IPv4' : 'IPv6'} rules right after the probe (${tool})`, pod);
      }
      if (!meshed) continue;
      const dump = await tried(`the config_dump of ${pod}'s sidecar`, () => lab.configDump(pod));
      if (dump !== undefined) write(`${safeName(pod)}.config_dump.json`, `${JSON.stringify(dump, null, 2)}\n`, `${pod}'s sidecar configuration right after the probe (Envoy /config_dump; pathlab proxy-config listeners FILE reads it)`, pod);
    }

    if (x.logs?.length) {
      const logs = [];
      for (const { pod, read } of x.logs) {
        const entries = await tried(`the access log of ${pod}'s sidecar`, () => read.entries());
        if (entries) logs.push({ pod, entries });
      }
      if (logs.length) write('access-log.txt', accessLogText(logs), `the access log lines the sidecars wrote during the probe (${logs.map((l) => l.pod).join(', ')}), one JSON object a line: pod, the fields pathlab read, Envoy's line as written`);
    }

    if (x.records?.size) write('kernel-trace.txt', kernelTraceText(x.records), `the kernel's rule trace of ${[...x.records.keys()].join(', ')} during the probe (xtables-monitor --trace), each with the ruleset it was read against`);

    if (x.result) write('probe.txt', probeText(x.result), "the probe's own run: argv, exit code, stdout, stderr");
    else if (x.error !== undefined) write('probe.txt', `the probe could not run:\n${x.error}\n`, 'why the probe could not run');

    if (notes.length) write('notes.txt', `${notes.join('\n')}\n`, 'what this bundle lacks or may have cut short, and why');
    return { dir: this.dir, files };
  }
}
