// The ports that change from run to run in what a probe sees: a port of the kernel's ephemeral
// range (32768-60999, Linux's default ip_local_port_range) right after an address, as in
// `RemoteAddr=127.0.0.6:59037`. --record cuts a reply before the first; report diff masks each.
const ADDRESS_PORT = /(?:\b(?:\d{1,3}\.){3}\d{1,3}|\[[0-9a-fA-F:.]+\]):(\d{5})\b/g;

/** Where each ephemeral port after an address starts and ends in `text`, in order. */
export function ephemeralPorts(text: string): Array<{ start: number; end: number }> {
  return [...text.matchAll(ADDRESS_PORT)].flatMap((m) => {
    const port = Number(m[1]);
    const end = m.index + m[0].length;
    return port >= 32768 && port <= 60999 ? [{ start: end - m[1]!.length, end }] : [];
  });
}
