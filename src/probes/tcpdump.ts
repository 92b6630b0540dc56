// tcpdump evidence: `tcpdump -nn -tt -l` text (one line a packet), parsed into packets.
// A capture that saw nothing proves something only beside a positive control: a flow the
// same filter must have seen (see `believeAbsence`). Pure.

export interface Packet {
  time: number;
  /** The interface, when tcpdump ran on `any`. */
  iface?: string;
  direction?: 'In' | 'Out';
  src: string;
  sport: number;
  dst: string;
  dport: number;
  flags: string;
  length: number;
  line: string;
}

/**
 * The discard port (RFC 863): the positive control's SYN goes to the target's address on it,
 * and the netns lab's marker SYNs to 127.0.0.1 on it (nothing listens there).
 */
export const CONTROL_PORT = 9;

/** The capture's filter for connection attempts: SYN without ACK. */
export const SYN_FILTER = 'tcp[tcpflags] & tcp-syn != 0 and tcp[tcpflags] & tcp-ack == 0';

/** argv for a capture: numeric, epoch timestamps, line-buffered, packet-buffered, each packet handed over as it arrives (not when libpcap's buffer times out). */
export function tcpdumpArgv(iface: string, filter: string, opts: { bytes?: boolean } = {}): string[] {
  return ['tcpdump', '-i', iface, '-nn', '-tt', '-l', '-U', '--immediate-mode', ...(opts.bytes ? ['-X'] : []), ...(filter ? [filter] : [])];
}

/**
 * argv for a full capture into a pcap file: every packet on every interface (`-i any`, so the
 * redirect to the sidecar on lo shows too), written packet by packet (`-U`) for `tcpdump -r`
 * and Wireshark, and printed as `tcpdumpArgv` prints (`--print`) so the caller can see what is
 * in the file. `-B 32768` (KiB): in immediate mode each packet can take a block of the capture
 * ring to itself, and with the default 2 MiB a busy machine lost packets mid-connection (the
 * seed 003 400 reply, measured here); `-Z root`: Debian's tcpdump otherwise drops to its own
 * user before it opens the file, and the file would belong to that user.
 */
export function pcapArgv(file: string): string[] {
  return ['tcpdump', '-i', 'any', '-nn', '-tt', '-l', '-U', '--immediate-mode', '-B', '32768', '-Z', 'root', '-w', file, '--print'];
}

/** What a capture lost, from the counts tcpdump prints when it ends (`3 packets dropped by kernel`), or undefined. */
export function pcapLoss(stderr: string): string | undefined {
  const lost = [...stderr.matchAll(/^(\d+) packets? dropped by (kernel|interface)$/gm)].filter((m) => Number(m[1]) > 0);
  return lost.length ? `tcpdump says ${lost.map((m) => `${m[1]} packet(s) dropped by ${m[2]}`).join(', ')}: the pcap lacks them` : undefined;
}

/** The bytes of each packet of a `-X` capture (IP header included), as one hex string per packet. */
export function packetHex(text: string): string[] {
  const packets: string[][] = [];
  for (const line of text.split('\n')) {
    const m = /^\s+0x[0-9a-f]{4}:\s+((?:[0-9a-f]{2,4}\s)+)/.exec(line);
    if (m) packets.at(-1)?.push(m[1]!.replace(/\s/g, ''));
    else if (/^\d+\.\d+\s/.test(line)) packets.push([]);
  }
  return packets.map((p) => p.join(''));
}

const LINE = /^(\d+\.\d+)\s+(?:(\S+)\s+(In|Out|M|B|P)\s+)?IP6?\s+(\S+)\.(\d+) > (\S+)\.(\d+): (?:Flags \[([^\]]*)\])?.*?length (\d+)/;

export function parseTcpdump(text: string): Packet[] {
  const out: Packet[] = [];
  for (const line of text.split('\n')) {
    const m = LINE.exec(line);
    if (!m) continue;
    out.push({
      time: Number(m[1]),
      ...(m[2] ? { iface: m[2] } : {}),
      ...(m[3] === 'In' || m[3] === 'Out' ? { direction: m[3] } : {}),
      src: m[4]!,
      sport: Number(m[5]),
      dst: m[6]!,
      dport: Number(m[7]),
      flags: m[8] ?? '',
      length: Number(m[9]),
      line,
    });
  }
  return out;
}

/** Does the capture text hold a SYN to dst:dport (a barrier: the packets before it were printed)? */
export function captureHasSyn(text: string, dst: string, dport: number): boolean {
  return parseTcpdump(text).some((p) => p.dst === dst && p.dport === dport);
}

export const packetsTo = (packets: Packet[], ip: string, port: number) => packets.filter((p) => p.dst === ip && p.dport === port);

/**
 * "No packet to X" is evidence only if the same capture saw the control flow: otherwise the
 * capture may simply have seen nothing at all (wrong interface, started late).
 */
export function believeAbsence(packets: Packet[], absent: { ip: string; port: number }, control: { ip: string; port: number }):
  | { believed: true }
  | { believed: false; why: string } {
  if (packetsTo(packets, control.ip, control.port).length === 0) {
    return { believed: false, why: `the positive control (${control.ip}:${control.port}) was not seen either: the capture proves nothing` };
  }
  const seen = packetsTo(packets, absent.ip, absent.port);
  return seen.length === 0 ? { believed: true } : { believed: false, why: `${seen.length} packet(s) to ${absent.ip}:${absent.port} were seen: ${seen[0]!.line}` };
}
