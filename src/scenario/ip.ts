// IPv4 address and CIDR arithmetic for the scenario checks (pure, no dependencies).

export interface Cidr {
  /** Network address as an unsigned 32-bit number. */
  network: number;
  prefix: number;
  /** The text with host bits cleared, e.g. 10.0.0.0/24 for 10.0.0.6/24. */
  canonical: string;
  /** The text as given had bits set beyond the prefix. */
  hostBits: boolean;
}

export function ipToNumber(ip: string): number | undefined {
  const parts = ip.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return undefined;
    const v = Number(p);
    if (v > 255) return undefined;
    n = n * 256 + v;
  }
  return n;
}

export function numberToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

function mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

export function parseCidr(text: string): Cidr | undefined {
  const [addr, len] = text.split('/');
  if (addr === undefined || len === undefined || !/^\d{1,2}$/.test(len)) return undefined;
  const prefix = Number(len);
  const ip = ipToNumber(addr);
  if (ip === undefined || prefix > 32) return undefined;
  const network = (ip & mask(prefix)) >>> 0;
  return { network, prefix, canonical: `${numberToIp(network)}/${prefix}`, hostBits: network !== ip };
}

/** Do two networks share an address? */
export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  const p = Math.min(a.prefix, b.prefix);
  return ((a.network & mask(p)) >>> 0) === ((b.network & mask(p)) >>> 0);
}

/** The network's own address, its first address (the lab's gateway) and its broadcast address. */
export function reservedAddresses(c: Cidr): { network: string; gateway: string; broadcast: string } {
  const broadcast = (c.network | (~mask(c.prefix) >>> 0)) >>> 0;
  return { network: numberToIp(c.network), gateway: numberToIp(c.network + 1), broadcast: numberToIp(broadcast) };
}

export function cidrContains(c: Cidr, ip: string): boolean {
  const n = ipToNumber(ip);
  return n !== undefined && ((n & mask(c.prefix)) >>> 0) === c.network;
}
