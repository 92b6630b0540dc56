// `ss -ltneH` as a probe: the sockets listening in the pod, with their owner uid. Pure.

export const ssArgv = (): string[] => ['ss', '-ltneH'];

export interface ListeningSocket {
  address: string;
  port: number;
  uid: number;
}

/** Listening TCP sockets from `ss -ltneH` text (State Recv-Q Send-Q Local Peer … uid:N …). */
export function parseSs(text: string): ListeningSocket[] {
  const out: ListeningSocket[] = [];
  for (const line of text.split('\n')) {
    const m = /^\S+\s+\d+\s+\d+\s+(\S+):(\d+)\s+\S+\s+uid:(\d+)/.exec(line.trim());
    if (m) out.push({ address: m[1]!, port: Number(m[2]), uid: Number(m[3]) });
  }
  return out;
}

/** The sockets a probe expects to listen that do not. */
export function listeningProblems(sockets: readonly ListeningSocket[], wants: ReadonlyArray<{ address: string; port: number; uid?: number }>): string[] {
  return wants
    .filter((w) => !sockets.some((s) => s.address === w.address && s.port === w.port && (w.uid === undefined || s.uid === w.uid)))
    .map((w) => `nothing listens on ${w.address}:${w.port}${w.uid !== undefined ? ` as uid ${w.uid}` : ''}`);
}
